#ifndef FANOUT_CORE_DETAIL_DEADLINE_GUARD_HPP
#define FANOUT_CORE_DETAIL_DEADLINE_GUARD_HPP

// One asynchronous wait with a deadline, inside a coroutine: what
// `co_await (op || timer.async_wait())` does, without awaitable_operators' co_spawn per side,
// parallel group and variant (a user's file compiles all of those in the header-only mode).

#include <fanout/config.hpp>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>

#include <chrono>
#include <memory>
#include <utility>

namespace fanout::detail {

/// Cancels the operation bound to it when `deadline` passes, or when the awaiting coroutine
/// is cancelled.
///
/// \code
/// deadline_guard<Executor> guard(co_await this_coro::executor, deadline,
///                                co_await this_coro::cancellation_state);
/// auto [ec, value] = co_await start_op(guard.bind(as_tuple(use_awaitable)));
/// guard.done();
/// if (ec && guard.expired()) ...  // it failed because the deadline passed
/// \endcode
///
/// The operation must complete once cancelled (with its own error code, typically
/// operation_aborted): the guard never completes it itself. One operation per guard. Its slot
/// is signalled from the timer's handler (on `ex`) and from wherever the coroutine's own
/// cancellation is emitted: as for `||`, that must be the coroutine's executor (it is for
/// fanout's callers: a gather's strand, or a co_spawn, which dispatches cancellation there).
template <class Executor>
class deadline_guard {
 public:
  using clock = std::chrono::steady_clock;

  deadline_guard(const Executor& ex, clock::time_point deadline,
                 boost::asio::cancellation_state caller)
      : state_(std::make_shared<state>()), timer_(ex, deadline), caller_(caller.slot()) {
    // Both hold the state: the timer's handler may run after this guard is gone (with
    // operation_aborted, after done()), and the caller's slot keeps its handler until the next
    // operation the coroutine awaits replaces it.
    timer_.async_wait([s = state_](boost::system::error_code ec) {
      if (ec || s->finished) return;
      s->expired = true;
      s->signal.emit(boost::asio::cancellation_type::terminal);
    });
    if (caller_.is_connected())
      caller_.assign([s = state_](boost::asio::cancellation_type type) {
        if (!s->finished) s->signal.emit(type);
      });
  }

  deadline_guard(const deadline_guard&) = delete;
  deadline_guard& operator=(const deadline_guard&) = delete;

  ~deadline_guard() { done(); }

  /// `token` with the guard's cancellation slot.
  template <class Token>
  auto bind(Token&& token) {
    return boost::asio::bind_cancellation_slot(state_->signal.slot(), std::forward<Token>(token));
  }

  /// The operation has completed: the timer is stopped and the caller's slot let go.
  void done() noexcept {
    if (state_->finished) return;
    state_->finished = true;
    timer_.cancel();
    if (caller_.is_connected()) caller_.clear();
  }

  /// Whether the deadline passed before the operation completed, and cancelled it. An operation
  /// that completed well meanwhile did so anyway: look at its outcome first.
  bool expired() const noexcept { return state_->expired; }

 private:
  struct state {
    boost::asio::cancellation_signal signal;
    bool expired = false;
    bool finished = false;
  };

  std::shared_ptr<state> state_;
  boost::asio::basic_waitable_timer<clock, boost::asio::wait_traits<clock>, Executor> timer_;
  boost::asio::cancellation_slot caller_;
};

}  // namespace fanout::detail

#endif
