#include <fanout/core/retry.hpp>

#include "support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include <random>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST_CASE("backoff doubles up to the ceiling, and full jitter stays below it") {
  std::minstd_rand random(42);
  fanout::retry_policy fixed{
      .max_attempts = 10, .initial_backoff = 100ms, .max_backoff = 1s, .jitter = 0};
  CHECK(fanout::backoff_delay(fixed, 1, random) == 100ms);
  CHECK(fanout::backoff_delay(fixed, 2, random) == 200ms);
  CHECK(fanout::backoff_delay(fixed, 4, random) == 800ms);
  CHECK(fanout::backoff_delay(fixed, 5, random) == 1s);
  CHECK(fanout::backoff_delay(fixed, 60, random) == 1s);

  fanout::retry_policy jittered = fixed;
  jittered.jitter = 1;
  bool varied = false;
  auto first = fanout::backoff_delay(jittered, 3, random);
  for (int i = 0; i < 200; ++i) {
    auto d = fanout::backoff_delay(jittered, 3, random);
    CHECK(d >= 0ms);
    CHECK(d <= 400ms);
    varied = varied || d != first;
  }
  CHECK(varied);
}

TEST_CASE("with_retry tries again until success and reports the last outcome") {
  int calls = 0;
  std::vector<std::size_t> seen_attempts;
  auto outcome = run_on(1, [&](auto) -> asio::awaitable<fanout::result<int>> {
    co_return co_await fanout::with_retry(
        fanout::retry_policy{.max_attempts = 5, .initial_backoff = 10ms, .jitter = 0},
        [&]() -> asio::awaitable<fanout::result<int>> {
          if (++calls < 3) co_return fanout::error(fanout::errc::timeout);
          co_return 7;
        },
        [&](const fanout::result<int>& r,
            std::size_t attempts) -> std::optional<std::chrono::milliseconds> {
          seen_attempts.push_back(attempts);
          if (r) return std::nullopt;
          return 0ms;  // the policy's backoff
        });
  });
  REQUIRE(outcome);
  CHECK(*outcome == 7);
  CHECK(calls == 3);
  // decide sees successes too (an HTTP 503 is a successful exchange that may deserve a retry).
  CHECK(seen_attempts == std::vector<std::size_t>{1, 2, 3});
}

TEST_CASE("with_retry stops when told to, and after max_attempts") {
  int calls = 0;
  auto never = [&]() -> asio::awaitable<fanout::result<int>> {
    ++calls;
    co_return fanout::error(fanout::errc::exception, "no");
  };
  auto outcome = run_on(1, [&](auto) -> asio::awaitable<fanout::result<int>> {
    co_return co_await fanout::with_retry(
        {.max_attempts = 4, .initial_backoff = 1ms}, never,
        [](const fanout::result<int>&, std::size_t) -> std::optional<std::chrono::milliseconds> {
          return 0ms;
        });
  });
  CHECK_FALSE(outcome);
  CHECK(calls == 4);

  calls = 0;
  run_on(1, [&](auto) -> asio::awaitable<void> {
    (void)co_await fanout::with_retry(
        {.max_attempts = 4}, never,
        [](const fanout::result<int>&, std::size_t) -> std::optional<std::chrono::milliseconds> {
          return std::nullopt;  // e.g. a POST: not safe to repeat
        });
  });
  CHECK(calls == 1);
}

TEST_CASE("a server's wait is honoured but capped by max_backoff") {
  int calls = 0;
  auto started = clock_type::now();
  run_on(1, [&](auto) -> asio::awaitable<void> {
    (void)co_await fanout::with_retry(
        {.max_attempts = 2, .max_backoff = 150ms},
        [&]() -> asio::awaitable<fanout::result<int>> {
          if (++calls == 1) co_return fanout::error(fanout::errc::timeout, "429");
          co_return 1;
        },
        [](const fanout::result<int>& r, std::size_t) -> std::optional<std::chrono::milliseconds> {
          if (r) return std::nullopt;
          return 60s;  // "Retry-After: 60"
        });
  });
  auto elapsed = clock_type::now() - started;
  CHECK(calls == 2);
  CHECK(elapsed >= 150ms);
  CHECK(elapsed < 10s);
}

TEST_CASE("cancellation interrupts a backoff at once") {
  using namespace asio::experimental::awaitable_operators;
  int calls = 0;
  auto started = clock_type::now();
  run_on(1, [&](auto) -> asio::awaitable<void> {
    auto raced = co_await (
        fanout::with_retry(
            {.max_attempts = 3, .initial_backoff = 30s, .max_backoff = 30s, .jitter = 0},
            [&]() -> asio::awaitable<fanout::result<int>> {
              ++calls;
              co_return fanout::error(fanout::errc::timeout);
            },
            [](const fanout::result<int>&,
               std::size_t) -> std::optional<std::chrono::milliseconds> { return 0ms; }) ||
        sleep_for(50ms));
    CHECK(raced.index() == 1);
  });
  CHECK(calls == 1);
  CHECK(clock_type::now() - started < 10s);
}
