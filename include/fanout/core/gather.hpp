#ifndef FANOUT_CORE_GATHER_HPP
#define FANOUT_CORE_GATHER_HPP

#include <fanout/core/detail/gather_engine.hpp>
#include <fanout/core/error.hpp>
#include <fanout/core/options.hpp>
#include <fanout/core/result.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>

#include <memory>
#include <vector>

namespace fanout {

/// Runs `fn` on every element of `inputs`, concurrently, and completes with one result per
/// element in input order: the value, or the error that item ended with.
///
/// \param inputs any input range: containers, views, single-pass ranges, move-only elements.
///   An lvalue range is used in place and must outlive the run; an rvalue range is moved in.
///   Elements of single-pass ranges, and those a view makes on the fly, are moved or copied
///   into their item's coroutine before `fn` runs, so `fn` may take `const Input&` and suspend.
///   If the range itself throws (incrementing, dereferencing), no further element is taken, the
///   running items are cancelled, and gather rethrows that exception once every item has ended:
///   none outlives the call.
/// \param fn `fn(const Input&)` or `fn(const Input&, std::size_t index)` returning
///   `boost::asio::awaitable<T>`; copied or moved into the run. An exception it throws becomes
///   that item's error (see `error_from_current_exception`), never escapes gather.
/// \param options the concurrency cap, fail-fast, a deadline and a progress hook.
///
/// Completes with `std::vector<fanout::result<T>>` of the same length as `inputs`, after every
/// item's coroutine has ended. Items run on a strand of the awaiting coroutine's executor, so
/// the run is free of data races on a multi-threaded executor too.
///
/// Cancellation: cancelling the awaiting coroutine (e.g. with `awaitable_operators`) cancels
/// every running item, waits for them to end, and completes normally: unfinished and unstarted
/// items report `errc::cancelled`.
///
/// \code
/// std::vector<fanout::result<int>> out =
///     co_await fanout::gather(ids, twice, {.max_concurrency = 64});
/// \endcode
template <class Range, class F>
requires detail::item_callable<F, Range>
    asio::awaitable<std::vector<result<detail::item_value_t<Range, F>>>> gather(
        Range&& inputs, F&& fn, gather_options options = {});

}  // namespace fanout

// Implementation.
namespace fanout {
namespace detail {

template <class Engine>
asio::awaitable<std::vector<typename Engine::result_type>> run_gather_engine(
    std::shared_ptr<Engine> engine) {
  engine->start(co_await asio::this_coro::executor);
  co_return co_await Engine::collect(std::move(engine));
}

}  // namespace detail

// Not a coroutine itself: the range is captured (moved in, or referred to) before the caller
// can let a temporary die, and the returned awaitable owns the run.
template <class Range, class F>
requires detail::item_callable<F, Range>
    asio::awaitable<std::vector<result<detail::item_value_t<Range, F>>>> gather(
        Range&& inputs, F&& fn, gather_options options) {
  return detail::run_gather_engine(detail::make_gather_engine(
      std::forward<Range>(inputs), std::forward<F>(fn), std::move(options)));
}

}  // namespace fanout

#endif
