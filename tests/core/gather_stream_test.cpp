#include <fanout/core/gather_stream.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <ranges>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;

TEST_CASE("gather_stream yields in input order under random completion times") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  auto work = [](const int& x) -> asio::awaitable<int> {
    co_await sleep_for(std::chrono::milliseconds(pseudo_random(x) % 10));
    if (x == 17) throw std::runtime_error("seventeen");
    co_return -x;
  };
  auto seen = run_on(threads, [&](auto) -> asio::awaitable<std::vector<std::size_t>> {
    std::vector<std::size_t> seen;
    auto stream = fanout::gather_stream(std::views::iota(0, 200), work, {.max_concurrency = 16});
    while (auto done = co_await stream.next()) {
      if (done->index == 17)
        CHECK(done->result.error().message() == "seventeen");
      else
        CHECK(*done->result == -static_cast<int>(done->index));
      seen.push_back(done->index);
    }
    co_return seen;
  });
  REQUIRE(seen.size() == 200);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i);
}

TEST_CASE("gather_stream bounds the reorder window behind a slow item") {
  live_counter started;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(started);
    co_await sleep_for(x == 0 ? 300ms : 1ms);  // the head of the line is slow
    co_return x;
  };
  std::size_t started_before_first = 0;
  auto count = run_on(1, [&](auto) -> asio::awaitable<int> {
    auto stream =
        fanout::gather_stream(std::views::iota(0, 1000), work, {.max_concurrency = 4}, 10);
    int count = 0;
    while (auto done = co_await stream.next()) {
      if (count == 0) started_before_first = static_cast<std::size_t>(started.created.load());
      CHECK(done->index == static_cast<std::size_t>(count));
      ++count;
    }
    co_return count;
  });
  CHECK(count == 1000);
  // While item 0 ran, no more than the window (10 items) could start.
  CHECK(started_before_first <= 10);
  CHECK(started_before_first >= 4);
  CHECK(started.peak <= 4);
}

TEST_CASE("gather_stream starts output before a single-pass input ends") {
  int pulled = 0;
  auto lines = std::views::iota(0, 100'000) | std::views::transform([&](int i) {
                 ++pulled;  // counts how much of the input has been read
                 return i;
               });
  auto work = [](const int& x) -> asio::awaitable<int> { co_return x; };
  int pulled_at_first = -1;
  run_on(1, [&](auto) -> asio::awaitable<void> {
    auto stream = fanout::gather_stream(lines, work, {.max_concurrency = 8});
    int n = 0;
    while (auto done = co_await stream.next()) {
      if (pulled_at_first < 0) pulled_at_first = pulled;
      ++n;
    }
    CHECK(n == 100'000);
  });
  CHECK(pulled_at_first <= 32);  // 4 x the cap, not the whole input
}

TEST_CASE("gather_stream with fail_fast reports the rest as cancelled, in order") {
  auto work = [](const int& x) -> asio::awaitable<int> {
    co_await sleep_for(x == 3 ? 5ms : 30s);
    if (x == 3) throw std::runtime_error("three");
    co_return x;
  };
  auto codes = run_on(1, [&](auto) -> asio::awaitable<std::vector<std::string>> {
    std::vector<std::string> codes;
    auto stream = fanout::gather_stream(std::views::iota(0, 50), work,
                                        {.max_concurrency = 5, .fail_fast = true});
    while (auto done = co_await stream.next()) {
      CHECK(done->index == codes.size());
      codes.push_back(done->result ? "ok" : done->result.error().message());
    }
    co_return codes;
  });
  REQUIRE(codes.size() == 50);
  CHECK(codes[3] == "three");
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (i != 3) CHECK(codes[i].find("cancelled") == 0);
}

TEST_CASE("cancel() reaches a stream whose items complete inline, between two of them") {
  // The consumer cancels the stream from inside on_result, as another thread would: the request
  // is posted to the strand and lands when a worker yields, so the rest report cancelled. (With
  // a cap: with none, fill() would start every item at once, before anything else can run.)
  std::function<void()> cancel_stream;
  std::size_t cancelled_at = 0;
  auto work = [](const int& x) -> asio::awaitable<int> { co_return x; };
  auto codes = run_on(1, [&](auto) -> asio::awaitable<std::vector<bool>> {
    auto stream = fanout::gather_stream(std::views::iota(0, 10'000), work,
                                        {.max_concurrency = 4,
                                         .on_result =
                                             [&](std::size_t i, const fanout::error*) {
                                               if (i == 100 && cancel_stream) {
                                                 cancelled_at = i;
                                                 cancel_stream();
                                               }
                                             }},
                                        20'000);
    cancel_stream = [&] { stream.cancel(); };
    std::vector<bool> ok;
    while (auto done = co_await stream.next()) ok.push_back(done->result.has_value());
    co_return ok;
  });
  REQUIRE(codes.size() == 10'000);
  CHECK(cancelled_at == 100);
  CHECK(codes[0]);
  CHECK(codes[100]);
  CHECK_FALSE(codes.back());  // cut short: not every item ran
}
