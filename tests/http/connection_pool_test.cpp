// The connection pool driven directly, without sockets: connections are handed out but never
// connected, so only the pool's own bookkeeping runs.
#include <fanout/http/detail/http1/connection_pool.hpp>
#include <fanout/http/url.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using fanout::detail::connection_pool;
using fanout::detail::pooled_connection;

namespace {

fanout::url_parts parts_of(std::string_view url) {
  fanout::url_parts where;
  std::string why;
  REQUIRE(!fanout::parse_url(url, where, why));
  return where;
}

// Waits for `w` in a coroutine that has been cancelled before it awaits, as gather's
// fail_fast or timeout cancels a request between a redirect hop and the next acquire.
// Returns what the wait ended with: the exception's code, or the acquire's own.
boost::system::error_code acquire_already_cancelled(asio::io_context& ctx,
                                                    const std::shared_ptr<connection_pool>& pool,
                                                    std::shared_ptr<connection_pool::waiter> w,
                                                    const fanout::url_parts& where,
                                                    connection_pool::clock::time_point deadline) {
  asio::cancellation_signal cancel;
  boost::system::error_code result;
  bool finished = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        cancel.emit(asio::cancellation_type::terminal);  // the caller gives up first
        try {
          connection_pool::clock::duration waited{};
          auto got = co_await pool->acquire(std::move(w), where, false, deadline, waited);
          result = got.ec;
        } catch (const boost::system::system_error& e) {
          result = e.code();
        }
        // co_spawn's own last step awaits too: let it finish although cancelled.
        co_await asio::this_coro::throw_if_cancelled(false);
        finished = true;
      },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  ctx.run();
  ctx.restart();
  REQUIRE(finished);
  return result;
}

}  // namespace

TEST_CASE("connection_pool: a waiter cancelled before it waits does not keep a slot", "[pool]") {
  asio::io_context ctx;
  constexpr std::size_t per_host = 2;
  auto pool = std::make_shared<connection_pool>(
      ctx.get_executor(), fanout::session_options{.max_connections_per_host = per_host});
  auto const where = parts_of("http://127.0.0.1:9/");
  // Far enough never to pass during the test: a waiter left queued would stay so.
  auto const deadline = connection_pool::clock::now() + 1h;

  std::vector<pooled_connection> held;
  for (std::size_t i = 0; i < per_host; ++i) {
    auto step = pool->try_acquire(where, false, deadline);
    REQUIRE(step.got);
    REQUIRE(!step.got->ec);
    REQUIRE(step.got->conn.fresh());
    held.push_back(std::move(step.got->conn));
  }

  // As many cancelled waiters as the host has slots, each followed by a slot coming free,
  // which the next request must get at once.
  for (std::size_t i = 0; i < per_host; ++i) {
    auto step = pool->try_acquire(where, false, deadline);
    REQUIRE(!step.got);
    REQUIRE(step.queued);
    auto ec = acquire_already_cancelled(ctx, pool, std::move(step.queued), where, deadline);
    CHECK(ec == asio::error::operation_aborted);
    held.pop_back();  // closed: its slot goes to whoever is first in line
    ctx.run();
    ctx.restart();
    auto again = pool->try_acquire(where, false, deadline);
    REQUIRE(again.got);
    CHECK(!again.got->ec);
    CHECK(again.got->conn.fresh());
    held.push_back(std::move(again.got->conn));
  }
  held.clear();
  ctx.run();
  ctx.restart();
  CHECK(pool->open_connections() == 0);

  // The host still serves per_host requests at once, without waiting.
  for (std::size_t i = 0; i < per_host; ++i) {
    auto step = pool->try_acquire(where, false, deadline);
    REQUIRE(step.got);
    CHECK(!step.got->ec);
    CHECK(step.got->conn.fresh());
    held.push_back(std::move(step.got->conn));
  }
  CHECK(pool->open_connections() == per_host);
  held.clear();
  pool->close();
  ctx.run();
}

TEST_CASE("connection_pool: a waiter gets a slot freed before or while it waits", "[pool]") {
  asio::io_context ctx;
  auto pool = std::make_shared<connection_pool>(
      ctx.get_executor(), fanout::session_options{.max_connections_per_host = 1});
  auto const where = parts_of("http://127.0.0.1:9/");
  auto const deadline = connection_pool::clock::now() + 1h;
  auto first = pool->try_acquire(where, false, deadline);
  REQUIRE(first.got);
  std::optional<pooled_connection> held(std::move(first.got->conn));

  // Freed between try_acquire and the wait: acquire sees it at once.
  auto early = pool->try_acquire(where, false, deadline);
  REQUIRE(early.queued);
  held.reset();
  std::vector<pooled_connection> got;
  auto wait_for = [&](std::shared_ptr<connection_pool::waiter> w) -> asio::awaitable<void> {
    connection_pool::clock::duration waited{};
    auto a = co_await pool->acquire(std::move(w), where, false, deadline, waited);
    CHECK(!a.ec);
    CHECK(a.conn.fresh());
    got.push_back(std::move(a.conn));
  };
  asio::co_spawn(ctx, wait_for(std::move(early.queued)), asio::detached);
  ctx.run();
  ctx.restart();
  REQUIRE(got.size() == 1);

  // Freed while it waits: granted in its turn.
  auto late = pool->try_acquire(where, false, deadline);
  REQUIRE(late.queued);
  asio::co_spawn(ctx, wait_for(std::move(late.queued)), asio::detached);
  ctx.poll();
  CHECK(got.size() == 1);
  got.erase(got.begin());  // its slot goes to the waiter
  ctx.run();
  ctx.restart();
  CHECK(got.size() == 1);
  CHECK(pool->open_connections() == 1);
  got.clear();
  pool->close();
  ctx.run();
}
