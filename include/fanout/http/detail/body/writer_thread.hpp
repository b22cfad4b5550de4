#ifndef FANOUT_HTTP_DETAIL_BODY_WRITER_THREAD_HPP
#define FANOUT_HTTP_DETAIL_BODY_WRITER_THREAD_HPP

// A file's blocking step on the session's writer thread, its result back where the caller
// runs. Plain posted functions, not spawned coroutines: a file's step never waits, and each
// co_spawn would cost every unit that includes this its machinery (see bench/build_cost.sh).

#include <fanout/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace fanout::detail {

/// Runs `step()` on `writer`, then `then(result)` on `home` (any executor), whose context counts it
/// as outstanding work meanwhile (its `run()` does not return under it).
template <class Home, class Step, class Then>
void run_on_writer(const boost::asio::any_io_executor& writer, const Home& home, Step step,
                   Then then) {
  auto back = boost::asio::prefer(home, boost::asio::execution::outstanding_work.tracked);
  boost::asio::post(
      writer, [back = std::move(back), step = std::move(step), then = std::move(then)]() mutable {
        auto result = step();
        // From the writer thread, a dispatch to `home` never runs inline: it queues.
        boost::asio::dispatch(back, [then = std::move(then), result = std::move(result)]() mutable {
          then(std::move(result));
        });
      });
}

/// `step()` on `writer`, awaited: the coroutine resumes on its own executor with what it
/// returned, a `Result`.
template <class Result, class Step>
boost::asio::awaitable<Result> async_run_on_writer(boost::asio::any_io_executor writer, Step step) {
  // Wrapped: use_awaitable would throw a bare error_code instead of returning it.
  struct returned {
    Result value;
  };
  auto const r =
      co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(returned)>(
          [&writer](auto handler, Step step) {
            auto const home = boost::asio::get_associated_executor(handler);
            run_on_writer(writer, home, std::move(step),
                          [handler = std::move(handler)](Result r) mutable {
                            std::move(handler)(returned{std::move(r)});
                          });
          },
          boost::asio::use_awaitable, std::move(step));
  co_return r.value;
}

}  // namespace fanout::detail

#endif
