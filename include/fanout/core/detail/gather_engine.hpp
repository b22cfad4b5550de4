#ifndef FANOUT_CORE_DETAIL_GATHER_ENGINE_HPP
#define FANOUT_CORE_DETAIL_GATHER_ENGINE_HPP

// The machinery shared by gather and as_completed: one engine per run starts items lazily up to
// the cap, collects their outcomes, and applies fail-fast, the deadline and cancellation. All of
// its state and every item coroutine live on one strand, so it needs no locks and is safe on a
// multi-threaded executor. What does not depend on the items' types is engine_base's.

#include <fanout/config.hpp>
#include <fanout/core/detail/engine_base.hpp>
#include <fanout/core/error.hpp>
#include <fanout/core/options.hpp>
#include <fanout/core/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
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

/// One run over `View` with `F`: what depends on the items' types (taking elements, running the
/// callable, keeping outcomes). `Sink` is gather's mode: outcomes go straight into its vector
/// in input order, and nothing is ever yielded; otherwise they queue for next(), in completion
/// order or (window > 0) in input order. Everything else is engine_base's, compiled once.
template <class View, class F, bool Sink>
class gather_engine : public engine_base {
  using traits = item_traits<View, F>;

 public:
  using value_type = typename traits::awaitable_type::value_type;
  using result_type = result<value_type>;
  using completed_type = completed<value_type>;

  /// `window` > 0 yields outcomes in input order, with at most `window` items between the
  /// oldest not yet yielded and the newest started (the reorder buffer's bound); 0 yields them
  /// in completion order.
  gather_engine(View view, F fn, gather_options options, std::size_t window = 0)
      : engine_base(std::move(options), window), view_(std::move(view)), fn_(std::move(fn)) {
    sink_ = Sink;
    if constexpr (Sink) {
      if constexpr (std::ranges::sized_range<View>)
        out_.reserve(static_cast<std::size_t>(std::ranges::size(view_)));
    }
  }

  void start(asio::any_io_executor ex) {
    it_.emplace(std::ranges::begin(view_));
    engine_base::start(ex);
  }

  /// gather's collector: runs the whole input on the strand and completes, back on the caller's
  /// executor, with one result per item in input order.
  static asio::awaitable<std::vector<result_type>> collect(std::shared_ptr<gather_engine> self) {
    static_assert(Sink);
    co_await run_to_end(self);
    co_return std::move(self->out_);
  }

  /// The next outcome in the stream's order, or nullopt when every item has been yielded.
  static asio::awaitable<std::optional<completed_type>> next(std::shared_ptr<gather_engine> self) {
    static_assert(!Sink);
    // An outcome often waits already: then this takes it without pump()'s frame.
    if (!self->ready_now()) co_await pump(self);
    co_return self->pop_ready();
  }

 protected:
  std::shared_ptr<gather_engine> self_ptr() {
    return std::static_pointer_cast<gather_engine>(shared_from_this());
  }

 private:
  // Where a worker keeps its current item: a pointer to an element that stays put, or the
  // element itself, moved out of the range.
  using item_slot =
      std::conditional_t<traits::by_reference, std::remove_reference_t<typename traits::reference>*,
                         std::optional<typename traits::stored>>;

  static constexpr std::size_t yield_every = 64;  // items a worker takes between two yields

  bool exhausted() final { return range_failed_ || *it_ == std::ranges::end(view_); }

  bool has_ready() const final {
    if constexpr (Sink) {
      return false;
    } else {
      if (in_order()) return !reorder_.empty() && reorder_.front().has_value();
      return !ready_.empty();
    }
  }

  void advance() final {
    fill();
    skip_unstarted();
  }

  // Whether an item may start now: fill() starts workers while this holds, and a worker that
  // just delivered takes another item if it does. In completion order the outcomes not yet
  // taken by the consumer are bounded by the cap as well: a worker whose items complete inline
  // frees its slot at once, and without that bound would run the whole input ahead of a slow
  // consumer.
  bool may_start() {
    const auto cap = options_.max_concurrency;
    return stop_ == stop_reason::none && !exhausted() && (cap == 0 || in_flight_ < cap) &&
           window_has_room() && (Sink || in_order() || cap == 0 || queued() < cap);
  }

  std::size_t queued() const {
    if constexpr (Sink)
      return 0;
    else
      return ready_.size();
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
           (Sink || in_order() || queued() == 0)) {
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

  // Starts a worker on the next item (taken here, synchronously, so items start in input order
  // and only when fill() says so). The worker may run inline up to its first suspension.
  void spawn_worker() {
    item_slot item{};
    if (!take(item)) return;
    child& c = acquire_child();
    begin_item(c);
    launch(c, work(this, c, std::move(item)));
  }

  // A worker: runs its item, delivers the outcome, and takes the next item while one may start,
  // so a run costs a co_spawn per worker, not per item. launch() keeps the engine alive for as
  // long as this runs.
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
    if (end_item(c, !r)) r = result_type(boost::system::in_place_error, stop_error(c.reason));
    deliver(c.index, std::move(r));
  }

  void deliver(std::size_t index, result_type r) {
    if (options_.on_result) {
      if (r) {
        report(index, nullptr);
      } else {
        const error e = r.error();  // boost::system::result returns it by value
        report(index, &e);
      }
    }
    if constexpr (Sink) {
      store(index, std::move(r));
      // The collector has nothing to do until the run is over (or stop() woke it already).
      if (in_flight_ == 0 && (stop_ != stop_reason::none || exhausted())) wake_consumer();
    } else {
      if (in_order()) {
        auto slot = index - next_to_yield_;
        if (reorder_.size() <= slot) reorder_.resize(slot + 1);
        reorder_[slot].emplace(std::move(r));
      } else {
        // A ring that doubles when full: a deque would allocate a node per large outcome.
        if (ready_.full()) ready_.set_capacity(std::max<std::size_t>(16, 2 * ready_.capacity()));
        ready_.push_back(completed_type{index, std::move(r)});
      }
      wake_consumer();
    }
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

  // Whichever the mode keeps; the other is an empty placeholder.
  struct queues {
    boost::circular_buffer<completed_type> ready;    // completion order
    std::deque<std::optional<result_type>> reorder;  // input order, from next_to_yield_ on
  };
  struct nothing {};

  View view_;
  F fn_;
  std::optional<std::ranges::iterator_t<View>> it_;
  std::conditional_t<Sink, std::vector<result_type>, nothing> out_;  // gather's results
  std::conditional_t<Sink, nothing, boost::circular_buffer<completed_type>> ready_;
  std::conditional_t<Sink, nothing, std::deque<std::optional<result_type>>> reorder_;
};

/// The stream's face of a run, for as_completed and gather_stream.
template <class View, class F>
class stream_engine final
    : public gather_engine<View, F, false>,
      public completion_source<typename item_traits<View, F>::awaitable_type::value_type> {
  using engine = gather_engine<View, F, false>;

 public:
  using engine::engine;
  using executor_type = asio::any_io_executor;

  void start(asio::any_io_executor ex) override { engine::start(std::move(ex)); }
  bool started() const noexcept override { return engine::started(); }
  executor_type get_executor() const override { return engine::get_executor(); }
  void cancel() override { engine::cancel(); }
  asio::awaitable<std::optional<typename engine::completed_type>> next() override {
    return engine::next(this->self_ptr());
  }
};

/// gather's engine (outcomes into its vector) over `inputs`.
template <class Range, class F>
auto make_gather_engine(Range&& inputs, F&& fn, gather_options options) {
  using engine = gather_engine<std::views::all_t<Range>, std::decay_t<F>, true>;
  return std::make_shared<engine>(std::views::all(std::forward<Range>(inputs)), std::forward<F>(fn),
                                  std::move(options));
}

/// A stream's engine (as_completed, gather_stream) over `inputs`: `window` as gather_engine's.
template <class Range, class F>
auto make_stream_engine(Range&& inputs, F&& fn, gather_options options, std::size_t window = 0) {
  using engine = stream_engine<std::views::all_t<Range>, std::decay_t<F>>;
  return std::make_shared<engine>(std::views::all(std::forward<Range>(inputs)), std::forward<F>(fn),
                                  std::move(options), window);
}

}  // namespace fanout::detail

#endif
