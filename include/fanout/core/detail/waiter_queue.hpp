#ifndef FANOUT_CORE_DETAIL_WAITER_QUEUE_HPP
#define FANOUT_CORE_DETAIL_WAITER_QUEUE_HPP

// The FIFO of suspended acquirers shared by async_semaphore and async_rate_limiter (and, for its
// `waiter`, `on_cancel` and `complete`, by the HTTP layer's pool and resolver): type-erased
// completion handlers that keep their executor busy while they wait, are cancellable one by one,
// and are always completed through a post (never inline, never under the owner's lock).

#include <fanout/config.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <utility>

namespace fanout::detail {

/// Not synchronised itself: the owner's mutex guards every call but `complete`.
template <class... Values>
class waiter_queue {
 public:
  using handler_type = asio::any_completion_handler<void(boost::system::error_code, Values...)>;

  struct waiter {
    handler_type handler;
    asio::any_io_executor executor;  // the handler's, tracking work while it waits
    std::uint64_t id = 0;
  };

  /// Type-erases `handler` and tracks work on its executor (`fallback` when it has none).
  template <class Handler>
  static waiter prepare(Handler&& handler, const asio::any_io_executor& fallback) {
    asio::any_io_executor work = asio::prefer(asio::get_associated_executor(handler, fallback),
                                              asio::execution::outstanding_work.tracked);
    return waiter{handler_type(std::forward<Handler>(handler)), std::move(work)};
  }

  /// If `w`'s handler is cancellable, a cancellation (of any type) calls `on_cancelled()`, on
  /// the thread that emits it; `complete` disconnects it. Call before `w` can be completed.
  template <class F>
  static void on_cancel(waiter& w, F on_cancelled) {
    // any_completion_handler offers its own slot (it installed its state on the caller's).
    auto slot = w.handler.get_cancellation_slot();
    if (!slot.is_connected()) return;
    slot.assign([f = std::move(on_cancelled)](asio::cancellation_type type) {
      if (type != asio::cancellation_type::none) f();
    });
  }

  /// Queues `w` last. If its handler is cancellable, cancellation calls `owner->cancel(id)`
  /// while the owner lives; the owner then removes it with `remove(id)`.
  template <class Owner>
  void push(waiter w, std::weak_ptr<Owner> owner) {
    w.id = next_id_++;
    on_cancel(w, [owner = std::move(owner), id = w.id] {
      if (auto o = owner.lock()) o->cancel(id);
    });
    list_.push_back(std::move(w));
  }

  bool empty() const noexcept { return list_.empty(); }
  std::size_t size() const noexcept { return list_.size(); }

  std::optional<waiter> pop() {
    if (list_.empty()) return std::nullopt;
    std::optional<waiter> w(std::move(list_.front()));
    list_.pop_front();
    return w;
  }

  std::optional<waiter> remove(std::uint64_t id) {
    for (auto it = list_.begin(); it != list_.end(); ++it) {
      if (it->id != id) continue;
      std::optional<waiter> w(std::move(*it));
      list_.erase(it);
      return w;
    }
    return std::nullopt;
  }

  std::list<waiter> take_all() { return std::exchange(list_, {}); }

  /// Completes `w` on its executor, after clearing its slot there (where its owner uses it).
  static void complete(waiter w, boost::system::error_code ec, Values... values) {
    auto ex = std::move(w.executor);
    asio::post(ex, [handler = std::move(w.handler), ec, ... values = std::move(values)]() mutable {
      asio::get_associated_cancellation_slot(handler).clear();
      std::move(handler)(ec, std::move(values)...);
    });
  }

 private:
  std::list<waiter> list_;
  std::uint64_t next_id_ = 1;
};

}  // namespace fanout::detail

#endif
