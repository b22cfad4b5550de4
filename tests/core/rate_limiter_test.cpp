#include <fanout/core/rate_limiter.hpp>

#include <fanout/core/gather.hpp>

#include "support.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include <limits>
#include <ranges>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST_CASE("the rate limiter lets a burst through, then paces the rest at the rate") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  std::vector<clock_type::time_point> starts;
  std::mutex m;
  auto started = clock_type::now();
  clock_type::time_point made;
  auto out = run_on(threads, [&](auto ex) -> asio::awaitable<std::vector<fanout::result<int>>> {
    made = clock_type::now();  // the bucket starts full when the limiter is made
    fanout::async_rate_limiter limiter(ex, {.requests_per_second = 50, .burst = 5});
    auto paced = [&](const int& x) -> asio::awaitable<int> {
      co_await limiter.acquire();
      std::lock_guard lock(m);
      starts.push_back(clock_type::now());
      co_return x;
    };
    co_return co_await fanout::gather(std::views::iota(0, 55), paced);
  });
  auto elapsed = clock_type::now() - started;
  CHECK(out.size() == 55);
  for (auto& r : out) CHECK(r);
  // 5 at once, then 50 more at 50 per second: 1 s. Timers never fire early, so the lower
  // bound is exact; the upper one is generous for a loaded machine.
  CHECK(elapsed >= 990ms);
  CHECK(elapsed < 3s);
  std::sort(starts.begin(), starts.end());
  CHECK(starts[4] - starts[0] < 50ms);  // the burst
  // The 55th token is due 1 s after the bucket was made full (not after the first start, which
  // may come later on a loaded or sanitized run).
  CHECK(starts[54] - made >= 990ms);
}

TEST_CASE("rate limiter waiters are served in order and can be cancelled") {
  using namespace asio::experimental::awaitable_operators;
  run_on(1, [](auto ex) -> asio::awaitable<void> {
    fanout::async_rate_limiter limiter(ex, {.requests_per_second = 20, .burst = 1});
    CHECK(limiter.try_acquire());
    CHECK_FALSE(limiter.try_acquire());
    // Waits 50 ms for the next token, but gives up after 10 ms.
    auto raced = co_await (limiter.acquire() || sleep_for(10ms));
    CHECK(raced.index() == 1);
    CHECK(limiter.waiting() == 0);
    std::vector<int> order;
    int finished = 0;
    for (int i = 0; i < 3; ++i) {
      asio::co_spawn(
          ex,
          [&, i]() -> asio::awaitable<void> {
            co_await sleep_for(std::chrono::milliseconds(i));
            co_await limiter.acquire();
            order.push_back(i);
            ++finished;
          },
          asio::detached);
    }
    while (finished < 3) co_await sleep_for(5ms);
    CHECK(order == std::vector<int>{0, 1, 2});
  });
}

TEST_CASE("an unlimited rate never waits") {
  run_on(1, [](auto ex) -> asio::awaitable<void> {
    fanout::async_rate_limiter limiter(ex, {});
    auto t0 = clock_type::now();
    for (int i = 0; i < 10'000; ++i) co_await limiter.acquire();
    CHECK(clock_type::now() - t0 < 5s);
    CHECK(limiter.try_acquire());
  });
}

TEST_CASE("cancel() completes every queued wait with operation_aborted; the limiter stays usable") {
  run_on(1, [](auto ex) -> asio::awaitable<void> {
    fanout::async_rate_limiter limiter(ex, {.requests_per_second = 0.5, .burst = 1});
    CHECK(limiter.try_acquire());  // the next token is 2 s away
    std::vector<boost::system::error_code> codes;
    for (int i = 0; i < 3; ++i)
      limiter.acquire([&](boost::system::error_code ec) { codes.push_back(ec); });
    CHECK(limiter.waiting() == 3);
    auto t0 = clock_type::now();
    limiter.cancel();
    while (codes.size() < 3 && clock_type::now() - t0 < 5s) co_await sleep_for(1ms);
    CHECK(clock_type::now() - t0 < 1s);
    REQUIRE(codes.size() == 3);
    for (auto& ec : codes) CHECK(ec == asio::error::operation_aborted);
    CHECK(limiter.waiting() == 0);
    // Still a limiter: no token yet, and a new wait is served when one is due.
    CHECK_FALSE(limiter.try_acquire());
    boost::system::error_code later = asio::error::would_block;
    limiter.acquire([&](boost::system::error_code ec) { later = ec; });
    while (later == asio::error::would_block && clock_type::now() - t0 < 5s)
      co_await sleep_for(10ms);
    CHECK_FALSE(later);
    CHECK(clock_type::now() - t0 >= 1500ms);
  });
}

TEST_CASE("an impossible rate is refused when the limiter is made, naming the option") {
  asio::io_context io;
  // 1e-12 per second is a wait of 1e12 s per token, which overflowed the timer's duration.
  for (double rate : {-1.0, 1e-12, std::numeric_limits<double>::quiet_NaN(),
                      std::numeric_limits<double>::infinity()}) {
    INFO(rate);
    CHECK_THROWS_WITH(fanout::async_rate_limiter(io.get_executor(), {.requests_per_second = rate}),
                      Catch::Contains("rate_limit.requests_per_second"));
  }
  CHECK_NOTHROW(fanout::async_rate_limiter(io.get_executor(), {.requests_per_second = 0}));
  CHECK_NOTHROW(fanout::async_rate_limiter(
      io.get_executor(), {.requests_per_second = fanout::rate_limit::min_requests_per_second}));
}
