#ifndef FANOUT_HTTP_DETAIL_NET_RESOLVER_CACHE_HPP
#define FANOUT_HTTP_DETAIL_NET_RESOLVER_CACHE_HPP

#include <fanout/config.hpp>
#include <fanout/core/detail/waiter_queue.hpp>
#include <fanout/core/error.hpp>
#include <fanout/http/detail/sansio/lru_map.hpp>
#include <fanout/http/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fanout::detail {

/// The threads that run blocking name lookups (`getaddrinfo`, or a session's own
/// `session_options::resolve`), shared by every session of the process: a few, so that one
/// slow name does not hold up the others, while a crawler cannot start a thread per name.
/// Made at the first lookup (an IP literal never needs one) and never joined: neither a
/// session's destruction nor the program's exit waits for a lookup the system never answers
/// (curl detaches its resolver threads for the same reason).
inline constexpr std::size_t dns_thread_count = 4;
inline boost::asio::thread_pool& dns_threads() {
  static auto* const pool = new boost::asio::thread_pool(dns_thread_count);
  return *pool;
}

/// Asynchronous DNS with a bounded cache per (host, port), on `dns_threads()`. Concurrent
/// misses for one name share one lookup; its answer is reused for `ttl`. Each caller waits on
/// its own: it may be cancelled, or stop waiting on its own deadline (the caller races a
/// timer), while the lookup goes on for the others and still fills the cache. `close()` ends
/// every wait at once. At most `max_entries` answers are kept (least recently used dropped
/// first; 0 = no limit); lookups in progress are never dropped. Thread-safe.
class resolver_cache : public std::enable_shared_from_this<resolver_cache> {
 public:
  using clock = std::chrono::steady_clock;
  using results_type = boost::asio::ip::tcp::resolver::results_type;
  using signature = void(boost::system::error_code, results_type);
  resolver_cache(boost::asio::any_io_executor ex, clock::duration ttl, std::size_t max_entries,
                 resolve_function resolve = {})
      : ttl_(ttl),
        entries_(max_entries),
        resolve_(resolve ? std::make_shared<const resolve_function>(std::move(resolve)) : nullptr),
        mailbox_(std::make_shared<mailbox>(boost::asio::make_strand(ex))) {}

  resolver_cache(const resolver_cache&) = delete;
  resolver_cache& operator=(const resolver_cache&) = delete;

  ~resolver_cache() {
    close();
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->open = false;  // lookups still running drop their answers
  }

  /// Resolves `host:port` (a name, not an IP literal: see `literal`).
  ///
  /// Completion: `(error_code, results_type)`: the addresses, or the resolver's error (for a
  /// `session_options::resolve` that threw: the code of a `boost::system::system_error`, else
  /// `errc::exception`).
  /// Executor: the handler's associated executor (the cache's strand when it has none), through a
  /// post, never inside this call.
  /// Cancellation: per-operation, any type: the wait ends with `operation_aborted`; the lookup
  /// itself goes on (a system call cannot be interrupted) and fills the cache for later callers.
  /// Object lifetimes: the operation holds what it needs; `host` is copied.
  /// Errors: the resolver's, `operation_aborted` when cancelled or after `close()`.
  /// Thread safety: any thread, concurrently with every member.
  template <class Token>
  auto async_resolve(const std::string& host, std::uint16_t port, Token&& token) {
    return boost::asio::async_initiate<Token, signature>(
        // `host` by value: with a lazy token the arguments live in the operation's frame,
        // which goes when the handler runs (`close()` may run it on another thread while
        // `start` still reads the name).
        [this](auto handler, std::string host, std::uint16_t port) {
          start(queue::prepare(std::move(handler), mailbox_->strand), host, port);
        },
        token, host, port);
  }

  /// The address itself when `host` is an IP literal ("127.0.0.1", "::1"): nothing to look up,
  /// so no round through the resolver's threads (as curl and browsers do).
  static std::optional<results_type> literal(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto const address = boost::asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    return results_type::create(boost::asio::ip::tcp::endpoint(address, port), host,
                                std::to_string(port));
  }

  /// The answer kept for `host:port` while it is fresh, at once (no lookup, no post).
  std::optional<results_type> cached(const std::string& host, std::uint16_t port) {
    std::string const key = host + ':' + std::to_string(port);
    std::lock_guard lock(mutex_);
    entry* e = entries_.find(key);
    if (!e || e->pending || e->expires <= clock::now()) return std::nullopt;
    return e->results;
  }

  /// Every wait, now and later, completes with `operation_aborted`. Lookups in progress run
  /// to their end on the DNS threads and are then dropped.
  void close() {
    std::vector<std::shared_ptr<lookup>> pending;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      for (auto& [key, e] : entries_)
        if (e.pending) pending.push_back(std::move(e.pending));
      entries_.clear();
    }
    for (auto& l : pending) l->finish(boost::asio::error::operation_aborted, {});
  }

  /// Lookups actually sent to the resolver (the system's or `session_options::resolve`).
  std::size_t lookups() const noexcept { return lookups_.load(std::memory_order_relaxed); }

  /// (host, port) entries held now: answers kept and lookups in progress.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

 private:
  using queue = waiter_queue<results_type>;

  // One lookup in progress: its waiters, each cancellable on its own. Owned by its cache entry
  // and by the job on the DNS threads.
  struct lookup : std::enable_shared_from_this<lookup> {
    std::mutex mutex;
    queue waiters;  // under `mutex`

    // Only while the lookup is its entry's `pending` (under the cache's mutex): `finish` runs
    // after the entry let go of it, so no waiter is added once it has run.
    void add(queue::waiter& w) {
      std::lock_guard lock(mutex);
      waiters.push(std::move(w), weak_from_this());
    }
    // Called by a waiter's cancellation slot.
    void cancel(std::uint64_t id) {
      std::unique_lock lock(mutex);
      auto w = waiters.remove(id);
      lock.unlock();
      if (w) queue::complete(std::move(*w), boost::asio::error::operation_aborted, {});
    }
    void finish(boost::system::error_code ec, const results_type& results) {
      std::unique_lock lock(mutex);
      auto all = waiters.take_all();
      lock.unlock();
      for (auto& w : all) queue::complete(std::move(w), ec, results);
    }
  };

  struct entry {
    results_type results;
    clock::time_point expires{};
    std::shared_ptr<lookup> pending;  // set while a lookup is in progress
  };

  // Where the DNS threads hand answers back: to the strand, while the cache exists (its
  // destructor closes the mailbox, so no answer is posted to an executor that may be gone).
  struct mailbox {
    explicit mailbox(boost::asio::strand<boost::asio::any_io_executor> s) : strand(std::move(s)) {}
    std::mutex mutex;
    bool open = true;
    boost::asio::strand<boost::asio::any_io_executor> strand;
  };

  void start(queue::waiter w, const std::string& host, std::uint16_t port) {
    std::string key = host + ':' + std::to_string(port);
    std::shared_ptr<lookup> job;
    {
      std::unique_lock lock(mutex_);
      if (closed_) {
        lock.unlock();
        queue::complete(std::move(w), boost::asio::error::operation_aborted, {});
        return;
      }
      auto const now = clock::now();
      auto [e, made] = entries_.try_emplace(key);
      if (!e->pending && e->expires > now) {
        auto results = e->results;
        lock.unlock();
        queue::complete(std::move(w), {}, std::move(results));
        return;
      }
      if (!e->pending) {
        e->pending = std::make_shared<lookup>();
        job = e->pending;
        lookups_.fetch_add(1, std::memory_order_relaxed);
      }
      e->pending->add(w);
      trim(now);
    }
    if (job) submit(std::move(job), std::move(key), host, port);
  }

  // Under `mutex_`: answers beyond the cap and expired ones at the old end go.
  void trim(clock::time_point now) {
    entries_.trim([](const entry& e) { return !e.pending; },
                  [now](const entry& e) { return !e.pending && e.expires <= now; });
  }

  void submit(std::shared_ptr<lookup> job, std::string key, std::string host, std::uint16_t port) {
    boost::asio::post(dns_threads(),
                      [job = std::move(job), key = std::move(key), host = std::move(host), port,
                       resolve = resolve_, box = mailbox_, weak = weak_from_this()]() mutable {
                        boost::system::error_code ec;
                        results_type results = run_lookup(resolve.get(), host, port, ec);
                        std::lock_guard lock(box->mutex);
                        if (!box->open) return;
                        // To the strand: the cache (and what its destruction destroys) is touched
                        // on the application's threads only, never here.
                        boost::asio::post(box->strand, [job = std::move(job), key = std::move(key),
                                                        weak, ec, results = std::move(results)] {
                          if (auto self = weak.lock()) self->store(*job, key, ec, results);
                          job->finish(ec, results);
                        });
                      });
  }

  void store(const lookup& job, const std::string& key, boost::system::error_code ec,
             const results_type& results) {
    std::lock_guard lock(mutex_);
    entry* e = entries_.find(key);
    if (!e || e->pending.get() != &job) return;  // closed (or made again) meanwhile
    auto const now = clock::now();
    e->pending.reset();
    if (ec || ttl_ <= clock::duration::zero()) {
      entries_.erase(key);  // failures are not cached: the next request asks again
    } else {
      e->results = results;
      e->expires = now + ttl_;
    }
    trim(now);
  }

  // On a DNS thread: the addresses of `host`, from `resolve` when set, else the system's.
  static results_type run_lookup(const resolve_function* resolve, const std::string& host,
                                 std::uint16_t port, boost::system::error_code& ec) {
    auto const service = std::to_string(port);
    if (!resolve) {
      boost::asio::ip::tcp::resolver r(dns_threads().get_executor());
      return r.resolve(host, service, ec);
    }
    std::vector<boost::asio::ip::tcp::endpoint> endpoints;
    try {
      for (auto const& a : (*resolve)(host, ec)) endpoints.emplace_back(a, port);
    } catch (const boost::system::system_error& e) {
      ec = e.code();
      return {};
    } catch (...) {
      ec = make_error_code(errc::exception);
      return {};
    }
    if (ec) return {};
    if (endpoints.empty()) {
      ec = boost::asio::error::host_not_found;
      return {};
    }
    return results_type::create(endpoints.begin(), endpoints.end(), host, service);
  }

  clock::duration ttl_;
  mutable std::mutex mutex_;
  lru_map<entry> entries_;  // under `mutex_`
  bool closed_ = false;     // under `mutex_`
  std::shared_ptr<const resolve_function> resolve_;
  std::shared_ptr<mailbox> mailbox_;
  std::atomic<std::size_t> lookups_{0};
};

}  // namespace fanout::detail

#endif
