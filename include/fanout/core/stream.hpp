#ifndef FANOUT_CORE_STREAM_HPP
#define FANOUT_CORE_STREAM_HPP

#include <fanout/core/detail/gather_engine.hpp>
#include <fanout/core/result.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>

namespace fanout {

/// A stream of item outcomes, made by `as_completed` (completion order) or `gather_stream`
/// (input order).
///
/// Move-only. Destroying it before it is exhausted cancels the items still running (they end
/// in the background; their outcomes are dropped).
template <class T>
class result_stream {
 public:
  explicit result_stream(std::shared_ptr<detail::completion_source<T>> source)
      : source_(std::move(source)) {}

  result_stream(result_stream&&) noexcept = default;
  result_stream& operator=(result_stream&& other) noexcept {
    if (this != &other) {
      cancel();
      source_ = std::move(other.source_);
    }
    return *this;
  }
  ~result_stream() { cancel(); }

  /// The next outcome, as `completed<T>{index, result}`, or nullopt once every item has been
  /// yielded.
  ///
  /// The first call starts the run on the calling coroutine's executor (items run on a strand of
  /// it). Call it again only after the previous call completed. Cancelling a pending `next()`
  /// stops the run: the items still running are cancelled, and this and later calls yield them
  /// (and the unstarted ones) with `errc::cancelled`. If the input range throws, no further
  /// element is taken, the running items are cancelled, and this call rethrows the exception
  /// once they have ended; later calls yield the outcomes still held, then nullopt.
  asio::awaitable<std::optional<completed<T>>> next() {
    auto source = source_;  // the run stays alive for this call even if the stream moves
    if (!source->started()) source->start(co_await asio::this_coro::executor);
    co_return co_await asio::co_spawn(source->get_executor(), source->next(), asio::use_awaitable);
  }

  /// Cancels the items still running; later `next()` calls yield them as `errc::cancelled`.
  /// From any thread, also before the first `next()` (which then yields every item cancelled).
  void cancel() {
    if (source_) source_->cancel();
  }

 private:
  std::shared_ptr<detail::completion_source<T>> source_;
};

}  // namespace fanout

#endif
