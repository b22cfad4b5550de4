#ifndef FANOUT_CORE_DETAIL_GATHER_ENGINE_HPP
#define FANOUT_CORE_DETAIL_GATHER_ENGINE_HPP

// The machinery shared by gather and as_completed: one engine per run starts items lazily up to
// the cap, collects their outcomes, and applies fail-fast, the deadline and cancellation. All of
// its state and every item coroutine live on one strand, so it needs no locks and is safe on a
// multi-threaded executor.

#include <fanout/config.hpp>
#include <fanout/core/detail/io_executor.hpp>
#include <fanout/core/error.hpp>
#include <fanout/core/options.hpp>
#include <fanout/core/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/circular_buffer.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace fanout::detail {

template <class T>
struct is_default_awaitable : std::false_type {};
template <class T>
struct is_default_awaitable<asio::awaitable<T, asio::any_io_executor>> : std::true_type {};

// What the callable returns for an item passed as `Arg`: it may take (item) or (item, index).
template <class F, class Arg>
auto item_awaitable_type() {
  if constexpr (std::invocable<F&, Arg, std::size_t>)
    return std::type_identity<std::invoke_result_t<F&, Arg, std::size_t>>{};
  else if constexpr (std::invocable<F&, Arg>)
    return std::type_identity<std::invoke_result_t<F&, Arg>>{};
  else
    return std::type_identity<void>{};
}

template <class View, class F>
struct item_traits {
  using reference = std::ranges::range_reference_t<View>;
  // A multi-pass range of lvalues keeps its elements where they are for the whole run: items
  // refer to them. Anything else (single-pass ranges, views that make elements on the fly) is
  // moved or copied into the item's coroutine, so the callable may suspend safely.
  static constexpr bool by_reference =
      std::ranges::forward_range<View> && std::is_lvalue_reference_v<reference>;
  using stored = std::conditional_t<by_reference, reference, std::ranges::range_value_t<View>>;
  using arg = std::conditional_t<by_reference, reference, stored&>;
  static constexpr bool takes_index = std::invocable<F&, arg, std::size_t>;
  using awaitable_type = typename decltype(item_awaitable_type<F, arg>())::type;
  static constexpr bool valid = is_default_awaitable<awaitable_type>::value;
};

template <class Range, class F>
using traits_for = item_traits<std::views::all_t<Range>, std::decay_t<F>>;

/// Satisfied when `F` can be called with an element of `Range` (and optionally its index) and
/// returns `boost::asio::awaitable<T>`.
template <class F, class Range>
concept item_callable = std::ranges::input_range<Range> && std::ranges::viewable_range<Range> &&
    traits_for<Range, F>::valid;

template <class Range, class F>
using item_value_t = typename traits_for<Range, F>::awaitable_type::value_type;

enum class stop_reason { none, fail_fast, timeout, cancelled };

inline error stop_error(stop_reason why) {
  switch (why) {
    case stop_reason::timeout:
      return error(errc::timeout, "timed out: the run's deadline passed before this item finished");
    case stop_reason::fail_fast:
      return error(errc::cancelled, "cancelled: another item failed and fail_fast is set");
    default: return error(errc::cancelled, "cancelled: the run was cancelled");
  }
}

/// The engine as as_completed's stream sees it: its element type only.
template <class T>
class completion_source {
 public:
  using executor_type = asio::any_io_executor;  // a strand: see make_any_strand

  virtual ~completion_source() = default;

  /// Binds the run to a strand of `ex`. Called once, before the first `next()`.
  virtual void start(asio::any_io_executor ex) = 0;
  virtual bool started() const noexcept = 0;
  virtual executor_type get_executor() const = 0;

  /// The next outcome, or nullopt when every item has been reported. Runs on the strand; one
  /// call at a time. Cancelling it stops the run: the rest report `errc::cancelled`.
  virtual asio::awaitable<std::optional<completed<T>>> next() = 0;

  /// Stops the run from any thread; items still running are cancelled.
  virtual void cancel() = 0;
};

template <class View, class F>
class gather_engine final
    : public completion_source<typename item_traits<View, F>::awaitable_type::value_type>,
      public std::enable_shared_from_this<gather_engine<View, F>> {
  using traits = item_traits<View, F>;

 public:
  using value_type = typename traits::awaitable_type::value_type;
  using result_type = result<value_type>;
  using completed_type = completed<value_type>;
  using executor_type = asio::any_io_executor;

  /// `window` > 0 yields outcomes in input order, with at most `window` items between the
  /// oldest not yet yielded and the newest started (the reorder buffer's bound); 0 yields them
  /// in completion order.
  gather_engine(View view, F fn, gather_options options, std::size_t window = 0)
      : view_(std::move(view)), fn_(std::move(fn)), options_(std::move(options)), window_(window) {}

  void start(asio::any_io_executor ex) override {
    auto strand = make_any_strand(ex);
    wake_.emplace(strand, asio::steady_timer::time_point::max());
    deadline_.emplace(strand);
    it_.emplace(std::ranges::begin(view_));
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

  bool started() const noexcept override {
    std::lock_guard lock(start_mutex_);
    return strand_.has_value();
  }

  executor_type get_executor() const override { return *strand_; }

  /// The number of items, when the range knows it without being walked.
  std::optional<std::size_t> size_hint() {
    if constexpr (std::ranges::sized_range<View>)
      return static_cast<std::size_t>(std::ranges::size(view_));
    else
      return std::nullopt;
  }

  asio::awaitable<std::optional<completed_type>> next() override {
    return next(this->shared_from_this());
  }

  static asio::awaitable<std::optional<completed_type>> next(std::shared_ptr<gather_engine> self) {
    // Cancellation of the caller is an event to handle (stop the run, wait for the items), not
    // an exception to unwind with.
    co_await asio::this_coro::throw_if_cancelled(false);
    if (!self->deadline_armed_) self->arm_deadline();
    for (;;) {
      if (!self->failure_) {
        self->fill();
        self->skip_unstarted();
      }
      if (self->failure_) {
        // The range threw (here, or in a worker): nothing more is taken, the running items
        // were cancelled, and the exception waits until they have ended, since they may refer
        // to the range and to whatever the caller's frame holds.
        if (self->in_flight_ == 0) {
          self->deadline_->cancel();
          std::rethrow_exception(std::exchange(self->failure_, nullptr));
        }
      } else {
        if (auto done = self->pop_ready()) co_return done;
        if (self->exhausted() && self->in_flight_ == 0) {
          self->deadline_->cancel();
          co_return std::nullopt;
        }
      }
      // Everything here runs on the strand, so no completion can slip in between this check
      // and the wait: an item that finishes wakes us by cancelling the timer.
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() == asio::cancellation_type::none) {
        self->wake_->expires_at(asio::steady_timer::time_point::max());
        co_await self->wake_->async_wait(asio::as_tuple(asio::use_awaitable));
        state = co_await asio::this_coro::cancellation_state;
      }
      if (state.cancelled() != asio::cancellation_type::none) {
        co_await asio::this_coro::reset_cancellation_state();
        self->stop(stop_reason::cancelled);
      }
    }
  }

  /// gather's collector: runs the whole input and completes with one result per item, in input
  /// order. Outcomes go straight into the vector (the sink), and this coroutine is woken only
  /// when the run is over or stopping, not once per outcome. Instead of next(), not with it.
  static asio::awaitable<std::vector<result_type>> collect(std::shared_ptr<gather_engine> self) {
    self->sink_ = true;
    if (auto n = self->size_hint()) self->out_.reserve(*n);
    // In sink mode nothing is ever ready to pop: next() returns once, when every item is in.
    while (co_await next(self)) {
    }
    co_return std::move(self->out_);
  }

  void cancel() override {
    std::unique_lock lock(start_mutex_);
    if (!strand_) {
      cancel_requested_ = true;  // start() applies it
      return;
    }
    auto strand = *strand_;
    lock.unlock();
    asio::post(strand, [self = this->shared_from_this()] { self->stop(stop_reason::cancelled); });
  }

 private:
  // One worker: its cancellation signal and the item it runs now.
  struct child {
    asio::cancellation_signal signal;
    std::size_t index = 0;
    stop_reason reason = stop_reason::none;
    bool active = false;
  };

  // Where a worker keeps its current item: a pointer to an element that stays put, or the
  // element itself, moved out of the range.
  using item_slot =
      std::conditional_t<traits::by_reference, std::remove_reference_t<typename traits::reference>*,
                         std::optional<typename traits::stored>>;

  static constexpr std::size_t yield_every = 64;  // items a worker takes between two yields

  // The range threw: it is not touched again, the running items are cancelled, and next()
  // throws once they have ended.
  void range_failed(std::exception_ptr e) {
    failure_ = std::move(e);
    range_failed_ = true;
    stop(stop_reason::cancelled);
    wake_->cancel();
  }

  bool exhausted() { return range_failed_ || *it_ == std::ranges::end(view_); }

  void arm_deadline() {
    deadline_armed_ = true;
    if (options_.timeout <= std::chrono::steady_clock::duration::zero()) return;
    deadline_->expires_after(options_.timeout);
    deadline_->async_wait([weak = this->weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->stop(stop_reason::timeout);
    });
  }

  bool in_order() const { return window_ > 0; }

  // In input order, the reorder buffer may span at most window_ items.
  bool window_has_room() const { return !in_order() || next_index_ - next_to_yield_ < window_; }

  // Whether an item may start now: fill() starts workers while this holds, and a worker that
  // just delivered takes another item if it does. In completion order the outcomes not yet
  // taken by the consumer are bounded by the cap as well: a worker whose items complete inline
  // frees its slot at once, and without that bound would run the whole input ahead of a slow
  // consumer.
  bool may_start() {
    const auto cap = options_.max_concurrency;
    return stop_ == stop_reason::none && !exhausted() && (cap == 0 || in_flight_ < cap) &&
           window_has_room() && (sink_ || in_order() || cap == 0 || ready_.size() < cap);
  }

  // Starts workers while slots are free.
  void fill() {
    while (may_start()) spawn_worker();
  }

  // Once the run is stopping, items never started report the reason, a few at a time so that
  // a huge remaining input is never turned into a huge buffer of errors (gather's vector holds
  // them all anyway, so there they go in at once).
  void skip_unstarted() {
    while (stop_ != stop_reason::none && !exhausted() && window_has_room() &&
           (sink_ || in_order() || ready_.empty())) {
      try {
        ++*it_;
      } catch (...) {
        range_failed(std::current_exception());
        return;
      }
      deliver(next_index_++, result_type(boost::system::in_place_error, stop_error(stop_)));
    }
  }

  std::optional<completed_type> pop_ready() {
    if (in_order()) {
      if (reorder_.empty() || !reorder_.front()) return std::nullopt;
      completed_type done{next_to_yield_++, std::move(*reorder_.front())};
      reorder_.pop_front();
      return done;
    }
    if (ready_.empty()) return std::nullopt;
    auto done = std::move(ready_.front());
    ready_.pop_front();
    return done;
  }

  // Takes the next element into `item`, as its own (an element made on the fly is moved or
  // copied out before the iterator moves on). The item's index is assigned by begin_item().
  // False when the range threw (see range_failed()).
  bool take(item_slot& item) {
    try {
      if constexpr (traits::by_reference) {
        item = std::addressof(**it_);
      } else {
        item.emplace(std::ranges::iter_move(*it_));
      }
      ++*it_;
      return true;
    } catch (...) {
      if constexpr (!traits::by_reference) item.reset();
      range_failed(std::current_exception());
      return false;
    }
  }

  void begin_item(child& c) {
    c.index = next_index_++;
    c.reason = stop_reason::none;
    c.active = true;
    ++in_flight_;
  }

  // Starts a worker on the next item (taken here, synchronously, so items start in input order
  // and only when fill() says so). The worker may run inline up to its first suspension.
  void spawn_worker() {
    item_slot item{};
    if (!take(item)) return;
    child& c = acquire_child();
    begin_item(c);
    asio::co_spawn(*strand_, work(this, c, std::move(item)),
                   asio::bind_cancellation_slot(
                       c.signal.slot(), [self = this->shared_from_this(), &c](std::exception_ptr) {
                         self->free_.push_back(&c);
                       }));
  }

  // A worker: runs its item, delivers the outcome, and takes the next item while one may start,
  // so a run costs a co_spawn per worker, not per item. The completion handler holds the engine
  // for as long as this runs; it is called at the very end of the worker's entry point, and only
  // puts the child back on the free list: the entry point has unwound before fill() can take it
  // again (and give its signal's slot to a new worker).
  static asio::awaitable<void> work(gather_engine* self, child& c, item_slot item) {
    std::size_t taken = 1;
    for (;;) {
      std::optional<result_type> outcome;
      if (c.reason != stop_reason::none) {
        // Stopped while the worker yielded (below): the item reports it without running.
        outcome.emplace(boost::system::in_place_error, stop_error(c.reason));
      } else {
        try {
          if constexpr (std::is_void_v<value_type>) {
            co_await invoke(self->fn_, *item, c.index);
            outcome.emplace();
          } else {
            outcome.emplace(boost::system::in_place_value,
                            co_await invoke(self->fn_, *item, c.index));
          }
        } catch (...) {
          // Thrown by the call, by its coroutine, or by our co_await itself when the worker's
          // state was already cancelled (throw_if_cancelled): an outcome in every case.
          outcome.emplace(boost::system::in_place_error, error_from_current_exception());
        }
      }
      if constexpr (!traits::by_reference) item.reset();  // the element dies with its item
      self->finish(c, std::move(*outcome));

      // Terminal cancellation emitted into this worker stays in its state: it takes no more
      // items (after stop() none would start anyway), and its state is reset so that the entry
      // point's own last co_await (its post when the worker never suspended) cannot throw.
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        co_await asio::this_coro::reset_cancellation_state();
        co_return;
      }
      if (!self->may_start() || !self->take(item)) co_return;
      self->begin_item(c);
      // Each item starts with the cancellation behaviour a fresh coroutine has, whatever the
      // previous item's coroutine set on the worker (a filter, throw_if_cancelled).
      co_await asio::this_coro::reset_cancellation_state();
      co_await asio::this_coro::throw_if_cancelled(true);
      // A worker whose items complete inline would keep the strand, and its thread, for the
      // whole input: every so often it goes through the scheduler, which lets other handlers in,
      // and stop() (the deadline, cancel()) with them. The item is counted meanwhile, so the run
      // cannot end under it.
      if (++taken % yield_every == 0) co_await asio::post(asio::use_awaitable);
    }
  }

  static typename traits::awaitable_type invoke(F& fn, typename traits::arg item,
                                                std::size_t index) {
    if constexpr (traits::takes_index)
      return std::invoke(fn, item, index);
    else
      return std::invoke(fn, item);
  }

  // The worker's item has ended: record its outcome.
  void finish(child& c, result_type r) {
    // Inactive before stop() can run below: a worker never cancels itself.
    c.active = false;
    --in_flight_;
    if (!r && c.reason != stop_reason::none)
      r = result_type(boost::system::in_place_error, stop_error(c.reason));
    else if (!r && options_.fail_fast)
      stop(stop_reason::fail_fast);
    deliver(c.index, std::move(r));
  }

  void deliver(std::size_t index, result_type r) {
    report(index, r);
    if (sink_) {
      store(index, std::move(r));
      // The collector has nothing to do until the run is over (or stop() woke it already).
      if (in_flight_ == 0 && (stop_ != stop_reason::none || exhausted())) wake_->cancel();
      return;
    }
    if (in_order()) {
      auto slot = index - next_to_yield_;
      if (reorder_.size() <= slot) reorder_.resize(slot + 1);
      reorder_[slot].emplace(std::move(r));
    } else {
      // A ring that doubles when full: a deque would allocate a node per large outcome.
      if (ready_.full()) ready_.set_capacity(std::max<std::size_t>(16, 2 * ready_.capacity()));
      ready_.push_back(completed_type{index, std::move(r)});
    }
    wake_->cancel();
  }

  // Sink mode: the outcome goes to its place in gather's vector, which grows (with
  // placeholders, overwritten later) when an item finishes before earlier ones.
  void store(std::size_t index, result_type&& r) {
    if (index < out_.size()) {
      out_[index] = std::move(r);
      return;
    }
    while (out_.size() < index) out_.emplace_back(boost::system::in_place_error);
    out_.push_back(std::move(r));
  }

  void report(std::size_t index, const result_type& r) {
    if (!options_.on_result) return;
    try {
      if (r) {
        options_.on_result(index, nullptr);
      } else {
        const error e = r.error();  // boost::system::result returns it by value
        options_.on_result(index, &e);
      }
    } catch (...) {
      // Documented: a throwing progress hook must not take the run down.
    }
  }

  void stop(stop_reason why) {
    if (stop_ != stop_reason::none) return;
    stop_ = why;
    deadline_->cancel();
    for (auto& c : children_) {
      if (!c.active) continue;
      c.reason = why;
      c.signal.emit(asio::cancellation_type::terminal);
    }
    wake_->cancel();
  }

  child& acquire_child() {
    if (free_.empty()) return children_.emplace_back();
    child* c = free_.back();
    free_.pop_back();
    return *c;
  }

  View view_;
  F fn_;
  gather_options options_;
  std::optional<executor_type> strand_;
  std::optional<asio::steady_timer> wake_;  // never expires; cancelled to wake next()
  std::optional<asio::steady_timer> deadline_;
  std::optional<std::ranges::iterator_t<View>> it_;
  std::size_t next_index_ = 0;
  std::size_t in_flight_ = 0;
  bool deadline_armed_ = false;
  bool sink_ = false;  // gather: outcomes go to out_, nothing is yielded
  stop_reason stop_ = stop_reason::none;
  std::size_t window_ = 0;
  std::size_t next_to_yield_ = 0;
  std::exception_ptr failure_;      // the range threw: next() rethrows it once nothing runs
  bool range_failed_ = false;       // and is not touched again
  mutable std::mutex start_mutex_;  // strand_ and cancel_requested_, for cancel() on any thread
  bool cancel_requested_ = false;
  boost::circular_buffer<completed_type> ready_;    // completion order
  std::deque<std::optional<result_type>> reorder_;  // input order, from next_to_yield_ on
  std::vector<result_type> out_;                    // sink mode: gather's results
  // One per live worker, at most the cap. A deque: stable addresses, allocated in blocks (with
  // no cap there is one worker per item in flight).
  std::deque<child> children_;
  std::vector<child*> free_;
};

template <class Range, class F>
auto make_gather_engine(Range&& inputs, F&& fn, gather_options options, std::size_t window = 0) {
  using engine = gather_engine<std::views::all_t<Range>, std::decay_t<F>>;
  return std::make_shared<engine>(std::views::all(std::forward<Range>(inputs)), std::forward<F>(fn),
                                  std::move(options), window);
}

}  // namespace fanout::detail

#endif
