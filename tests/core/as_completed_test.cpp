#include <fanout/core/as_completed.hpp>

#include "support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <ranges>
#include <set>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;

TEST_CASE("as_completed yields every index exactly once, in completion order") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  const int n = 20;
  // Item x finishes only once every later item has reached the consumer, so the completion
  // order is n-1, ..., 0 whatever the scheduling (timers 15 ms apart were not, on a loaded
  // machine under ASan). A stream that held items back would make them wait out the bound.
  std::atomic<int> received{0};
  auto work = [&](const int& x) -> asio::awaitable<int> {
    auto const until = std::chrono::steady_clock::now() + 10s;
    while (received.load() < n - 1 - x && std::chrono::steady_clock::now() < until)
      co_await sleep_for(1ms);
    if (x == 3) throw std::runtime_error("three");
    co_return x* x;
  };
  auto ids = iota_vector(n);
  auto order = run_on(threads, [&](auto) -> asio::awaitable<std::vector<std::size_t>> {
    std::vector<std::size_t> order;
    auto stream = fanout::as_completed(ids, work);
    while (auto done = co_await stream.next()) {
      if (done->index == 3) {
        CHECK_FALSE(done->result);
        CHECK(done->result.error().message() == "three");
      } else {
        REQUIRE(done->result);
        CHECK(*done->result == static_cast<int>(done->index * done->index));
      }
      order.push_back(done->index);
      received.fetch_add(1);
    }
    CHECK_FALSE(co_await stream.next());  // stays exhausted
    co_return order;
  });
  REQUIRE(order.size() == static_cast<std::size_t>(n));
  std::set<std::size_t> unique(order.begin(), order.end());
  CHECK(unique.size() == static_cast<std::size_t>(n));
  // Completion order: the last item first.
  std::vector<std::size_t> reversed(n);
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  CHECK(order == reversed);
}

TEST_CASE("as_completed respects the cap and starts nothing before the first next()") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(std::chrono::milliseconds(1 + pseudo_random(x) % 4));
    co_return x;
  };
  auto count = run_on(threads, [&](auto) -> asio::awaitable<int> {
    auto stream = fanout::as_completed(std::views::iota(0, 100), work, {.max_concurrency = 8});
    co_await sleep_for(20ms);
    CHECK(running.created == 0);  // lazy until next()
    int count = 0;
    while (auto done = co_await stream.next()) {
      CHECK(done->result);
      ++count;
    }
    co_return count;
  });
  CHECK(count == 100);
  CHECK(running.peak <= 8);
  CHECK(running.peak == 8);
  CHECK(running.live == 0);
}

TEST_CASE("destroying an unfinished stream cancels what is still running") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter running;
  std::atomic<int> completed_normally{0};
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(x == 0 ? 1ms : 30s);
    ++completed_normally;
    co_return x;
  };
  auto started = std::chrono::steady_clock::now();
  run_on(threads, [&](auto) -> asio::awaitable<void> {
    auto stream = fanout::as_completed(iota_vector(50), work, {.max_concurrency = 5});
    auto first = co_await stream.next();
    REQUIRE(first);
    CHECK(first->index == 0);
  });  // the io_context only returns once the cancelled items have ended
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(completed_normally == 1);
  CHECK(running.live == 0);
}

TEST_CASE("cancelling a pending next() stops the stream; the rest report cancelled") {
  using namespace asio::experimental::awaitable_operators;
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(30s);
    co_return x;
  };
  auto outcome = run_on(1, [&](auto) -> asio::awaitable<std::vector<fanout::errc>> {
    auto stream = fanout::as_completed(iota_vector(6), work, {.max_concurrency = 2});
    auto raced = co_await (stream.next() || sleep_for(50ms));
    CHECK(raced.index() == 1);
    std::vector<fanout::errc> codes;
    while (auto done = co_await stream.next()) {
      REQUIRE_FALSE(done->result);
      codes.push_back(static_cast<fanout::errc>(done->result.error().code().value()));
    }
    co_return codes;
  });
  // The cancelled next() may already have taken one outcome; every other item follows.
  CHECK(outcome.size() >= 5);
  for (auto c : outcome) CHECK(c == fanout::errc::cancelled);
  CHECK(running.live == 0);
}

TEST_CASE("as_completed: a slow consumer holds back items that complete inline") {
  const std::size_t cap = 4;
  int started = 0;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    ++started;
    co_return x;
  };
  auto yielded = run_on(1, [&](auto) -> asio::awaitable<int> {
    auto stream = fanout::as_completed(std::views::iota(0, 500), work, {.max_concurrency = cap});
    int yielded = 0;
    while (auto done = co_await stream.next()) {
      ++yielded;
      // Running ahead is bounded: `cap` outcomes waiting, and at most `cap` items running.
      CHECK(started <= yielded + static_cast<int>(2 * cap));
      co_await sleep_for(0ms);  // the consumer is slower than the items
    }
    co_return yielded;
  });
  CHECK(yielded == 500);
  CHECK(started == 500);
}
