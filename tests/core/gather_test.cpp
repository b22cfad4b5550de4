#include <fanout/core/gather.hpp>

#include "support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <numeric>
#include <ranges>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;

namespace {

asio::awaitable<int> twice(const int& x) {
  co_await sleep_for(std::chrono::milliseconds(pseudo_random(x) % 15));
  co_return 2 * x;
}

}  // namespace

TEST_CASE("gather keeps input order under random completion times") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  auto ids = iota_vector(300);
  auto out =
      run_on(threads, [&](auto) { return fanout::gather(ids, twice, {.max_concurrency = 64}); });
  REQUIRE(out.size() == ids.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    REQUIRE(out[i].has_value());
    CHECK(*out[i] == 2 * ids[i]);
  }
}

TEST_CASE("gather never exceeds the concurrency cap, and reaches it") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  const std::size_t cap = GENERATE(1, 7, 32);
  INFO("cap " << cap);
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(std::chrono::milliseconds(1 + pseudo_random(x) % 5));
    co_return x;
  };
  auto out = run_on(threads, [&](auto) {
    return fanout::gather(iota_vector(200), work, {.max_concurrency = cap});
  });
  CHECK(out.size() == 200);
  CHECK(running.created == 200);
  CHECK(running.peak == static_cast<int>(cap));
  CHECK(running.live == 0);
}

TEST_CASE("at most max_concurrency item coroutines exist at once, even for many items") {
  live_counter frames;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(frames);  // lives exactly as long as the item's coroutine frame
    co_return x + 1;
  };
  auto out = run_on(1, [&](auto) {
    return fanout::gather(std::views::iota(0, 100'000), work, {.max_concurrency = 16});
  });
  REQUIRE(out.size() == 100'000);
  CHECK(*out.back() == 100'000);
  CHECK(frames.peak <= 16);
  CHECK(frames.created == 100'000);
}

TEST_CASE("with no cap every item runs at once") {
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(20ms);
    co_return x;
  };
  auto out = run_on(1, [&](auto) { return fanout::gather(iota_vector(500), work); });
  CHECK(out.size() == 500);
  CHECK(running.peak == 500);
}

TEST_CASE("exceptions become per-item errors and never escape gather") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  auto work = [](const int& x) -> asio::awaitable<int> {
    co_await sleep_for(1ms);
    if (x == 3) throw std::runtime_error("boom at 3");
    if (x == 5) throw boost::system::system_error(asio::error::connection_refused, "item 5");
    if (x == 7) throw 42;  // not even a std::exception
    co_return x;
  };
  auto out = run_on(threads, [&](auto) { return fanout::gather(iota_vector(10), work); });
  REQUIRE(out.size() == 10);
  for (int i : {0, 1, 2, 4, 6, 8, 9}) CHECK(*out[i] == i);

  REQUIRE_FALSE(out[3]);
  CHECK(out[3].error().code() == fanout::errc::exception);
  CHECK(out[3].error().message().find("boom at 3") != std::string::npos);
  CHECK_THROWS_AS(out[3].value(), std::runtime_error);

  REQUIRE_FALSE(out[5]);
  CHECK(out[5].error().code() == asio::error::connection_refused);
  CHECK(out[5].error().message().find("item 5") != std::string::npos);

  REQUIRE_FALSE(out[7]);
  CHECK(out[7].error().code() == fanout::errc::exception);
  CHECK_THROWS_AS(out[7].value(), int);
}

TEST_CASE("a callable that throws before returning its awaitable is a per-item error") {
  struct eager {
    asio::awaitable<int> operator()(const int& x) const {
      if (x == 1) throw std::logic_error("refused synchronously");
      return twice(x);
    }
  };
  auto out = run_on(1, [&](auto) { return fanout::gather(iota_vector(3), eager{}); });
  CHECK(*out[0] == 0);
  REQUIRE_FALSE(out[1]);
  CHECK(out[1].error().message() == "refused synchronously");
  CHECK(*out[2] == 4);
}

TEST_CASE("fail_fast cancels the running items, starts no more, and keeps the first error") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter running;
  std::atomic<int> finished_normally{0};
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    if (x == 2) {
      co_await sleep_for(10ms);
      throw std::runtime_error("item 2 failed");
    }
    co_await sleep_for(30s);  // cancelled long before this
    ++finished_normally;
    co_return x;
  };
  auto started = std::chrono::steady_clock::now();
  auto out = run_on(threads, [&](auto) {
    return fanout::gather(iota_vector(50), work, {.max_concurrency = 4, .fail_fast = true});
  });
  auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE(out.size() == 50);
  CHECK(out[2].error().message() == "item 2 failed");
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i == 2) continue;
    REQUIRE_FALSE(out[i]);
    CHECK(out[i].error().code() == fanout::errc::cancelled);
  }
  CHECK(running.created == 4);  // items 0..3 started; the rest never did
  CHECK(finished_normally == 0);
  CHECK(running.live == 0);
  CHECK(elapsed < 10s);  // cancellation is the subject: the 30 s sleeps were cut short
}

TEST_CASE("the whole-gather timeout reports unfinished and unstarted items as timeout") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(x < 2 ? 1ms : 30s);
    co_return x;
  };
  auto started = std::chrono::steady_clock::now();
  auto out = run_on(threads, [&](auto) {
    return fanout::gather(iota_vector(10), work, {.max_concurrency = 4, .timeout = 200ms});
  });
  auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE(out.size() == 10);
  CHECK(*out[0] == 0);
  CHECK(*out[1] == 1);
  for (int i = 2; i < 10; ++i) {
    REQUIRE_FALSE(out[i]);
    CHECK(out[i].error().code() == fanout::errc::timeout);
  }
  CHECK(running.created == 6);  // 0..3, then 4 and 5 took the slots 0 and 1 freed
  CHECK(running.live == 0);
  CHECK(elapsed >= 200ms);
  CHECK(elapsed < 10s);
}

TEST_CASE("cancelling the awaiting coroutine cancels every item and leaks nothing") {
  using namespace asio::experimental::awaitable_operators;
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(x == 0 ? 1ms : 30s);
    co_return x;
  };
  auto started = std::chrono::steady_clock::now();
  auto winner = run_on(threads, [&](auto) -> asio::awaitable<std::size_t> {
    auto either = co_await (fanout::gather(iota_vector(100), work, {.max_concurrency = 10}) ||
                            sleep_for(100ms));
    co_return either.index();
  });
  CHECK(winner == 1);  // the timer won
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(running.live == 0);
  CHECK(running.created == 11);
}

TEST_CASE("a cancelled gather completes with the unfinished items as cancelled") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  auto work = [&](const int& x) -> asio::awaitable<int> {
    co_await sleep_for(x < 3 ? 1ms : 30s);
    co_return x;
  };
  asio::io_context ctx(threads);
  asio::cancellation_signal signal;
  std::vector<fanout::result<int>> out;
  bool done = false;
  asio::co_spawn(ctx, fanout::gather(iota_vector(20), work, {.max_concurrency = 5}),
                 asio::bind_cancellation_slot(
                     signal.slot(), [&](std::exception_ptr ep, std::vector<fanout::result<int>> r) {
                       CHECK(ep == nullptr);
                       out = std::move(r);
                       done = true;
                     }));
  asio::steady_timer timer(ctx, 100ms);
  timer.async_wait(
      [&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); });
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back([&] { ctx.run(); });
  ctx.run();
  for (auto& t : extra) t.join();
  REQUIRE(done);
  REQUIRE(out.size() == 20);
  for (int i = 0; i < 3; ++i) CHECK(*out[i] == i);
  for (int i = 3; i < 20; ++i) {
    REQUIRE_FALSE(out[i]);
    CHECK(out[i].error().code() == fanout::errc::cancelled);
  }
}

TEST_CASE("empty input completes at once with no results") {
  bool called = false;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    called = true;
    co_return x;
  };
  auto out = run_on(1, [&](auto) { return fanout::gather(std::vector<int>{}, work); });
  CHECK(out.empty());
  CHECK_FALSE(called);
}

TEST_CASE("single-pass input ranges: each item keeps its own element while it suspends") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  std::istringstream text("5 4 3 2 1 10 20 30");
  auto numbers = std::views::istream<int>(text);  // one cached element, overwritten by ++
  auto work = [](const int& x) -> asio::awaitable<int> {
    co_await sleep_for(std::chrono::milliseconds(x % 7));
    co_return x * 10;
  };
  auto out =
      run_on(threads, [&](auto) { return fanout::gather(numbers, work, {.max_concurrency = 3}); });
  std::vector<int> expect{50, 40, 30, 20, 10, 100, 200, 300};
  REQUIRE(out.size() == expect.size());
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(*out[i] == expect[i]);
}

TEST_CASE("move-only inputs and results") {
  std::vector<std::unique_ptr<int>> inputs;
  for (int i = 0; i < 20; ++i) inputs.push_back(std::make_unique<int>(i));
  auto work = [](const std::unique_ptr<int>& p) -> asio::awaitable<std::unique_ptr<int>> {
    co_await sleep_for(std::chrono::milliseconds(*p % 4));
    co_return std::make_unique<int>(*p * 3);
  };
  auto out = run_on(1, [&](auto) { return fanout::gather(inputs, work, {.max_concurrency = 5}); });
  REQUIRE(out.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(**out[i] == 3 * i);

  // A view that makes move-only elements on the fly: each is moved into its item.
  auto made = std::views::iota(0, 10) |
              std::views::transform([](int i) { return std::make_unique<int>(i); });
  auto out2 = run_on(1, [&](auto) { return fanout::gather(made, work, {.max_concurrency = 3}); });
  REQUIRE(out2.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(**out2[i] == 3 * i);
}

TEST_CASE("an rvalue range is moved into the run and outlives the caller's temporary") {
  auto pending = fanout::gather(iota_vector(50), twice, {.max_concurrency = 5});
  auto out = run_on(1, [&](auto) { return std::move(pending); });
  REQUIRE(out.size() == 50);
  CHECK(*out[49] == 98);
}

TEST_CASE("the callable may take the item's index") {
  std::vector<std::string> names{"a", "b", "c"};
  auto work = [](const std::string& s, std::size_t index) -> asio::awaitable<std::string> {
    co_await sleep_for(std::chrono::milliseconds(3 - index));
    co_return s + std::to_string(index);
  };
  auto out = run_on(1, [&](auto) { return fanout::gather(names, work); });
  CHECK(*out[0] == "a0");
  CHECK(*out[1] == "b1");
  CHECK(*out[2] == "c2");
}

TEST_CASE("results without a default constructor come from an lvalue range too") {
  // Such results take the path where the item keeps its own coroutine around the callable's.
  struct labelled {
    explicit labelled(int v) : value(v) {}
    int value;
  };
  auto work = [](const int& x) -> asio::awaitable<labelled> {
    co_await sleep_for(std::chrono::milliseconds(pseudo_random(x) % 5));
    if (x == 2) throw std::runtime_error("two");
    co_return labelled(x * 10);
  };
  auto inputs = iota_vector(5);
  auto out = run_on(1, [&](auto) { return fanout::gather(inputs, work, {.max_concurrency = 2}); });
  REQUIRE(out.size() == 5);
  CHECK(out[4]->value == 40);
  REQUIRE_FALSE(out[2].has_value());
  CHECK(out[2].error().message() == "two");
}

TEST_CASE("void callables give result<void>") {
  std::atomic<int> sum{0};
  auto work = [&](const int& x) -> asio::awaitable<void> {
    co_await sleep_for(1ms);
    if (x == 4) throw std::runtime_error("four");
    sum += x;
  };
  std::vector<fanout::result<void>> out =
      run_on(1, [&](auto) { return fanout::gather(iota_vector(6), work); });
  REQUIRE(out.size() == 6);
  CHECK(out[0].has_value());
  CHECK_FALSE(out[4].has_value());
  CHECK(sum == 0 + 1 + 2 + 3 + 5);
}

TEST_CASE("on_result is called once per item with its error") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  std::vector<int> seen(40, 0);
  std::vector<int> failed(40, 0);
  auto work = [](const int& x) -> asio::awaitable<int> {
    co_await sleep_for(std::chrono::milliseconds(pseudo_random(x) % 5));
    if (x % 10 == 0) throw std::runtime_error("tens fail");
    co_return x;
  };
  auto out = run_on(threads, [&](auto) {
    return fanout::gather(
        iota_vector(40), work,
        {.max_concurrency = 8, .on_result = [&](std::size_t i, const fanout::error* e) {
           ++seen[i];  // the hook runs on the run's strand: no data race
           if (e) ++failed[i];
         }});
  });
  for (int i = 0; i < 40; ++i) {
    CHECK(seen[i] == 1);
    CHECK(failed[i] == (i % 10 == 0 ? 1 : 0));
  }
}

TEST_CASE("gather runs on an asio::thread_pool too, results in order, cap respected") {
  asio::thread_pool pool(2);
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    co_await sleep_for(std::chrono::milliseconds(pseudo_random(x) % 4));
    co_return x * 3;
  };
  auto future = asio::co_spawn(pool, fanout::gather(iota_vector(200), work, {.max_concurrency = 9}),
                               asio::use_future);
  auto out = future.get();
  pool.join();
  REQUIRE(out.size() == 200);
  for (int i = 0; i < 200; ++i) CHECK(*out[i] == 3 * i);
  CHECK(running.peak <= 9);
  CHECK(running.live == 0);
}

TEST_CASE("one worker runs a mix of items in sequence at cap 1: input order, on_result once each") {
  // At cap 1 a single worker takes item after item: some complete inline, some suspend, some
  // fail with an error code, throw from their coroutine, or throw before returning one.
  struct mixed {
    asio::awaitable<int> operator()(const int& x) const {
      if (x % 5 == 1) throw std::logic_error("refused " + std::to_string(x));
      return run(x);
    }
    static asio::awaitable<int> run(int x) {
      if (x % 2 == 0) co_await sleep_for(std::chrono::milliseconds(pseudo_random(x) % 3));
      if (x % 5 == 2) throw std::runtime_error("threw " + std::to_string(x));
      if (x % 5 == 3) throw boost::system::system_error(asio::error::connection_reset);
      co_return x * 7;
    }
  };
  const int n = 60;
  std::vector<int> seen(n, 0);
  std::vector<int> failed(n, 0);
  std::vector<std::size_t> order;
  auto out = run_on(1, [&](auto) {
    return fanout::gather(
        iota_vector(n), mixed{},
        {.max_concurrency = 1, .on_result = [&](std::size_t i, const fanout::error* e) {
           ++seen[i];
           if (e) ++failed[i];
           order.push_back(i);
         }});
  });
  REQUIRE(out.size() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    INFO("item " << i);
    CHECK(seen[i] == 1);
    CHECK(order[i] == static_cast<std::size_t>(i));  // at cap 1 they finish in input order too
    switch (i % 5) {
      case 1:
        REQUIRE_FALSE(out[i]);
        CHECK(out[i].error().message() == "refused " + std::to_string(i));
        break;
      case 2:
        REQUIRE_FALSE(out[i]);
        CHECK(out[i].error().message() == "threw " + std::to_string(i));
        break;
      case 3:
        REQUIRE_FALSE(out[i]);
        CHECK(out[i].error().code() == asio::error::connection_reset);
        break;
      default: REQUIRE(out[i]); CHECK(*out[i] == i * 7);
    }
    CHECK(failed[i] == (out[i] ? 0 : 1));
  }
}

TEST_CASE("fail_fast with a cap smaller than the input: workers that moved on are cancelled") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter running;
  std::atomic<int> finished_late{0};
  std::vector<int> seen(40, 0);
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    if (x < 9) {
      co_await sleep_for(1ms);
      co_return x;
    }
    if (x == 9) {
      co_await sleep_for(5ms);
      throw std::runtime_error("nine");
    }
    co_await sleep_for(30s);  // items after 9 only start if a worker moved on before 9 failed
    ++finished_late;
    co_return x;
  };
  auto out = run_on(threads, [&](auto) -> asio::awaitable<std::vector<fanout::result<int>>> {
    auto out = co_await fanout::gather(
        iota_vector(40), work,
        {.max_concurrency = 3,
         .fail_fast = true,
         .on_result = [&](std::size_t i, const fanout::error*) { ++seen[i]; }});
    CHECK(running.live == 0);  // every item's coroutine ended before gather completed
    co_return out;
  });
  REQUIRE(out.size() == 40);
  for (int i = 0; i < 9; ++i) CHECK(*out[i] == i);
  REQUIRE_FALSE(out[9]);
  CHECK(out[9].error().message() == "nine");
  for (int i = 10; i < 40; ++i) {
    REQUIRE_FALSE(out[i]);
    CHECK(out[i].error().code() == fanout::errc::cancelled);
  }
  for (int i = 0; i < 40; ++i) CHECK(seen[i] == 1);
  CHECK(running.created >= 10);
  CHECK(running.created <= 12);  // 9 and at most the two slots beside it
  CHECK(finished_late == 0);
}

TEST_CASE("fail_fast from an item that completes inline stops its own worker at once") {
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    if (x == 10) throw std::runtime_error("ten");  // no suspension: fails inside its worker
    if (x > 10) co_await sleep_for(30s);
    co_return x;
  };
  auto out = run_on(1, [&](auto) {
    return fanout::gather(iota_vector(100), work, {.max_concurrency = 3, .fail_fast = true});
  });
  REQUIRE(out.size() == 100);
  for (int i = 0; i < 10; ++i) CHECK(*out[i] == i);
  CHECK(out[10].error().message() == "ten");
  for (int i = 11; i < 100; ++i) CHECK(out[i].error().code() == fanout::errc::cancelled);
  CHECK(running.created == 11);  // the first worker ran 0..10 inline; nothing started after
  CHECK(running.live == 0);
}

TEST_CASE("an item's cancellation settings do not carry over to the next item of its worker") {
  // Item 0 turns cancellation off for itself; item 1 runs next on the same worker (cap 2, item
  // 0 completes inline) and must still be cancelled when item 2 fails.
  live_counter running;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    live_counter::token t(running);
    if (x == 0) {
      co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
      co_await asio::this_coro::throw_if_cancelled(false);
      co_return 0;
    }
    if (x == 2) {
      co_await sleep_for(5ms);
      throw std::runtime_error("two");
    }
    co_await sleep_for(30s);
    co_return x;
  };
  auto out = run_on(1, [&](auto) {
    return fanout::gather(iota_vector(3), work, {.max_concurrency = 2, .fail_fast = true});
  });
  REQUIRE(out.size() == 3);
  CHECK(*out[0] == 0);
  REQUIRE_FALSE(out[1]);
  CHECK(out[1].error().code() == fanout::errc::cancelled);
  CHECK(out[2].error().message() == "two");
  CHECK(running.live == 0);
}

TEST_CASE("single-pass input at cap 2: items keep their own elements, which die with the item") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter elements;
  struct element {
    std::unique_ptr<live_counter::token> alive;
    int value;
  };
  auto made = std::views::iota(0, 50) | std::views::transform([&](int i) {
                return element{std::make_unique<live_counter::token>(elements), i};
              });
  auto work = [](const element& e) -> asio::awaitable<int> {
    if (e.value % 3 != 0) co_await sleep_for(std::chrono::milliseconds(pseudo_random(e.value) % 4));
    if (e.value == 7) throw std::runtime_error("seven");
    co_return e.value * 2;
  };
  auto out =
      run_on(threads, [&](auto) { return fanout::gather(made, work, {.max_concurrency = 2}); });
  REQUIRE(out.size() == 50);
  for (int i = 0; i < 50; ++i) {
    if (i == 7)
      CHECK(out[i].error().message() == "seven");
    else
      CHECK(*out[i] == i * 2);
  }
  CHECK(elements.created == 50);
  CHECK(elements.peak <= 2);  // an element lives while its item runs, not beyond
  CHECK(elements.live == 0);
}

TEST_CASE("results without a default constructor at cap 1, from a vector and from a view") {
  struct labelled {
    explicit labelled(int v) : value(v) {}
    int value;
  };
  auto work = [](const int& x) -> asio::awaitable<labelled> {
    if (x % 2) co_await sleep_for(1ms);
    if (x == 3) throw std::runtime_error("three");
    co_return labelled(x * 10);
  };
  auto inputs = iota_vector(6);
  auto from_vector =
      run_on(1, [&](auto) { return fanout::gather(inputs, work, {.max_concurrency = 1}); });
  auto from_view = run_on(1, [&](auto) {
    return fanout::gather(std::views::iota(0, 6), work, {.max_concurrency = 1});
  });
  for (auto* out : {&from_vector, &from_view}) {
    REQUIRE(out->size() == 6);
    for (int i = 0; i < 6; ++i) {
      if (i == 3)
        CHECK((*out)[i].error().message() == "three");
      else
        CHECK((*out)[i]->value == i * 10);
    }
  }
}

TEST_CASE("an exception from the input range itself escapes gather") {
  auto numbers = std::views::iota(0, 10) | std::views::transform([](int i) {
                   if (i == 4) throw std::out_of_range("no element 4");
                   return i;
                 });
  auto work = [](const int& x) -> asio::awaitable<int> {
    co_await sleep_for(1ms);
    co_return x;
  };
  // At cap 1 the worker that finished item 3 is the one that takes element 4.
  CHECK_THROWS_AS(
      run_on(1, [&](auto) { return fanout::gather(numbers, work, {.max_concurrency = 1}); }),
      std::out_of_range);
}

TEST_CASE("an unsized input whose items finish last-first fills every slot of the results") {
  // gather writes each outcome at its index as it comes: here the vector grows past slots whose
  // items are still running, and those are filled in later.
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  struct labelled {
    explicit labelled(int v) : value(v) {}
    int value;
  };
  std::istringstream text("0 1 2 3 4 5 6 7 8 9 10 11");
  auto numbers = std::views::istream<int>(text);
  std::vector<int> seen(12, 0);
  auto work = [](const int& x) -> asio::awaitable<labelled> {
    co_await sleep_for(std::chrono::milliseconds(10 * (12 - x)));
    if (x == 5) throw std::runtime_error("five");
    co_return labelled(x + 100);
  };
  auto out = run_on(threads, [&](auto) {
    return fanout::gather(numbers, work,
                          {.on_result = [&](std::size_t i, const fanout::error*) { ++seen[i]; }});
  });
  REQUIRE(out.size() == 12);
  for (int i = 0; i < 12; ++i) {
    CHECK(seen[i] == 1);
    if (i == 5)
      CHECK(out[i].error().message() == "five");
    else
      CHECK(out[i]->value == i + 100);
  }
}

TEST_CASE("a run of items that complete inline lets other handlers in") {
  // A worker whose items never suspend still yields now and then, so a long run neither holds
  // its thread nor keeps the deadline and cancel() out.
  const int n = 10'000;
  int ran_at = -1;  // how many items had run when the other handler did
  int ran = 0;
  auto work = [&](const int& x) -> asio::awaitable<int> {
    ++ran;
    co_return x;
  };
  auto out = run_on(1, [&](auto ex) -> asio::awaitable<std::vector<fanout::result<int>>> {
    asio::post(ex, [&] { ran_at = ran; });
    co_return co_await fanout::gather(std::views::iota(0, n), work, {.max_concurrency = 8});
  });
  REQUIRE(out.size() == static_cast<std::size_t>(n));
  CHECK(*out.back() == n - 1);
  CHECK(ran_at >= 0);
  CHECK(ran_at < n / 10);
}

TEST_CASE("an exception from the input range is not lost when the range carries on after it") {
  // Element 4 throws once; items complete inline, so the worker that meets it runs inside the
  // collector's own fill(), and the next worker takes element 4 again and finishes the input.
  bool thrown = false;
  auto numbers = std::views::iota(0, 10) | std::views::transform([&](int i) {
                   if (i == 4 && !std::exchange(thrown, true)) throw std::out_of_range("once");
                   return i;
                 });
  auto work = [](const int& x) -> asio::awaitable<int> { co_return x; };
  CHECK_THROWS_AS(
      run_on(1, [&](auto) { return fanout::gather(numbers, work, {.max_concurrency = 1}); }),
      std::out_of_range);
  CHECK(thrown);
}
