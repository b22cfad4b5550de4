#ifndef FANOUT_CORE_RATE_LIMITER_HPP
#define FANOUT_CORE_RATE_LIMITER_HPP

#include <fanout/config.hpp>
#include <fanout/core/detail/waiter_queue.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fanout {

/// A rate: at most `requests_per_second` on average, with bursts of up to `burst` at once.
struct rate_limit {
  /// Tokens added per second; 0 means unlimited. Otherwise at least `min_requests_per_second`
  /// (one request in about 11.6 days), finite and not negative.
  double requests_per_second = 0;
  /// The bucket's size: how many may go at once after a quiet spell (at least 1).
  std::size_t burst = 1;

  /// The slowest rate: below it the wait for one token would not fit in a clock duration.
  static constexpr double min_requests_per_second = 1e-6;
};

/// Throws `std::invalid_argument` naming `name` (the option holding `limit`) when the rate is
/// negative, not finite, or between 0 and `rate_limit::min_requests_per_second`.
inline void validate(const rate_limit& limit, std::string_view name = "rate_limit") {
  double const r = limit.requests_per_second;
  if (!std::isfinite(r) || r < 0 || (r > 0 && r < rate_limit::min_requests_per_second))
    throw std::invalid_argument(std::string(name) + ".requests_per_second is " + std::to_string(r) +
                                ": use 0 (unlimited) or a finite rate of at least " +
                                std::to_string(rate_limit::min_requests_per_second));
}

/// An asynchronous token bucket: `co_await limiter.acquire()` waits until the rate allows one
/// more. Shared by any number of coroutines, gathers or threads, like `async_semaphore` (and
/// combined with one, it caps both how many run at once and how often they start).
///
/// The bucket starts full. Waiters are served first in, first out, each as soon as a token is
/// due. Waits are cancellable and complete with `operation_aborted` without taking a token;
/// waits still queued when the limiter is destroyed, or started after, complete the same way
/// (they keep its state alive meanwhile). Not copyable or movable.
///
/// Thread safety: all member functions may be used from any thread. Completions run on the
/// waiter's associated executor.
///
/// \code
/// fanout::async_rate_limiter limiter{executor, {.requests_per_second = 100, .burst = 10}};
/// co_await limiter.acquire();  // then send the request
/// \endcode
class async_rate_limiter {
  struct state;

 public:
  using executor_type = asio::any_io_executor;
  using clock = std::chrono::steady_clock;

  /// Throws `std::invalid_argument` for an impossible rate (see `validate(const rate_limit&)`).
  async_rate_limiter(executor_type ex, rate_limit limit)
      : executor_(ex), state_((validate(limit), std::make_shared<state>(std::move(ex), limit))) {}

  async_rate_limiter(const async_rate_limiter&) = delete;
  async_rate_limiter& operator=(const async_rate_limiter&) = delete;

  ~async_rate_limiter() { state_->abort_all(/*destroying=*/true); }

  executor_type get_executor() const noexcept { return executor_; }

  /// Waits for a token.
  ///
  /// Completion: `(error_code)`, empty when a token was taken, as soon as the rate allows and
  /// every earlier waiter is served. With the default token, `co_await limiter.acquire()`
  /// throws `boost::system::system_error` instead of an error.
  /// Executor: the handler runs on its associated executor (a coroutine's own), or on
  /// `get_executor()` when it has none; always through a post, never inside this call.
  /// Cancellation: per-operation, of any type (terminal, partial, total): the wait leaves the
  /// queue and completes with `operation_aborted`, taking no token.
  /// Object lifetimes: the operation holds the limiter's shared state, not the object. With a
  /// lazy token (`use_awaitable`, `deferred`) the wait starts when awaited; the object may be
  /// destroyed before that or while the wait is queued, and the wait then completes with
  /// `operation_aborted`. Nothing else must outlive the call.
  /// Errors: `operation_aborted` only: cancelled, `cancel()` called, or the limiter destroyed.
  /// Thread safety: may be called from any thread, concurrently with any other member.
  template <class CompletionToken = asio::use_awaitable_t<>>
  auto acquire(CompletionToken&& token = {}) {
    return asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
        // Owns what it needs: the initiation of a lazy token (use_awaitable, deferred) runs
        // when awaited, possibly after this object is gone.
        [state = state_, ex = executor_](auto handler) {
          state::acquire(state, queue::prepare(std::move(handler), ex));
        },
        token);
  }

  /// Takes a token if one is available and nobody is queued, without waiting.
  bool try_acquire() {
    std::lock_guard lock(state_->mutex);
    state_->refill(clock::now());
    if (!state_->waiters.empty() || !state_->has_token()) return false;
    state_->take_token();
    return true;
  }

  /// Completes every queued wait with `operation_aborted` (a session's `close()` uses it). The
  /// limiter stays usable: later `acquire()` calls wait as usual.
  void cancel() { state_->abort_all(); }

  /// Waiters queued right now (a snapshot).
  std::size_t waiting() const {
    std::lock_guard lock(state_->mutex);
    return state_->waiters.size();
  }

  const rate_limit& limit() const noexcept { return state_->limit; }

 private:
  using queue = detail::waiter_queue<>;

  struct state : std::enable_shared_from_this<state> {
    state(executor_type ex, rate_limit l)
        : limit(l),
          capacity(static_cast<double>(std::max<std::size_t>(l.burst, 1))),
          tokens(capacity),
          last(clock::now()),
          timer(ex) {}

    bool unlimited() const { return limit.requests_per_second <= 0; }
    bool has_token() const { return unlimited() || tokens >= 1.0; }
    void take_token() {
      if (!unlimited()) tokens -= 1.0;
    }

    void refill(clock::time_point now) {
      if (unlimited()) return;
      std::chrono::duration<double> elapsed = now - last;
      tokens = std::min(capacity, tokens + elapsed.count() * limit.requests_per_second);
      last = now;
    }

    static void acquire(const std::shared_ptr<state>& self, queue::waiter w) {
      std::unique_lock lock(self->mutex);
      if (self->destroyed) {
        lock.unlock();
        queue::complete(std::move(w), asio::error::operation_aborted);
        return;
      }
      self->refill(clock::now());
      if (self->waiters.empty() && self->has_token()) {
        self->take_token();
        lock.unlock();
        queue::complete(std::move(w), {});
        return;
      }
      self->waiters.push(std::move(w), self->weak_from_this());
      self->arm_timer();
    }

    // Under the lock: wake up when the oldest waiter's token is due.
    void arm_timer() {
      if (timer_armed || waiters.empty()) return;
      timer_armed = true;
      auto due = std::chrono::duration<double>((1.0 - tokens) / limit.requests_per_second);
      timer.expires_after(std::chrono::ceil<clock::duration>(due));
      timer.async_wait([weak = weak_from_this()](boost::system::error_code) {
        if (auto self = weak.lock()) self->on_timer();
      });
    }

    void on_timer() {
      std::vector<queue::waiter> due;
      {
        std::lock_guard lock(mutex);
        timer_armed = false;
        refill(clock::now());
        while (!waiters.empty() && has_token()) {
          take_token();
          due.push_back(std::move(*waiters.pop()));
        }
        arm_timer();
      }
      for (auto& w : due) queue::complete(std::move(w), {});
    }

    void cancel(std::uint64_t id) {
      std::unique_lock lock(mutex);
      auto w = waiters.remove(id);
      lock.unlock();
      if (w) queue::complete(std::move(*w), asio::error::operation_aborted);
    }

    // Also when the limiter object is destroyed: then waits started later are aborted too.
    void abort_all(bool destroying = false) {
      std::unique_lock lock(mutex);
      if (destroying) destroyed = true;
      auto all = waiters.take_all();
      timer.cancel();
      lock.unlock();
      for (auto& w : all) queue::complete(std::move(w), asio::error::operation_aborted);
    }

    mutable std::mutex mutex;
    const rate_limit limit;
    const double capacity;
    double tokens;
    clock::time_point last;
    asio::steady_timer timer;  // used only under the mutex
    bool timer_armed = false;
    bool destroyed = false;
    queue waiters;
  };

  executor_type executor_;
  std::shared_ptr<state> state_;
};

}  // namespace fanout

#endif
