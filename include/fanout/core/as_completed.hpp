#ifndef FANOUT_CORE_AS_COMPLETED_HPP
#define FANOUT_CORE_AS_COMPLETED_HPP

#include <fanout/core/options.hpp>
#include <fanout/core/result.hpp>
#include <fanout/detail/gather_engine.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>

namespace fanout {

/// A stream of outcomes in completion order, made by `as_completed`.
///
/// Move-only. Destroying it before it is exhausted cancels the items still running (they end
/// in the background; their outcomes are dropped).
template <class T>
class as_completed_stream {
 public:
  explicit as_completed_stream(std::shared_ptr<detail::completion_source<T>> source)
      : source_(std::move(source)) {}

  as_completed_stream(as_completed_stream&&) noexcept = default;
  as_completed_stream& operator=(as_completed_stream&& other) noexcept {
    if (this != &other) {
      cancel();
      source_ = std::move(other.source_);
    }
    return *this;
  }
  ~as_completed_stream() { cancel(); }

  /// The next item to finish, as `completed<T>{index, result}`, or nullopt once every item has
  /// been yielded.
  ///
  /// The first call starts the run on the calling coroutine's executor (items run on a strand of
  /// it). Call it again only after the previous call completed. Cancelling a pending `next()`
  /// stops the run: the items still running are cancelled, and this and later calls yield them
  /// (and the unstarted ones) with `errc::cancelled`.
  asio::awaitable<std::optional<completed<T>>> next() {
    auto source = source_;  // the run stays alive for this call even if the stream moves
    if (!source->started()) source->start(co_await asio::this_coro::executor);
    co_return co_await asio::co_spawn(source->get_executor(), source->next(), asio::use_awaitable);
  }

  /// Cancels the items still running; later `next()` calls yield them as `errc::cancelled`.
  void cancel() {
    if (source_) source_->cancel();
  }

 private:
  std::shared_ptr<detail::completion_source<T>> source_;
};

/// Runs `fn` on every element of `inputs` like `gather`, but yields each outcome as soon as its
/// item finishes, with the item's index: Python's `asyncio.as_completed`.
///
/// Nothing runs until the first `next()`. At most `options.max_concurrency` items run at once,
/// and items start only as `next()` is called, so a slow consumer holds back the producers.
/// Lifetime: an lvalue `inputs` range, and anything `fn` captures by reference, must outlive the
/// stream; an rvalue range is moved into it.
///
/// \code
/// auto stream = fanout::as_completed(ids, twice, {.max_concurrency = 8});
/// while (auto done = co_await stream.next()) use(done->index, done->result);
/// \endcode
template <class Range, class F>
requires detail::item_callable<F, Range> as_completed_stream<detail::item_value_t<Range, F>>
as_completed(Range&& inputs, F&& fn, gather_options options = {}) {
  return as_completed_stream<detail::item_value_t<Range, F>>(detail::make_gather_engine(
      std::forward<Range>(inputs), std::forward<F>(fn), std::move(options)));
}

}  // namespace fanout

#endif
