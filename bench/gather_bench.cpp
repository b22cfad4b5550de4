// gather-bench N CAP [suspend]: gathers N trivially-completing items with max_concurrency CAP
// (0 = no cap) and prints items/s and the process's peak RSS. With `suspend`, each item first
// goes once through the scheduler (a post), as an item waiting for I/O does. The peer is
// Python's asyncio.gather with a Semaphore over the same N and CAP
// (bench/peers/asyncio_gather.py, `await asyncio.sleep(0)` for `suspend`), run by
// bench/gather.sh.
//
// Last line: `fanout-gather N CAP seconds items_per_s peak_rss_kib`

#include <fanout/core.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ranges>
#include <vector>

namespace asio = boost::asio;

asio::awaitable<long> trivial(const long& x) {
  co_return x + 1;
}

asio::awaitable<long> suspending(const long& x) {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return x + 1;
}

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 4 && std::strcmp(argv[3], "suspend") == 0)) {
    std::fprintf(stderr, "usage: gather-bench N CAP [suspend]\n");
    return 2;
  }
  const bool suspend = argc == 4;
  const long n = std::atol(argv[1]);
  const std::size_t cap = std::strtoul(argv[2], nullptr, 10);

  auto t0 = std::chrono::steady_clock::now();
  auto out = fanout::run_gather(std::views::iota(0L, n), suspend ? suspending : trivial,
                                {.max_concurrency = cap});
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
