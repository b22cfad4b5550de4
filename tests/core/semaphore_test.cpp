#include <fanout/core/semaphore.hpp>

#include <fanout/core/gather.hpp>

#include "support.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/strand.hpp>
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;

TEST_CASE("permits are taken and given back by RAII") {
  asio::io_context ctx;
  fanout::async_semaphore sem(ctx.get_executor(), 2);
  CHECK(sem.available() == 2);
  {
    auto a = sem.try_acquire();
    auto b = sem.try_acquire();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(sem.available() == 0);
    CHECK_FALSE(sem.try_acquire());
    b->release();
    CHECK(sem.available() == 1);
    CHECK_FALSE(*b);
  }
  CHECK(sem.available() == 2);
}

TEST_CASE("waiters are served first in, first out") {
  auto order = run_on(1, [](auto ex) -> asio::awaitable<std::vector<int>> {
    fanout::async_semaphore sem(ex, 1);
    auto held = co_await sem.acquire();
    std::vector<int> order;
    int finished = 0;
    for (int i = 0; i < 5; ++i) {
      asio::co_spawn(
          ex,
          [&, i]() -> asio::awaitable<void> {
            co_await sleep_for(std::chrono::milliseconds(i));  // queue in order 0..4
            auto p = co_await sem.acquire();
            order.push_back(i);
            co_await sleep_for(1ms);
            ++finished;
          },
          asio::detached);
    }
    co_await sleep_for(30ms);
    CHECK(sem.waiting() == 5);
    held.release();
    while (finished < 5) co_await sleep_for(5ms);
    co_return order;
  });
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("a cancelled wait leaves the queue without taking a permit") {
  using namespace asio::experimental::awaitable_operators;
  run_on(1, [](auto ex) -> asio::awaitable<void> {
    fanout::async_semaphore sem(ex, 1);
    auto held = co_await sem.acquire();
    auto raced = co_await (sem.acquire() || sleep_for(20ms));
    CHECK(raced.index() == 1);
    CHECK(sem.waiting() == 0);
    held.release();
    CHECK(sem.available() == 1);
    auto again = co_await sem.acquire();
    CHECK(again);
    CHECK(sem.available() == 0);
  });
}

TEST_CASE("a completion-token wait reports operation_aborted when the semaphore dies") {
  asio::io_context ctx;
  boost::system::error_code seen;
  bool got_permit = true;
  {
    fanout::async_semaphore sem(ctx.get_executor(), 0);
    sem.acquire([&](boost::system::error_code ec, fanout::async_semaphore::permit p) {
      seen = ec;
      got_permit = static_cast<bool>(p);
    });
  }
  ctx.run();
  CHECK(seen == asio::error::operation_aborted);
  CHECK_FALSE(got_permit);
}

TEST_CASE("one semaphore caps two concurrent gathers to a shared budget") {
  const int threads = GENERATE(1, 2);
  INFO(describe_threads(threads));
  live_counter running;
  auto peak = run_on(threads, [&](auto ex) -> asio::awaitable<int> {
    fanout::async_semaphore budget(ex, 5);
    auto work = [&](const int& x) -> asio::awaitable<int> {
      auto permit = co_await budget.acquire();
      live_counter::token t(running);
      co_await sleep_for(std::chrono::milliseconds(1 + pseudo_random(x) % 4));
      co_return x;
    };
    std::vector<int> ids(60);
    std::iota(ids.begin(), ids.end(), 0);
    using namespace asio::experimental::awaitable_operators;
    auto [a, b] = co_await (fanout::gather(ids, work) && fanout::gather(ids, work));
    CHECK(a.size() == 60);
    CHECK(b.size() == 60);
    for (auto& r : a) CHECK(r);
    for (auto& r : b) CHECK(r);
    co_return running.peak.load();
  });
  CHECK(peak == 5);
  CHECK(running.created == 120);
}

TEST_CASE("the semaphore is safe under contention from several threads") {
  asio::io_context ctx(2);
  fanout::async_semaphore sem(ctx.get_executor(), 3);
  live_counter holders;
  std::atomic<int> done{0};
  for (int i = 0; i < 200; ++i) {
    asio::co_spawn(
        asio::make_strand(ctx),
        [&]() -> asio::awaitable<void> {
          auto p = co_await sem.acquire();
          live_counter::token t(holders);
          co_await sleep_for(std::chrono::microseconds(200));
          ++done;
        },
        asio::detached);
  }
  std::thread other([&] { ctx.run(); });
  ctx.run();
  other.join();
  CHECK(done == 200);
  CHECK(holders.peak <= 3);
  CHECK(sem.available() == 3);
}
