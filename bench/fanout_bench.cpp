// fanout-bench URL N C [--threads T] [--cacert FILE]: N GETs of URL through one fanout::session
// via gather with max_concurrency C (and C connections per host), every body kept in the results
// as a user would. The peers (curl-multi, wrk) run beside it in bench/compare.sh.
//
// Before the last line: `allocations_per_request A`: heap allocations of the whole run divided by
// N, counted at malloc itself (this binary interposes glibc's malloc family), so that Asio's
// recycled frames (aligned_alloc), OpenSSL and the C++ runtime all count, not only operator new.
// Last line, exactly:
//   fanout N C seconds req_per_s errors
// (seconds from the first request to the last answer; errors = transport errors plus non-2xx).
// Exit status non-zero when errors > 0.

#include <fanout/fanout.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

namespace {
std::atomic<std::size_t> allocations{0};
void count() noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

#if defined(__GLIBC__)
// glibc's own entry points, which the interposed functions below forward to.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
  count();
  return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
  count();
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  count();
  return __libc_memalign(align, n);
}
void* memalign(std::size_t align, std::size_t n) {
  count();
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  count();
  *out = __libc_memalign(align, n);
  return *out ? 0 : ENOMEM;
}
}
#else
// Elsewhere only operator new is seen: the figure is then a lower bound.
void* operator new(std::size_t n) {
  count();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#endif

namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: fanout-bench URL N C [--threads T] [--cacert FILE]\n");
    return 2;
  }
  const std::string url = argv[1];
  const std::size_t n = std::strtoul(argv[2], nullptr, 10);
  const std::size_t c = std::strtoul(argv[3], nullptr, 10);
  int threads = 1;
  std::string cacert;
  for (int i = 4; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--cacert")
      cacert = argv[i + 1];
  }
  if (n == 0 || c == 0 || threads < 1) {
    std::fprintf(stderr, "fanout-bench: N, C and T must be positive\n");
    return 2;
  }

  asio::io_context ctx(threads);
  fanout::session http(ctx,
                       {.max_connections_per_host = c, .max_connections = c, .ca_file = cacert});
  std::vector<fanout::result<fanout::response>> responses;
  std::chrono::steady_clock::time_point t0, t1;
  std::size_t allocations_before = 0, allocations_after = 0;

  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        // The same URL N times: an index range, not N copies of the string held for the run
        // (curl-multi holds one URL too).
        auto get = [&](std::size_t) { return http.get(url); };
        allocations_before = allocations.load();
        t0 = std::chrono::steady_clock::now();
        responses = co_await fanout::gather(std::views::iota(std::size_t{0}, n), get,
                                            {.max_concurrency = c});
        t1 = std::chrono::steady_clock::now();
        allocations_after = allocations.load();
        http.close();
      },
      [](std::exception_ptr ep) {
        if (ep) std::rethrow_exception(ep);
      });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ctx.run(); });
  ctx.run();
  for (auto& t : pool) t.join();

  std::size_t errors = 0;
  for (auto& r : responses)
    if (!r || !r->ok()) ++errors;
  if (!responses.empty() && !responses.front())
    std::fprintf(stderr, "first error: %s\n", responses.front().error().message().c_str());
  const double seconds = std::chrono::duration<double>(t1 - t0).count();
  std::printf("connections_opened %zu\n", http.stats().connections_opened);
  std::printf("allocations_per_request %.1f\n",
              double(allocations_after - allocations_before) / double(n));
  std::printf("fanout %zu %zu %.3f %.0f %zu\n", n, c, seconds, double(n) / seconds, errors);
  return errors == 0 ? 0 : 1;
}
