#ifndef FANOUT_CORE_SEMAPHORE_HPP
#define FANOUT_CORE_SEMAPHORE_HPP

#include <fanout/config.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <list>
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
/// Lifetime: permits keep the semaphore's state alive, so a permit may outlive the semaphore
/// object; waiters still queued when the semaphore is destroyed complete with
/// `operation_aborted`.
///
/// \code
/// fanout::async_semaphore budget{executor, 16};
/// auto permit = co_await budget.acquire();  // released when `permit` is destroyed
/// \endcode
class async_semaphore {
  struct state;

 public:
  using executor_type = boost::asio::any_io_executor;

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
  ~async_semaphore() { state_->abort_all(); }

  executor_type get_executor() const noexcept { return executor_; }

  /// Waits for a permit.
  ///
  /// Completes with `(error_code, permit)`: an empty error and a held permit, or
  /// `operation_aborted` and an empty permit if the wait was cancelled or the semaphore
  /// destroyed. Completes at once (through the handler's executor) when a permit is free and
  /// nobody is queued. With the default token, `co_await sem.acquire()` returns the permit and
  /// throws `boost::system::system_error` on cancellation.
  template <class CompletionToken = boost::asio::use_awaitable_t<>>
  auto acquire(CompletionToken&& token = {}) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, permit)>(
        [this](auto handler) { initiate(std::move(handler)); }, token);
  }

  /// Takes a permit if one is free and nobody is queued, without waiting.
  std::optional<permit> try_acquire() {
    if (state_->try_take()) return permit(state_);
    return std::nullopt;
  }

  /// Permits free right now (a snapshot: other threads may change it).
  std::size_t available() const { return state_->available(); }

  /// Waiters queued right now (a snapshot).
  std::size_t waiting() const { return state_->waiting(); }

 private:
  using handler_type = boost::asio::any_completion_handler<void(boost::system::error_code, permit)>;

  struct waiter {
    std::uint64_t id;
    handler_type handler;
    executor_type executor;  // the handler's, tracking work while it waits
  };

  struct state : std::enable_shared_from_this<state> {
    explicit state(std::size_t permits) : free(permits) {}

    bool try_take() {
      std::lock_guard lock(mutex);
      if (free == 0 || !waiters.empty()) return false;
      --free;
      return true;
    }

    std::size_t available() const {
      std::lock_guard lock(mutex);
      return free;
    }

    std::size_t waiting() const {
      std::lock_guard lock(mutex);
      return waiters.size();
    }

    // A permit comes back: hand it straight to the oldest waiter (FIFO) or count it free.
    static void give_back(const std::shared_ptr<state>& self) {
      std::optional<waiter> next;
      {
        std::lock_guard lock(self->mutex);
        if (self->waiters.empty()) {
          ++self->free;
          return;
        }
        next.emplace(std::move(self->waiters.front()));
        self->waiters.pop_front();
      }
      complete(std::move(*next), {}, permit(self));
    }

    // A wait was cancelled: if it is still queued, it leaves the queue without a permit.
    void cancel(std::uint64_t id) {
      std::optional<waiter> cancelled;
      {
        std::lock_guard lock(mutex);
        for (auto it = waiters.begin(); it != waiters.end(); ++it) {
          if (it->id == id) {
            cancelled.emplace(std::move(*it));
            waiters.erase(it);
            break;
          }
        }
      }
      if (cancelled)
        complete(std::move(*cancelled), boost::asio::error::operation_aborted, permit());
    }

    void abort_all() {
      std::list<waiter> aborted;
      {
        std::lock_guard lock(mutex);
        aborted.swap(waiters);
      }
      for (auto& w : aborted)
        complete(std::move(w), boost::asio::error::operation_aborted, permit());
    }

    // Never invoke a handler inline: the caller may hold locks or be inside the waiter's own
    // initiation. The slot is cleared on the handler's executor, where its owner uses it.
    static void complete(waiter w, boost::system::error_code ec, permit p) {
      auto ex = std::move(w.executor);
      boost::asio::post(ex, [handler = std::move(w.handler), ec, p = std::move(p)]() mutable {
        boost::asio::get_associated_cancellation_slot(handler).clear();
        std::move(handler)(ec, std::move(p));
      });
    }

    mutable std::mutex mutex;
    std::size_t free;
    std::list<waiter> waiters;
    std::uint64_t next_id = 0;
  };

  template <class Handler>
  void initiate(Handler handler) {
    // Keep the waiter's executor busy while it waits, as Asio's own operations do.
    executor_type work =
        boost::asio::prefer(boost::asio::get_associated_executor(handler, executor_),
                            boost::asio::execution::outstanding_work.tracked);
    // Type-erase first: any_completion_handler installs its own state on the caller's slot and
    // offers a slot of its own, which is where our cancellation handler must go.
    handler_type erased(std::move(handler));
    std::unique_lock lock(state_->mutex);
    if (state_->free > 0 && state_->waiters.empty()) {
      --state_->free;
      lock.unlock();
      state::complete(waiter{0, std::move(erased), std::move(work)}, {}, permit(state_));
      return;
    }
    auto id = state_->next_id++;
    auto slot = erased.get_cancellation_slot();
    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<state>(state_), id](boost::asio::cancellation_type type) {
        if (type == boost::asio::cancellation_type::none) return;
        if (auto s = weak.lock()) s->cancel(id);
      });
    }
    state_->waiters.push_back(waiter{id, std::move(erased), std::move(work)});
  }

  executor_type executor_;
  std::shared_ptr<state> state_;
};

}  // namespace fanout

#endif
