#ifndef FANOUT_HTTP_DETAIL_HTTP1_CONNECTION_POOL_HPP
#define FANOUT_HTTP_DETAIL_HTTP1_CONNECTION_POOL_HPP

#include <fanout/config.hpp>
#include <fanout/core/detail/waiter_queue.hpp>
#include <fanout/http/detail/http1/connection.hpp>
#include <fanout/http/detail/sansio/pool_state.hpp>
#include <fanout/http/options.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace fanout::detail {

class connection_pool;

/// A connection checked out of the pool: move-only, returned on destruction. Unless `release`
/// says it may be reused, destroying the handle closes the connection and frees its slot.
class pooled_connection {
 public:
  pooled_connection() = default;
  pooled_connection(std::shared_ptr<connection_pool> pool, std::shared_ptr<connection> conn,
                    bool fresh) noexcept
      : pool_(std::move(pool)), conn_(std::move(conn)), fresh_(fresh) {}
  pooled_connection(pooled_connection&&) noexcept = default;
  pooled_connection& operator=(pooled_connection&& o) noexcept {
    if (this != &o) {
      reset();
      pool_ = std::move(o.pool_);
      conn_ = std::move(o.conn_);
      fresh_ = o.fresh_;
    }
    return *this;
  }
  ~pooled_connection() { reset(); }

  connection* operator->() const noexcept { return conn_.get(); }
  connection& operator*() const noexcept { return *conn_; }
  const std::shared_ptr<connection>& get() const noexcept { return conn_; }
  explicit operator bool() const noexcept { return conn_ != nullptr; }
  /// True for a connection opened for this request (still to be connected).
  bool fresh() const noexcept { return fresh_; }

  /// Returns the connection to the pool: idle until `idle_for` passes when `keep`, else closed.
  void release(bool keep, connection::clock::duration idle_for);
  /// Closes the connection and frees its slot.
  void reset() noexcept;
  /// The new connection could not open a socket for lack of file descriptors. True when other
  /// connections of the session are open: the slot is freed, the pool's total cap lowered to
  /// them (until connections open again), and the request should ask for a connection again,
  /// waiting for one of them. False, the connection still held, when none is.
  bool out_of_descriptors();

 private:
  std::shared_ptr<connection_pool> pool_;
  std::shared_ptr<connection> conn_;
  bool fresh_ = false;
};

/// The session's connections, keyed by origin: the `pool_state` rules plus the I/O they imply
/// (closing sockets on their strands, waking waiters, expiring idle connections on a timer).
/// Thread-safe; shared by every request of a session.
class connection_pool : public std::enable_shared_from_this<connection_pool> {
 public:
  using clock = connection::clock;

  /// What `async_acquire` completes with.
  struct acquired {
    boost::system::error_code
        ec;  ///< `errc::timeout`, `errc::cancelled`, `http_errc::too_many_pending`
    pooled_connection conn;
  };

  connection_pool(boost::asio::any_io_executor ex, const session_options& o)
      : ex_(ex),
        sweep_timer_(boost::asio::make_strand(ex)),
        state_(o.max_connections_per_host, o.max_connections, o.max_pending_requests) {}

  ~connection_pool() { close(); }

  struct waiter;

  /// What `try_acquire` decides without waiting: a connection (or the pool's refusal), or a
  /// queued waiter to pass to `acquire`.
  struct first_step {
    std::optional<acquired> got;
    std::shared_ptr<waiter> queued;
  };

  /// Checks out a connection to `where` if that needs no waiting: a live idle one (LIFO) unless
  /// `fresh`, else a new one (not yet connected: `conn.fresh()`). When the caps are reached,
  /// returns a waiter for `acquire`, which queues it (FIFO, until `deadline`). Not a coroutine:
  /// the usual case costs no frame.
  first_step try_acquire(const url_parts& where, bool fresh, clock::time_point deadline) {
    for (;;) {
      typename state_type::acquire_result r;
      {
        std::lock_guard lock(mutex_);
        if (state_.closed()) return {acquired{make_error_code(errc::cancelled), {}}, nullptr};
        r = state_.acquire(where.origin, clock::now(), fresh);
      }
      close_later(r.side.close);
      if (r.what == state_type::kind::full)
        return {acquired{make_error_code(http_errc::too_many_pending), {}}, nullptr};
      // Not queued yet: `acquire` queues it when it starts to wait, so that a caller cancelled
      // before then (its co_await throws at once) leaves nothing behind in the queue.
      if (r.what == state_type::kind::wait)
        return {std::nullopt, std::make_shared<waiter>(ex_, deadline)};
      if (auto got = take(where, r.what, std::move(r.conn))) return {std::move(got), nullptr};
    }
  }

  /// Queues the waiter `try_acquire` returned and waits, then checks the connection out as it
  /// does. Runs on the caller's executor; cancelling the caller abandons the wait.
  boost::asio::awaitable<acquired> acquire(std::shared_ptr<waiter> w, const url_parts& where,
                                           bool fresh, clock::time_point deadline,
                                           clock::duration& waited) {
    for (;;) {
      auto const t0 = clock::now();
      auto [ec, what, conn] = co_await async_wait(
          std::move(w), where.origin, fresh, boost::asio::as_tuple(boost::asio::use_awaitable));
      waited += clock::now() - t0;
      if (ec) co_return acquired{ec, {}};
      if (auto got = take(where, static_cast<typename state_type::kind>(what), std::move(conn)))
        co_return std::move(*got);
      // The granted connection had died while idle: start over.
      auto step = try_acquire(where, fresh, deadline);
      if (step.got) co_return std::move(*step.got);
      w = std::move(step.queued);
    }
  }

  /// Closes idle connections, fails waiters with `errc::cancelled`, and closes the sockets of
  /// connections in use (their requests fail with `errc::cancelled`). Later acquires fail.
  void close() {
    std::vector<std::shared_ptr<connection>> active;
    state_type::actions a;
    {
      std::lock_guard lock(mutex_);
      if (state_.closed()) return;
      a = state_.close_all();
      for (connection* c = all_; c; c = c->next_)
        if (auto sp = c->weak_from_this().lock()) active.push_back(std::move(sp));
    }
    deliver(a);
    for (auto& c : active) close_later(c);
    boost::asio::post(sweep_timer_.get_executor(), [t = &sweep_timer_, self = weak_from_this()] {
      if (auto s = self.lock()) t->cancel();
    });
  }

  /// A new connection's socket connected: counted in `connections_opened`, and it may raise
  /// a total cap that a lack of descriptors lowered.
  void connected() {
    opened_.fetch_add(1, std::memory_order_relaxed);
    state_type::actions a;
    {
      std::lock_guard lock(mutex_);
      a = state_.connected();
    }
    deliver(a);
  }

  /// Connections whose socket connected (not attempts).
  std::size_t connections_opened() const noexcept { return opened_.load(); }
  std::size_t connections_reused() const noexcept { return reused_.load(); }
  std::size_t stale_detected() const noexcept { return stale_.load(); }
  std::size_t open_connections() {
    std::lock_guard lock(mutex_);
    return state_.open_total();
  }
  std::size_t idle_connections() {
    std::lock_guard lock(mutex_);
    return state_.idle_total();
  }

 private:
  friend class pooled_connection;
  // The suspended caller of `async_wait`, completed with (error, state_type::kind, connection):
  // the same mechanism as the semaphore's and the rate limiter's queues.
  using wait_queue = waiter_queue<int, std::shared_ptr<connection>>;
  using signature = void(boost::system::error_code, int, std::shared_ptr<connection>);

 public:
  /// A request queued for a connection (opaque to callers: `try_acquire` makes it).
  struct waiter {
    waiter(boost::asio::any_io_executor ex, clock::time_point deadline) : timer(ex, deadline) {}
    boost::asio::steady_timer timer;
    // Set while queued, under the pool's mutex; whoever decides the outcome (a grant, the
    // deadline, a cancellation, close) takes it, once.
    std::optional<wait_queue::waiter> caller;
  };

 private:
  using state_type = pool_state<std::shared_ptr<connection>, std::shared_ptr<waiter>>;

  // Deleter of connections: unlinks from the list of open connections.
  struct unlink {
    std::shared_ptr<connection_pool> pool;
    void operator()(connection* c) const noexcept {
      {
        std::lock_guard lock(pool->mutex_);
        if (c->prev_)
          c->prev_->next_ = c->next_;
        else
          pool->all_ = c->next_;
        if (c->next_) c->next_->prev_ = c->prev_;
      }
      delete c;
    }
  };

  // A connection the pool granted (`what` is reuse or open): checked out, or nullopt when a
  // reused one turns out to have been closed by the server while idle (it is dropped).
  std::optional<acquired> take(const url_parts& where, typename state_type::kind what,
                               std::shared_ptr<connection> conn) {
    if (what == state_type::kind::reuse) {
      if (!conn->alive()) {
        stale_.fetch_add(1, std::memory_order_relaxed);
        pooled_connection dead(shared_from_this(), std::move(conn), false);
        return std::nullopt;
      }
      reused_.fetch_add(1, std::memory_order_relaxed);
      return acquired{{}, pooled_connection(shared_from_this(), std::move(conn), false)};
    }
    auto fresh_conn = make_connection(where);
    return acquired{{}, pooled_connection(shared_from_this(), std::move(fresh_conn), true)};
  }

  std::shared_ptr<connection> make_connection(const url_parts& where) {
    std::shared_ptr<connection> c(new connection(ex_, where), unlink{shared_from_this()});
    std::lock_guard lock(mutex_);
    c->next_ = all_;
    if (all_) all_->prev_ = c.get();
    all_ = c.get();
    return c;
  }

  // Queues `w` for `origin` and completes when it is granted, times out or is cancelled. The
  // queueing happens here, in the initiation, once the handler exists: every queued waiter has a
  // handler to hand its grant to. The caps are checked again, since they may have changed since
  // `try_acquire`.
  template <class Token>
  auto async_wait(std::shared_ptr<waiter> w, std::string_view origin, bool fresh, Token&& token)
      -> decltype(boost::asio::async_initiate<Token, signature>(
          std::declval<void (*)(wait_queue::handler_type, std::shared_ptr<waiter>, std::string_view,
                                bool)>(),
          token, std::move(w), origin, fresh)) {
    return boost::asio::async_initiate<Token, signature>(
        [this](auto handler, std::shared_ptr<waiter> w, std::string_view origin, bool fresh) {
          // With a lazy token this lambda lives in the operation's frame, which goes as soon as
          // the handler runs, on any thread, maybe before this body ends: so nothing after the
          // hand-off may read the capture. `start_wait`'s `this` is its own.
          start_wait(wait_queue::prepare(std::move(handler), ex_), std::move(w), origin, fresh);
        },
        token, std::move(w), origin, fresh);
  }

  void start_wait(wait_queue::waiter caller, std::shared_ptr<waiter> w, std::string_view origin,
                  bool fresh) {
    // The caller may resume, on another thread, as soon as the lock is released, and drop the
    // last other owner of the pool: the pool lives until this call ends.
    auto self = shared_from_this();
    std::unique_lock lock(mutex_);
    if (state_.closed()) {
      lock.unlock();
      wait_queue::complete(std::move(caller), make_error_code(errc::cancelled), 0, nullptr);
      return;
    }
    auto r = state_.acquire(origin, clock::now(), fresh);
    if (r.what != state_type::kind::wait) {
      lock.unlock();
      close_later(r.side.close);
      if (r.what == state_type::kind::full)
        wait_queue::complete(std::move(caller), make_error_code(http_errc::too_many_pending), 0,
                             nullptr);
      else
        wait_queue::complete(std::move(caller), {}, static_cast<int>(r.what), std::move(r.conn));
      return;
    }
    state_.enqueue(origin, w, fresh);
    wait_queue::on_cancel(caller,
                          [self, w] { self->give_up(w, make_error_code(errc::cancelled)); });
    w->caller.emplace(std::move(caller));
    w->timer.async_wait([self, w](boost::system::error_code ec) {
      if (!ec) self->give_up(w, make_error_code(errc::timeout));
    });
    lock.unlock();
    close_later(r.side.close);
  }

  // The waiter's deadline passed or it was cancelled: leave the queue unless already granted.
  void give_up(const std::shared_ptr<waiter>& w, boost::system::error_code ec) {
    std::unique_lock lock(mutex_);
    if (!w->caller || !state_.cancel(w)) return;
    auto caller = take_caller(*w);
    lock.unlock();
    wait_queue::complete(std::move(caller), ec, 0, nullptr);
  }

  // Under the lock: the queued caller, its timer stopped.
  static wait_queue::waiter take_caller(waiter& w) {
    w.timer.cancel();
    auto caller = std::move(*w.caller);
    w.caller.reset();
    return caller;
  }

  // Completes granted waiters and closes connections, outside the lock.
  void deliver(state_type::actions& a) {
    struct outcome {
      wait_queue::waiter caller;
      boost::system::error_code ec;
      int what;
      std::shared_ptr<connection> conn;
    };
    std::vector<outcome> ready;
    if (!a.grants.empty()) {
      std::lock_guard lock(mutex_);
      for (auto& g : a.grants) {
        if (!g.waiter->caller) continue;
        // A grant of `wait` is the pool closing: the waiter is failed, not served.
        auto ec = g.what == state_type::kind::wait ? make_error_code(errc::cancelled)
                                                   : boost::system::error_code();
        ready.push_back({take_caller(*g.waiter), ec, static_cast<int>(g.what), std::move(g.conn)});
      }
    }
    close_later(a.close);
    for (auto& o : ready)
      wait_queue::complete(std::move(o.caller), o.ec, o.what, std::move(o.conn));
  }

  void close_later(std::vector<std::shared_ptr<connection>>& conns) {
    for (auto& c : conns) close_later(c);
  }
  static void close_later(std::shared_ptr<connection>& c) {
    auto& strand = c->strand();
    boost::asio::post(strand, [c = std::move(c)] { c->close(); });
  }

  void give_back(std::shared_ptr<connection> c, bool keep, clock::duration idle_for) {
    state_type::actions a;
    auto const now = clock::now();
    bool arm = false;
    {
      std::lock_guard lock(mutex_);
      // A view of the connection's own string: the connection outlives the call (it is kept
      // idle, or handed back in `a` to be closed).
      std::string_view origin = c->origin();
      auto const expires = now + idle_for;
      a = state_.release(origin, std::move(c), keep, now, expires);
      if (keep && state_.idle_total() > 0 && expires < sweep_at_) {
        sweep_at_ = expires;
        arm = true;
      }
    }
    deliver(a);
    if (arm) schedule_sweep();
  }

  bool out_of_descriptors(std::shared_ptr<connection>& c) {
    state_type::actions a;
    {
      std::lock_guard lock(mutex_);
      if (!state_.out_of_descriptors(c->origin(), a)) return false;
    }
    a.close.push_back(std::move(c));
    deliver(a);
    return true;
  }

  void discard(std::shared_ptr<connection> c) {
    state_type::actions a;
    {
      std::lock_guard lock(mutex_);
      a = state_.discard(c->origin());
    }
    a.close.push_back(std::move(c));
    deliver(a);
  }

  // Idle connections are closed when their time is up even if no request comes, so that idle
  // sockets do not linger. One timer per session, for `sweep_at_`: a release moves it only
  // earlier, and when it fires it moves to the earliest expiry still idle, or stops. A
  // connection going back and forth between the pool and requests (one request at a time,
  // say) then touches the timer once per idle timeout, not once per request.
  void schedule_sweep() {
    boost::asio::post(sweep_timer_.get_executor(), [self = shared_from_this()] {
      clock::time_point at;
      {
        std::lock_guard lock(self->mutex_);
        if (self->state_.closed()) return;
        at = self->sweep_at_;
      }
      if (at == clock::time_point::max()) return;
      // Moving the expiry cancels a wait for a later one: that handler sees operation_aborted.
      self->sweep_timer_.expires_at(at);
      self->sweep_timer_.async_wait([self](boost::system::error_code ec) {
        if (ec) return;  // moved earlier, or the pool closed
        state_type::actions a;
        bool again = false;
        {
          std::lock_guard lock(self->mutex_);
          a = self->state_.expire(clock::now());
          self->sweep_at_ =
              self->state_.closed() ? clock::time_point::max() : self->state_.next_expiry();
          again = self->sweep_at_ != clock::time_point::max();
        }
        self->deliver(a);
        if (again) self->schedule_sweep();
      });
    });
  }

  boost::asio::any_io_executor ex_;
  boost::asio::steady_timer sweep_timer_;
  std::mutex mutex_;
  state_type state_;
  connection* all_ = nullptr;
  clock::time_point sweep_at_ = clock::time_point::max();  // the sweep timer's; max: none
  std::atomic<std::size_t> opened_{0}, reused_{0}, stale_{0};
};

inline void pooled_connection::release(bool keep, connection::clock::duration idle_for) {
  if (!conn_) return;
  auto pool = std::move(pool_);
  pool->give_back(std::move(conn_), keep, idle_for);
  conn_.reset();
}

inline void pooled_connection::reset() noexcept {
  if (!conn_) return;
  auto pool = std::move(pool_);
  pool->discard(std::move(conn_));
  conn_.reset();
}

inline bool pooled_connection::out_of_descriptors() {
  if (!conn_ || !pool_->out_of_descriptors(conn_)) return false;
  pool_.reset();
  conn_.reset();
  return true;
}

/// True for the codes of a process (EMFILE) or system (ENFILE) out of file descriptors.
inline bool is_out_of_descriptors(const boost::system::error_code& ec) noexcept {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

}  // namespace fanout::detail

#endif
