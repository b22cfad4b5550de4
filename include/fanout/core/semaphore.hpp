#ifndef FANOUT_CORE_SEMAPHORE_HPP
#define FANOUT_CORE_SEMAPHORE_HPP

#include <fanout/config.hpp>
#include <fanout/core/detail/waiter_queue.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace fanout {

/// An asynchronous counting semaphore: a budget of permits shared by any number of coroutines,
/// gathers or threads.
///
/// Waiters are served first in, first out: a released permit goes to the oldest waiter, never
/// to a newcomer. Waits are cancellable (per-operation cancellation, e.g. through
/// `awaitable_operators` or `bind_cancellation_slot`): a cancelled wait completes with
/// `boost::asio::error::operation_aborted` and takes no permit.
///
/// Thread safety: all member functions and permits may be used from any thread. Completions run
/// on the waiter's associated executor (for a coroutine, its own executor).
///
/// Lifetime: permits and pending waits keep the semaphore's state alive, so both may outlive the
/// semaphore object; waits still queued when it is destroyed, or started after, complete with
/// `operation_aborted`. Not copyable or movable (share it by reference or pointer).
///
/// \code
/// fanout::async_semaphore budget{executor, 16};
/// auto permit = co_await budget.acquire();  // released when `permit` is destroyed
/// \endcode
class async_semaphore {
  struct state;

 public:
  using executor_type = asio::any_io_executor;

  /// A held permit: move-only, released on destruction or by `release()`.
  class permit {
   public:
    permit() = default;
    permit(permit&& other) noexcept : state_(std::move(other.state_)) {}
    permit& operator=(permit&& other) noexcept {
      if (this != &other) {
        release();
        state_ = std::move(other.state_);
      }
      return *this;
    }
    ~permit() { release(); }

    /// True while this object holds a permit.
    explicit operator bool() const noexcept { return state_ != nullptr; }

    /// Gives the permit back now (to the oldest waiter, if any). Does nothing if empty.
    void release() noexcept {
      if (auto s = std::move(state_)) state::give_back(s);
    }

   private:
    friend class async_semaphore;
    explicit permit(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
    std::shared_ptr<state> state_;
  };

  /// A semaphore with `permits` permits available, completing waiters on `ex` by default.
  async_semaphore(executor_type ex, std::size_t permits)
      : executor_(std::move(ex)), state_(std::make_shared<state>(permits)) {}

  async_semaphore(const async_semaphore&) = delete;
  async_semaphore& operator=(const async_semaphore&) = delete;

  /// Completes queued waiters with `operation_aborted`; held permits stay valid.
  ~async_semaphore() { state_->destroy(); }

  executor_type get_executor() const noexcept { return executor_; }

  /// Waits for a permit.
  ///
  /// Completion: `(error_code, permit)`: an empty error and a held permit, or an error and an
  /// empty permit. As soon as a permit is free and nobody is queued before. With the default
  /// token, `co_await sem.acquire()` returns the permit and throws `boost::system::system_error`
  /// instead of an error.
  /// Executor: the handler runs on its associated executor (a coroutine's own), or on
  /// `get_executor()` when it has none; always through a post, never inside this call.
  /// Cancellation: per-operation, of any type (terminal, partial, total): the wait leaves the
  /// queue and completes with `operation_aborted`, taking no permit.
  /// Object lifetimes: the operation holds the semaphore's shared state, not the object. With a
  /// lazy token (`use_awaitable`, `deferred`) the wait starts when awaited; the object may be
  /// destroyed before that or while the wait is queued, and the wait then completes with
  /// `operation_aborted`. Nothing else must outlive the call.
  /// Errors: `operation_aborted` only: cancelled, or the semaphore destroyed.
  /// Thread safety: may be called from any thread, concurrently with any other member.
  template <class CompletionToken = asio::use_awaitable_t<>>
  auto acquire(CompletionToken&& token = {}) {
    return asio::async_initiate<CompletionToken, void(boost::system::error_code, permit)>(
        // Owns what it needs: the initiation of a lazy token (use_awaitable, deferred) runs
        // when awaited, possibly after this object is gone.
        [state = state_, ex = executor_](auto handler) {
          state::acquire(state, queue::prepare(std::move(handler), ex));
        },
        token);
  }

  /// Takes a permit if one is free and nobody is queued, without waiting.
  std::optional<permit> try_acquire() {
    std::lock_guard lock(state_->mutex);
    if (state_->free == 0 || !state_->waiters.empty()) return std::nullopt;
    --state_->free;
    return permit(state_);
  }

  /// Permits free right now (a snapshot: other threads may change it).
  std::size_t available() const {
    std::lock_guard lock(state_->mutex);
    return state_->free;
  }

  /// Waiters queued right now (a snapshot).
  std::size_t waiting() const {
    std::lock_guard lock(state_->mutex);
    return state_->waiters.size();
  }

 private:
  using queue = detail::waiter_queue<permit>;

  struct state : std::enable_shared_from_this<state> {
    explicit state(std::size_t permits) : free(permits) {}

    static void acquire(const std::shared_ptr<state>& self, queue::waiter w) {
      std::unique_lock lock(self->mutex);
      if (self->destroyed) {
        lock.unlock();
        queue::complete(std::move(w), asio::error::operation_aborted, permit());
        return;
      }
      if (self->free > 0 && self->waiters.empty()) {
        --self->free;
        lock.unlock();
        queue::complete(std::move(w), {}, permit(self));
        return;
      }
      self->waiters.push(std::move(w), self->weak_from_this());
    }

    // A permit comes back: hand it straight to the oldest waiter (FIFO) or count it free.
    static void give_back(const std::shared_ptr<state>& self) {
      std::unique_lock lock(self->mutex);
      auto next = self->waiters.pop();
      if (!next) {
        ++self->free;
        return;
      }
      lock.unlock();
      queue::complete(std::move(*next), {}, permit(self));
    }

    // A wait was cancelled: if it is still queued, it leaves the queue without a permit.
    void cancel(std::uint64_t id) {
      std::unique_lock lock(mutex);
      auto w = waiters.remove(id);
      lock.unlock();
      if (w) queue::complete(std::move(*w), asio::error::operation_aborted, permit());
    }

    // The semaphore object is gone: queued waits, and those started later, are aborted.
    void destroy() {
      std::unique_lock lock(mutex);
      destroyed = true;
      auto all = waiters.take_all();
      lock.unlock();
      for (auto& w : all) queue::complete(std::move(w), asio::error::operation_aborted, permit());
    }

    mutable std::mutex mutex;
    std::size_t free;
    bool destroyed = false;
    queue waiters;
  };

  executor_type executor_;
  std::shared_ptr<state> state_;
};

}  // namespace fanout

#endif
