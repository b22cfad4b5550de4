#ifndef FANOUT_TESTS_CORE_SUPPORT_HPP
#define FANOUT_TESTS_CORE_SUPPORT_HPP

// Helpers for the core tests: run a coroutine on a chosen executor, sleep, count live items.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fanout::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// How many threads run the io_context: the suite runs on one and on two.
inline std::string describe_threads(int threads) {
  return threads == 1 ? "single-threaded io_context" : "io_context run by 2 threads";
}

/// Runs `make(executor)` to completion on an io_context run by `threads` threads; returns its
/// value or rethrows. The io_context runs until it has no work left, so anything the coroutine
/// left behind (a leaked item, a pending timer) must also finish for this to return.
template <class Make>
auto run_on(int threads, Make make) {
  asio::io_context ctx(threads);
  using awaitable_type = decltype(make(ctx.get_executor()));
  using value_type = typename awaitable_type::value_type;
  std::promise<value_type> promise;
  auto future = promise.get_future();
  if constexpr (std::is_void_v<value_type>) {
    asio::co_spawn(ctx, make(ctx.get_executor()), [&](std::exception_ptr ep) {
      if (ep)
        promise.set_exception(ep);
      else
        promise.set_value();
    });
  } else {
    asio::co_spawn(ctx, make(ctx.get_executor()), [&](std::exception_ptr ep, value_type v) {
      if (ep)
        promise.set_exception(ep);
      else
        promise.set_value(std::move(v));
    });
  }
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back([&] { ctx.run(); });
  ctx.run();
  for (auto& t : extra) t.join();
  return future.get();
}

/// Suspends the calling coroutine for `d` (cancellable: throws operation_aborted).
inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

/// Counts live objects and the peak: put one in an item's coroutine frame to measure how many
/// items exist at once.
struct live_counter {
  std::atomic<int> live{0};
  std::atomic<int> peak{0};
  std::atomic<int> created{0};

  struct token {
    live_counter* owner;
    explicit token(live_counter& c) : owner(&c) {
      ++owner->created;
      int now = ++owner->live;
      int seen = owner->peak.load();
      while (now > seen && !owner->peak.compare_exchange_weak(seen, now)) {
      }
    }
    token(const token&) = delete;
    token& operator=(const token&) = delete;
    ~token() { --owner->live; }
  };
};

/// A small deterministic pseudo-random sequence (so failures reproduce).
inline unsigned pseudo_random(unsigned i) {
  unsigned x = i * 2654435761u + 12345u;
  x ^= x >> 13;
  x *= 0x5bd1e995u;
  x ^= x >> 15;
  return x;
}

}  // namespace fanout::test

#endif
