#ifndef FANOUT_CORE_DETAIL_IMPL_ENGINE_BASE_IPP
#define FANOUT_CORE_DETAIL_IMPL_ENGINE_BASE_IPP

// The definitions of core/detail/engine_base.hpp: included by it (header-only), or once by
// <fanout/src.hpp> (FANOUT_SEPARATE_COMPILATION).

#include <fanout/core/detail/any_strand.hpp>
#include <fanout/core/detail/engine_base.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace fanout::detail {

FANOUT_DECL error stop_error(stop_reason why) {
  switch (why) {
    case stop_reason::timeout:
      return error(errc::timeout, "timed out: the run's deadline passed before this item finished");
    case stop_reason::fail_fast:
      return error(errc::cancelled, "cancelled: another item failed and fail_fast is set");
    default: return error(errc::cancelled, "cancelled: the run was cancelled");
  }
}

// A worker's completion: called at the very end of its entry point, it only puts the child back
// on the free list, so the entry point has unwound before advance() can take the child again (and
// give its signal's slot to a new worker). It holds the engine for as long as the worker runs.
struct engine_base::worker_done {
  std::shared_ptr<engine_base> self;
  child* c;
  void operator()(const std::exception_ptr&) const { self->free_.push_back(c); }
};

FANOUT_DECL engine_base::engine_base(gather_options options, std::size_t window) noexcept
    : options_(std::move(options)), window_(window) {}

FANOUT_DECL engine_base::~engine_base() = default;

FANOUT_DECL void engine_base::start(const boost::asio::any_io_executor& ex) {
  auto strand = make_any_strand(ex);
  wake_.emplace(strand, boost::asio::steady_timer::time_point::max());
  deadline_.emplace(strand);
  bool cancelled = false;
  {
    // cancel() may run on another thread meanwhile: it sees the strand, or leaves word.
    std::lock_guard lock(start_mutex_);
    strand_.emplace(std::move(strand));
    cancelled = cancel_requested_;
  }
  // Nothing runs on the strand yet: the stop can be applied here.
  if (cancelled) stop(stop_reason::cancelled);
}

FANOUT_DECL bool engine_base::started() const noexcept {
  std::lock_guard lock(start_mutex_);
  return strand_.has_value();
}

FANOUT_DECL void engine_base::cancel() {
  std::unique_lock lock(start_mutex_);
  if (!strand_) {
    cancel_requested_ = true;  // start() applies it
    return;
  }
  auto strand = *strand_;
  lock.unlock();
  boost::asio::post(strand, [self = shared_from_this()] { self->stop(stop_reason::cancelled); });
}

FANOUT_DECL boost::asio::awaitable<void> engine_base::pump(std::shared_ptr<engine_base> self) {
  namespace this_coro = boost::asio::this_coro;
  // Cancellation of the caller is an event to handle (stop the run, wait for the items), not
  // an exception to unwind with.
  co_await this_coro::throw_if_cancelled(false);
  if (!self->deadline_armed_) self->arm_deadline();
  for (;;) {
    if (!self->failure_) self->advance();
    if (self->failure_) {
      // The range threw (here, or in a worker): nothing more is taken, the running items
      // were cancelled, and the exception waits until they have ended, since they may refer
      // to the range and to whatever the caller's frame holds.
      if (self->in_flight_ == 0) {
        self->deadline_->cancel();
        std::rethrow_exception(std::exchange(self->failure_, nullptr));
      }
    } else {
      if (self->has_ready()) co_return;
      if (self->exhausted() && self->in_flight_ == 0) {
        self->deadline_->cancel();
        co_return;
      }
    }
    // Everything here runs on the strand, so no completion can slip in between this check
    // and the wait: an item that finishes wakes us by cancelling the timer.
    auto state = co_await this_coro::cancellation_state;
    if (state.cancelled() == boost::asio::cancellation_type::none) {
      self->wake_->expires_at(boost::asio::steady_timer::time_point::max());
      co_await self->wake_->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      state = co_await this_coro::cancellation_state;
    }
    if (state.cancelled() != boost::asio::cancellation_type::none) {
      co_await this_coro::reset_cancellation_state();
      self->stop(stop_reason::cancelled);
    }
  }
}

FANOUT_DECL boost::asio::awaitable<void> engine_base::run_to_end(
    std::shared_ptr<engine_base> self) {
  auto strand = self->get_executor();
  co_await boost::asio::co_spawn(strand, pump(std::move(self)), boost::asio::use_awaitable);
}

FANOUT_DECL void engine_base::range_failed(std::exception_ptr e) {
  failure_ = std::move(e);
  range_failed_ = true;
  stop(stop_reason::cancelled);
  wake_->cancel();
}

FANOUT_DECL void engine_base::stop(stop_reason why) {
  if (stop_ != stop_reason::none) return;
  stop_ = why;
  deadline_->cancel();
  for (auto& c : children_) {
    if (!c.active) continue;
    c.reason = why;
    c.signal.emit(boost::asio::cancellation_type::terminal);
  }
  wake_->cancel();
}

FANOUT_DECL void engine_base::wake_consumer() {
  wake_->cancel();
}

FANOUT_DECL void engine_base::launch(child& c, boost::asio::awaitable<void> worker) {
  boost::asio::co_spawn(*strand_, std::move(worker),
                        boost::asio::bind_cancellation_slot(
                            c.signal.slot(), worker_done{shared_from_this(), std::addressof(c)}));
}

FANOUT_DECL engine_base::child& engine_base::acquire_child() {
  if (free_.empty()) return children_.emplace_back();
  child* c = free_.back();
  free_.pop_back();
  return *c;
}

FANOUT_DECL void engine_base::report(std::size_t index, const error* e) noexcept {
  if (!options_.on_result) return;
  try {
    options_.on_result(index, e);
  } catch (...) {
    // Documented: a throwing progress hook must not take the run down.
  }
}

FANOUT_DECL void engine_base::arm_deadline() {
  deadline_armed_ = true;
  if (options_.timeout <= std::chrono::steady_clock::duration::zero()) return;
  deadline_->expires_after(options_.timeout);
  deadline_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->stop(stop_reason::timeout);
  });
}

}  // namespace fanout::detail

#endif
