// Lifetimes and threads in the HTTP layer: requests made before their session moves or dies,
// and connection members that other threads call while the strand works. Run under
// AddressSanitizer and ThreadSanitizer ("[threads]") in CI.
#include <fanout/http/detail/http1/connection.hpp>
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/test_server.hpp"

#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;

namespace {

// Runs `body` on `io` to its end (bounded); rethrows what it threw.
void run_to_end(asio::io_context& io, std::function<asio::awaitable<void>()> body) {
  std::exception_ptr ep;
  bool done = false;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    ep = e;
    done = true;
  });
  io.run_for(60s);
  REQUIRE(done);
  if (ep) std::rethrow_exception(ep);
}

}  // namespace

TEST_CASE("session: a request made before its session is moved runs when awaited",
          "[session][lifetime]") {
  test_server server;
  asio::io_context io;
  std::optional<fanout::session> kept;  // destroyed before io
  int status = 0;
  std::string body;
  run_to_end(io, [&]() -> asio::awaitable<void> {
    auto first = std::make_unique<fanout::session>(io.get_executor());
    auto op = first->get(server.url("/hello"));
    kept.emplace(std::move(*first));
    first.reset();  // the object the request was made on is gone
    auto r = co_await std::move(op);
    status = r.status();
    body = std::string(r.body());
    kept->close();  // else its idle connection keeps io busy until idle_timeout (50 s)
  });
  CHECK(status == 200);
  CHECK(body == "hello world");
  CHECK(kept->stats().requests == 1);
  kept.reset();
}

TEST_CASE("session: a request made before its session is destroyed fails as closed when awaited",
          "[session][lifetime]") {
  test_server server;
  asio::io_context io;
  std::optional<boost::system::error_code> code;
  std::string message;
  run_to_end(io, [&]() -> asio::awaitable<void> {
    auto http = std::make_unique<fanout::session>(io.get_executor());
    auto op = http->get(server.url("/hello"));
    auto tried = http->try_request(fanout::request{.url = server.url("/hello")});
    http.reset();
    try {
      co_await std::move(op);
    } catch (const fanout::system_error& e) {
      code = e.error().code();
      message = e.error().message();
    }
    auto r = co_await std::move(tried);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::cancelled);
  });
  REQUIRE(code);
  CHECK(*code == errc::cancelled);
  CHECK(message == "GET " + server.url("/hello") + ": the session is closed");
  CHECK(server.requests() == 0);
}

TEST_CASE("connection: alive() off the strand while close() runs on it", "[threads]") {
  // The pool probes an idle connection from the acquiring request's thread; the session's
  // close() closes it on its strand at the same time.
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    fanout::url_parts where;
    std::string why;
    auto const url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/";
    REQUIRE_FALSE(fanout::parse_url(url, where, why));
    auto conn = std::make_shared<fanout::detail::connection>(io.get_executor(), where);
    conn->socket().connect(acceptor.local_endpoint());
    asio::ip::tcp::socket peer(io);
    acceptor.accept(peer);
    REQUIRE(conn->alive());

    std::atomic<bool> go{false};
    bool saw_closed = false;
    std::thread prober([&] {
      go = true;
      for (int i = 0; i < 10'000'000; ++i) {
        if (!conn->alive()) {
          saw_closed = true;
          return;
        }
      }
    });
    while (!go.load()) {
    }
    asio::post(conn->strand(), [&] { conn->close(); });
    io.run();
    prober.join();
    CHECK(saw_closed);
    CHECK_FALSE(conn->alive());
  }
}

TEST_CASE("session: keep-alive exchanges started from two threads on one connection",
          "[session][threads]") {
  // Every request reuses the one connection, and its exchange is started from whichever pool
  // thread the request's coroutine runs on, while the previous exchange's last steps ran on the
  // connection's strand.
  test_server server;
  asio::thread_pool pool(2);
  std::atomic<int> good{0};
  {
    fanout::session http(pool, {.max_connections_per_host = 1, .max_connections = 1});
    std::vector<std::future<void>> done;
    for (int worker = 0; worker < 4; ++worker) {
      done.push_back(asio::co_spawn(
          pool,
          [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 25; ++i) {
              auto r = co_await http.get(server.url("/hello"));
              if (r.status() == 200 && r.body() == "hello world") ++good;
            }
          },
          asio::use_future));
    }
    for (auto& f : done) f.get();
    CHECK(http.stats().connections_opened == 1);
  }
  pool.join();
  CHECK(good == 100);
  CHECK(server.connections() == 1);
}
