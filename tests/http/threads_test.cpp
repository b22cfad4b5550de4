// The HTTP layer on thread pools: one session shared by coroutines on several threads. CI runs
// this file under ThreadSanitizer as its own small binary (fanout_http_threads_tests), besides
// it being part of fanout_http_tests.
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/test_server.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <thread>

using namespace fanout::test;
using namespace std::chrono_literals;

TEST_CASE("session: one session shared by coroutines on a 4-thread pool", "[session][threads]") {
  test_server server;
  asio::thread_pool pool(4);
  std::atomic<std::size_t> ok{0}, done{0};
  {
    fanout::session s(pool.get_executor(), {.max_connections_per_host = 16});
    constexpr std::size_t workers = 64, each = 40;
    for (std::size_t w = 0; w < workers; ++w)
      asio::co_spawn(
          pool,
          [&]() -> asio::awaitable<void> {
            for (std::size_t i = 0; i < each; ++i) {
              fanout::request req16{.url = server.url(i % 2 ? "/hello" : "/chunked")};
              auto r = co_await s.try_request(req16);
              if (r && r->ok()) ok.fetch_add(1);
            }
          },
          [&](std::exception_ptr) { done.fetch_add(1); });
    for (int i = 0; i < 600 && done.load() < workers; ++i) std::this_thread::sleep_for(100ms);
    REQUIRE(done.load() == workers);
    CHECK(ok.load() == workers * each);
    CHECK(s.stats().connections_opened <= 16);
  }
  pool.join();
  CHECK(server.peak_connections() <= 16);
}

// Most requests queue for one of two connections and are granted by whichever thread releases
// one, while the thread that queued them may still be inside the wait's initiation: the
// initiation must touch nothing of its own after it gave its handler away (a TSan
// heap-use-after-free in CI, in connection_pool::async_wait).
TEST_CASE("session: coroutines on a 4-thread pool queue for two connections",
          "[session][threads]") {
  test_server server;
  asio::thread_pool pool(4);
  std::atomic<std::size_t> ok{0}, done{0};
  {
    fanout::session s(pool.get_executor(), {.max_connections_per_host = 2});
    constexpr std::size_t workers = 48, each = 30;
    for (std::size_t w = 0; w < workers; ++w)
      asio::co_spawn(
          pool,
          [&]() -> asio::awaitable<void> {
            for (std::size_t i = 0; i < each; ++i) {
              fanout::request req{.url = server.url("/hello")};
              auto r = co_await s.try_request(req);
              if (r && r->ok()) ok.fetch_add(1);
            }
          },
          [&](std::exception_ptr) { done.fetch_add(1); });
    for (int i = 0; i < 600 && done.load() < workers; ++i) std::this_thread::sleep_for(100ms);
    REQUIRE(done.load() == workers);
    CHECK(ok.load() == workers * each);
    CHECK(s.stats().connections_opened <= 2);
  }
  pool.join();
  CHECK(server.peak_connections() <= 2);
}
