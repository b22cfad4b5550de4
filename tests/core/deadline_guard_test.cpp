// detail::deadline_guard: an operation bound to it ends at the deadline, or when the awaiting
// coroutine is cancelled, and an operation that ends first is left alone.
#include <fanout/core/detail/deadline_guard.hpp>

#include "support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <catch2/catch.hpp>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct outcome {
  boost::system::error_code ec;
  bool expired = false;
  clock_type::duration took{};
};

// Waits on a timer of `op_lasts` under a guard of `deadline_in`.
asio::awaitable<outcome> guarded_wait(clock_type::duration op_lasts,
                                      clock_type::duration deadline_in) {
  auto const ex = co_await asio::this_coro::executor;
  auto const cancellation = co_await asio::this_coro::cancellation_state;
  auto const t0 = clock_type::now();
  fanout::detail::deadline_guard<asio::any_io_executor> guard(ex, t0 + deadline_in, cancellation);
  asio::steady_timer op(ex, op_lasts);
  auto [ec] = co_await op.async_wait(guard.bind(asio::as_tuple(asio::use_awaitable)));
  guard.done();
  co_return outcome{ec, guard.expired(), clock_type::now() - t0};
}

}  // namespace

TEST_CASE("deadline_guard: the deadline cancels the operation and says so", "[deadline_guard]") {
  auto o = run_on(1, [](auto) { return guarded_wait(10s, 50ms); });
  CHECK(o.ec == asio::error::operation_aborted);
  CHECK(o.expired);
  CHECK(o.took < 5s);
}

TEST_CASE("deadline_guard: an operation that ends first is not cancelled", "[deadline_guard]") {
  // The io_context runs until nothing is left: the guard's timer must not hold it up either.
  auto const t0 = clock_type::now();
  auto o = run_on(1, [](auto) { return guarded_wait(20ms, 10s); });
  CHECK_FALSE(o.ec);
  CHECK_FALSE(o.expired);
  CHECK(clock_type::now() - t0 < 5s);
}

TEST_CASE("deadline_guard: the awaiting coroutine's cancellation reaches the operation",
          "[deadline_guard][cancel]") {
  auto o = run_on(1, [](auto ex) -> asio::awaitable<outcome> {
    asio::cancellation_signal stop;
    asio::steady_timer later(ex, 50ms);
    later.async_wait(
        [&](boost::system::error_code) { stop.emit(asio::cancellation_type::terminal); });
    auto const wait = []() -> asio::awaitable<outcome> {
      co_await asio::this_coro::throw_if_cancelled(false);
      co_return co_await guarded_wait(10s, 20s);
    };
    co_return co_await asio::co_spawn(
        ex, wait(), asio::bind_cancellation_slot(stop.slot(), asio::use_awaitable));
  });
  CHECK(o.ec == asio::error::operation_aborted);
  CHECK_FALSE(o.expired);
  CHECK(o.took < 5s);
}
