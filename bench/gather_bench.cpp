// gather-bench N CAP: gathers N trivially-completing items with max_concurrency CAP (0 = no cap)
// and prints items/s and the process's peak RSS. The peer is Python's asyncio.gather with a
// Semaphore over the same N and CAP (bench/peers/asyncio_gather.py), run by bench/gather.sh.
//
// Last line: `fanout-gather N CAP seconds items_per_s peak_rss_kib`

#include <fanout/core.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ranges>
#include <vector>

namespace asio = boost::asio;

asio::awaitable<long> trivial(const long& x) {
  co_return x + 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: gather-bench N CAP\n");
    return 2;
  }
  const long n = std::atol(argv[1]);
  const std::size_t cap = std::strtoul(argv[2], nullptr, 10);

  auto t0 = std::chrono::steady_clock::now();
  auto out = fanout::run_gather(std::views::iota(0L, n), trivial, {.max_concurrency = cap});
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  long errors = 0;
  for (long i = 0; i < n; ++i)
    if (!out[i] || *out[i] != i + 1) ++errors;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("fanout-gather %ld %zu %.3f %.0f %ld\n", n, cap, seconds, double(n) / seconds,
              usage.ru_maxrss);
  return errors == 0 ? 0 : 1;
}
