// Lifetimes and threads at the edges of the core: what a run or a wait may still touch after the
// caller moved on, and calls that race from other threads. Run under AddressSanitizer and
// ThreadSanitizer in CI; the assertions below also catch the bugs without them.
#include <fanout/core/as_completed.hpp>
#include <fanout/core/gather.hpp>
#include <fanout/core/rate_limiter.hpp>
#include <fanout/core/semaphore.hpp>

#include "support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;

namespace {

// Goes through the scheduler a few times: the item is suspended while others run.
asio::awaitable<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) co_await asio::post(asio::use_awaitable);
}

}  // namespace

TEST_CASE("gather rethrows a throwing input range only once no item is running") {
  // Element 6 throws. Items refer to their element (in the caller's vector) and to a vector in
  // the caller's frame, both gone once gather has thrown and the caller returned.
  const std::size_t cap = GENERATE(1, 4, 0);
  INFO("cap " << cap);
  live_counter items;  // outlives the run: the check that needs no sanitizer
  int running_at_throw = -1;
  bool caught = false;
  run_on(1, [&](auto) -> asio::awaitable<void> {
    std::vector<std::string> names;
    for (int i = 0; i < 12; ++i) names.push_back("element number " + std::to_string(i));
    std::vector<std::size_t> seen;  // in this frame
    auto inputs = names | std::views::transform([&](std::string& s) -> std::string& {
                    if (&s == &names[6]) throw std::out_of_range("no element 6");
                    return s;
                  });
    auto work = [&](const std::string& s) -> asio::awaitable<std::size_t> {
      live_counter::token t(items);
      co_await yield_times(3);
      seen.push_back(s.size());
      co_return s.size();
    };
    try {
      co_await fanout::gather(inputs, work, {.max_concurrency = cap});
    } catch (const std::out_of_range& e) {
      caught = std::string(e.what()) == "no element 6";
      running_at_throw = items.live;
    }
  });
  CHECK(caught);
  CHECK(running_at_throw == 0);
  CHECK(items.live == 0);
  CHECK(items.created == 6);  // elements 0 to 5, whatever the cap
}

TEST_CASE("a stream rethrows a throwing input range once its running items have ended") {
  const std::size_t cap = GENERATE(1, 4, 0);
  INFO("cap " << cap);
  live_counter items;
  int running_at_throw = -1;
  std::vector<std::size_t> yielded_after;
  run_on(1, [&](auto) -> asio::awaitable<void> {
    auto inputs = std::views::iota(0, 12) | std::views::transform([](int i) {
                    if (i == 6) throw std::out_of_range("no element 6");
                    return i;
                  });
    auto work = [&](const int& x) -> asio::awaitable<int> {
      live_counter::token t(items);
      co_await yield_times(3);
      co_return x;
    };
    auto stream = fanout::as_completed(inputs, work, {.max_concurrency = cap});
    try {
      while (co_await stream.next()) {
      }
    } catch (const std::out_of_range&) {
      running_at_throw = items.live;
    }
    // After the exception the stream takes no more elements: the outcomes it still holds, then
    // the end.
    while (auto done = co_await stream.next()) yielded_after.push_back(done->index);
  });
  CHECK(running_at_throw == 0);
  CHECK(items.live == 0);
  for (auto i : yielded_after) CHECK(i < 6);
}

TEST_CASE("a semaphore wait made before the semaphore is destroyed fails when awaited") {
  // The awaitable is lazy: its initiation runs at co_await, after the object is gone.
  auto outcome = run_on(1, [](auto ex) -> asio::awaitable<boost::system::error_code> {
    auto sem = std::make_unique<fanout::async_semaphore>(ex, 1);
    auto wait = sem->acquire(asio::as_tuple(asio::use_awaitable));
    sem.reset();
    auto [ec, permit] = co_await std::move(wait);
    CHECK_FALSE(permit);
    co_return ec;
  });
  CHECK(outcome == asio::error::operation_aborted);
}

TEST_CASE("a permit given back after its semaphore is destroyed goes nowhere and is safe") {
  auto outcome = run_on(1, [](auto ex) -> asio::awaitable<std::size_t> {
    auto sem = std::make_unique<fanout::async_semaphore>(ex, 1);
    auto permit = co_await sem->acquire();
    auto wait = sem->acquire(asio::as_tuple(asio::use_awaitable));
    sem.reset();
    permit.release();
    auto [ec, late] = co_await std::move(wait);
    co_return ec == asio::error::operation_aborted && !late ? 1 : 0;
  });
  CHECK(outcome == 1);
}

TEST_CASE("a rate limiter wait made before the limiter is destroyed fails when awaited") {
  auto outcome = run_on(1, [](auto ex) -> asio::awaitable<boost::system::error_code> {
    auto limiter = std::make_unique<fanout::async_rate_limiter>(
        ex, fanout::rate_limit{.requests_per_second = 1000, .burst = 1});
    auto wait = limiter->acquire(asio::as_tuple(asio::use_awaitable));
    limiter.reset();
    auto [ec] = co_await std::move(wait);
    co_return ec;
  });
  CHECK(outcome == asio::error::operation_aborted);
}

TEST_CASE("cancelling a stream from another thread while its first next() starts it is safe",
          "[threads]") {
  // cancel() may be called from any thread; here it races start() (the first next()), which
  // binds the run to its strand. A cancel that comes first still stops the run.
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    asio::io_context ctx;  // outlives the stream, whose run holds a strand of it
    auto work = [](const int& x) -> asio::awaitable<int> {
      co_await yield_times(2);
      co_return 2 * x;
    };
    auto stream = fanout::as_completed(iota_vector(8), work);
    std::vector<fanout::result<int>> out(8, fanout::result<int>(boost::system::in_place_error));
    std::atomic<bool> go{false};
    std::thread canceller([&] {
      while (!go.load()) {
      }
      stream.cancel();
    });
    bool finished = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          go = true;
          while (auto done = co_await stream.next()) out.at(done->index) = std::move(done->result);
          finished = true;
        },
        asio::detached);
    ctx.run();
    canceller.join();
    REQUIRE(finished);
    for (std::size_t i = 0; i < out.size(); ++i) {
      INFO("item " << i);
      if (out[i])
        CHECK(*out[i] == 2 * static_cast<int>(i));
      else
        CHECK(out[i].error().code() == fanout::errc::cancelled);
    }
  }
}

TEST_CASE("a stream cancelled before its first next() yields every item as cancelled") {
  asio::io_context ctx;
  auto work = [](const int& x) -> asio::awaitable<int> { co_return x; };
  auto stream = fanout::as_completed(iota_vector(5), work);
  stream.cancel();
  std::vector<std::size_t> cancelled, succeeded;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        while (auto done = co_await stream.next()) {
          if (!done->result && done->result.error().code() == fanout::errc::cancelled)
            cancelled.push_back(done->index);
          else
            succeeded.push_back(done->index);
        }
      },
      asio::detached);
  ctx.run();
  CHECK(cancelled.size() == 5);
  CHECK(succeeded.empty());
}
