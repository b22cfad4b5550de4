#ifndef FANOUT_CORE_DETAIL_ENGINE_BASE_HPP
#define FANOUT_CORE_DETAIL_ENGINE_BASE_HPP

// The half of a gather run that does not depend on the items' types: the strand, the deadline,
// the stop and its fan-out to the workers, the consumer's wait loop, and the spawning of
// workers. It is compiled once (in the compiled mode, once per program), so a user's file that
// runs a gather instantiates only what touches its range, its callable and its results:
// gather_engine in gather_engine.hpp.

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>
#include <fanout/core/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace fanout::detail {

enum class stop_reason { none, fail_fast, timeout, cancelled };

/// What an item stopped for `why` reports.
FANOUT_DECL error stop_error(stop_reason why);

class engine_base : public std::enable_shared_from_this<engine_base> {
 public:
  using executor_type = boost::asio::any_io_executor;  // a strand: see make_any_strand

  engine_base(const engine_base&) = delete;
  engine_base& operator=(const engine_base&) = delete;

  /// Binds the run to a new strand of `ex`. Called once, before the consumer first waits.
  FANOUT_DECL void start(const boost::asio::any_io_executor& ex);
  FANOUT_DECL bool started() const noexcept;
  executor_type get_executor() const { return *strand_; }

  /// Stops the run from any thread; items still running are cancelled.
  FANOUT_DECL void cancel();

  /// The consumer's loop, on the strand: starts items as slots free (advance()) and returns
  /// when an outcome is ready to take (has_ready()) or every item has ended. Rethrows the
  /// range's exception once no item runs. Cancellation of the caller stops the run (the rest
  /// report `errc::cancelled`) and is not rethrown: the loop goes on until the items have ended.
  static FANOUT_DECL boost::asio::awaitable<void> pump(std::shared_ptr<engine_base> self);

  /// pump() on the run's strand, from the caller's executor: when it completes, every item has
  /// ended and the outcomes may be read from the caller's side.
  static FANOUT_DECL boost::asio::awaitable<void> run_to_end(std::shared_ptr<engine_base> self);

 protected:
  // One worker: its cancellation signal and the item it runs now.
  struct child {
    boost::asio::cancellation_signal signal;
    std::size_t index = 0;
    stop_reason reason = stop_reason::none;
    bool active = false;
  };

  FANOUT_DECL engine_base(gather_options options, std::size_t window) noexcept;
  FANOUT_DECL virtual ~engine_base();

  /// Starts items while they may start, and reports the unstarted ones once the run stops.
  virtual void advance() = 0;
  /// No element is left to take (or the range threw).
  virtual bool exhausted() = 0;
  /// An outcome waits for the consumer (never, when outcomes go straight to gather's vector).
  virtual bool has_ready() const = 0;

  /// The range threw: it is not touched again, the running items are cancelled, and pump()
  /// rethrows once they have ended.
  FANOUT_DECL void range_failed(std::exception_ptr e);

  /// Ends the run early: running items are cancelled with `why`, unstarted ones report it.
  FANOUT_DECL void stop(stop_reason why);

  /// Wakes the consumer waiting in pump().
  FANOUT_DECL void wake_consumer();

  /// Runs `worker` on the strand for child `c`; when it has ended the child is free again.
  FANOUT_DECL void launch(child& c, boost::asio::awaitable<void> worker);

  FANOUT_DECL child& acquire_child();

  void begin_item(child& c) {
    c.index = next_index_++;
    c.reason = stop_reason::none;
    c.active = true;
    ++in_flight_;
  }

  // The worker's item has ended; true when the outcome should report `c.reason` instead.
  bool end_item(child& c, bool failed) {
    // Inactive before stop() can run: a worker never cancels itself.
    c.active = false;
    --in_flight_;
    if (failed && c.reason != stop_reason::none) return true;
    if (failed && options_.fail_fast) stop(stop_reason::fail_fast);
    return false;
  }

  /// pump()'s first step when it would return at once: the run is under way, the range has
  /// not thrown, and after advance() an outcome waits.
  bool ready_now() {
    if (!deadline_armed_ || failure_) return false;
    advance();
    return !failure_ && has_ready();
  }

  /// The progress hook; whatever it throws is dropped (documented).
  FANOUT_DECL void report(std::size_t index, const error* e) noexcept;

  bool in_order() const { return window_ > 0; }

  // In input order, the reorder buffer may span at most window_ items.
  bool window_has_room() const { return !in_order() || next_index_ - next_to_yield_ < window_; }

  gather_options options_;
  std::size_t next_index_ = 0;
  std::size_t in_flight_ = 0;
  bool sink_ = false;  // gather: outcomes go to its vector, nothing is yielded
  stop_reason stop_ = stop_reason::none;
  std::size_t window_ = 0;
  std::size_t next_to_yield_ = 0;
  bool range_failed_ = false;  // the range is not touched again

 private:
  struct worker_done;

  FANOUT_DECL void arm_deadline();

  std::optional<executor_type> strand_;
  std::optional<boost::asio::steady_timer> wake_;  // never expires; cancelled to wake pump()
  std::optional<boost::asio::steady_timer> deadline_;
  bool deadline_armed_ = false;
  std::exception_ptr failure_;      // the range threw: pump() rethrows it once nothing runs
  mutable std::mutex start_mutex_;  // strand_ and cancel_requested_, for cancel() on any thread
  bool cancel_requested_ = false;
  // One per live worker, at most the cap. A deque: stable addresses, allocated in blocks (with
  // no cap there is one worker per item in flight).
  std::deque<child> children_;
  std::vector<child*> free_;
};

}  // namespace fanout::detail

#ifndef FANOUT_SEPARATE_COMPILATION
#include <fanout/core/detail/impl/engine_base.ipp>
#endif

#endif
