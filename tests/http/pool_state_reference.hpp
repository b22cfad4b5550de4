#ifndef FANOUT_TESTS_HTTP_POOL_STATE_REFERENCE_HPP
#define FANOUT_TESTS_HTTP_POOL_STATE_REFERENCE_HPP

#include <fanout/config.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fanout_test {

// The pool's rules as fanout 0.x implemented them, one list of waiters scanned on every
// event (O(waiters)): the model that tests/http/pool_state_test.cpp compares
// fanout::detail::pool_state with, operation by operation. One change from that code: a fresh
// request at its host's cap evicts only an idle connection of its own host (the old code could
// evict another host's and exceed the per-host cap).
//
/// The bookkeeping of a connection pool, without any I/O: who gets the next connection.
///
/// `Conn` is what the pool hands out (a pointer to a connection in the session, an int in the
/// tests), `Waiter` identifies a queued request (compared with ==). Times are passed in, so the
/// whole state machine is deterministic and testable without sockets or clocks.
///
/// Rules:
/// - A request to host H reuses H's most recently returned idle connection (LIFO: the warmest
///   socket, and the oldest ones expire), else opens a new one when both H's cap and the total
///   cap allow, else, when only the total cap blocks it, closes another host's oldest idle
///   connection to make room; otherwise it waits.
/// - Waiters are served strictly in arrival order among those an event can serve: a returned
///   connection goes to the first waiter for its host (reuse), or is closed for the first
///   waiter that only lacks a slot; a freed slot goes to the first waiter that fits.
/// - A `fresh` request (the retry after a stale connection) never reuses an idle connection; it
///   may evict one of its own host's idle connections to get a slot.
///
/// Not thread-safe: the session guards it with a mutex.
template <class Conn, class Waiter>
class reference_pool_state {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  enum class kind {
    reuse,  ///< use the connection in `conn`
    open,   ///< a slot is reserved: open a new connection, then `release`/`discard` it
    wait,   ///< queued; a later `grant` names this waiter
    full,   ///< would wait, but `max_waiters` are queued already: fail at once
  };

  /// A queued waiter that may now proceed: reuse `conn`, or open a new connection when
  /// `kind == open`.
  struct grant {
    Waiter waiter;
    kind what;
    Conn conn;
  };

  /// What the caller must do after a state change: close these connections (outside the lock)
  /// and complete these waiters.
  struct actions {
    std::vector<Conn> close;
    std::vector<grant> grants;
    bool empty() const noexcept { return close.empty() && grants.empty(); }
  };

  struct acquire_result {
    kind what;
    Conn conn{};     ///< for `reuse`
    actions side{};  ///< idle connections evicted or expired on the way
  };

  reference_pool_state(std::size_t max_per_host, std::size_t max_total, std::size_t max_waiters = 0)
      : max_per_host_(max_per_host == 0 ? std::size_t(-1) : max_per_host),
        max_total_(max_total == 0 ? std::size_t(-1) : max_total),
        max_waiters_(max_waiters == 0 ? std::size_t(-1) : max_waiters) {}

  /// A request for `host` arrives. On `kind::wait` nothing is queued yet: call `enqueue`
  /// (under the same lock) with the waiter's identity, so the fast paths allocate nothing.
  acquire_result acquire(std::string_view host, time_point now, bool fresh = false) {
    acquire_result r{kind::wait};
    host_entry& h = entry(host);
    expire_host(h, now, r.side.close);
    if (!fresh && !h.idle.empty()) {
      r.what = kind::reuse;
      r.conn = std::move(h.idle.back().conn);
      h.idle.pop_back();
      --idle_total_;
      return r;
    }
    if (try_reserve(h, fresh, r.side.close)) {
      r.what = kind::open;
    } else if (waiters_.size() >= max_waiters_) {
      r.what = kind::full;
      maybe_erase(h);
    }
    return r;
  }

  /// Queues `waiter` for `host` after `acquire` returned `kind::wait`.
  void enqueue(std::string_view host, Waiter waiter, bool fresh = false) {
    host_entry& h = entry(host);
    waiters_.push_back(waiter_entry{std::move(waiter), &h, fresh});
    ++h.waiting;
  }

  /// A waiter gave up (timeout, cancellation). False when it is not queued (already granted).
  bool cancel(const Waiter& waiter) {
    auto it = std::find_if(waiters_.begin(), waiters_.end(),
                           [&](const waiter_entry& w) { return w.waiter == waiter; });
    if (it == waiters_.end()) return false;
    host_entry* h = it->host;
    waiters_.erase(it);
    --h->waiting;
    maybe_erase(*h);
    return true;
  }

  /// A connection of `host` finished a request. `keep` means it may be reused until
  /// `expires`; otherwise it is closed by the caller and its slot freed.
  actions release(std::string_view host, Conn conn, bool keep, time_point now, time_point expires) {
    actions a;
    host_entry& h = entry(host);
    if (!keep || closed_ || expires <= now) {
      a.close.push_back(std::move(conn));
      free_slot(h);
      serve(a);
      maybe_erase(h);
      return a;
    }
    // The first waiter this connection can serve: one for the same host reuses it; one that
    // only lacks a slot (another host's, or a fresh one of this host, which never reuses) gets
    // it closed in its favour.
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->host == &h && !it->fresh) {
        a.grants.push_back(grant{std::move(it->waiter), kind::reuse, std::move(conn)});
        --h.waiting;
        waiters_.erase(it);
        return a;
      }
      if ((it->host != &h && it->host->open < max_per_host_) || it->host == &h) {
        a.close.push_back(std::move(conn));
        free_slot(h);
        serve(a);
        maybe_erase(h);
        return a;
      }
    }
    h.idle.push_back(idle_entry{std::move(conn), expires});
    ++idle_total_;
    return a;
  }

  /// A connection of `host` (in use or being opened) was closed: its slot is free.
  actions discard(std::string_view host) {
    actions a;
    host_entry& h = entry(host);
    free_slot(h);
    serve(a);
    maybe_erase(h);
    return a;
  }

  /// Idle connections whose time is up, to be closed; freed slots go to waiters.
  actions expire(time_point now) {
    actions a;
    for (auto it = hosts_.begin(); it != hosts_.end();) {
      expire_host(it->second, now, a.close);
      ++it;
    }
    if (!a.close.empty()) serve(a);
    std::erase_if(hosts_, [](auto const& kv) {
      return kv.second.open == 0 && kv.second.waiting == 0 && kv.second.idle.empty();
    });
    return a;
  }

  /// The earliest idle expiry, to schedule the next `expire` (max() when nothing is idle).
  time_point next_expiry() const {
    time_point t = time_point::max();
    for (auto const& [name, h] : hosts_)
      for (auto const& i : h.idle) t = std::min(t, i.expires);
    return t;
  }

  /// Shut down: every idle connection is returned for closing, every waiter for failing (as
  /// grants with `kind::wait`); later releases close their connection.
  actions close_all() {
    actions a;
    closed_ = true;
    for (auto& [name, h] : hosts_) {
      for (auto& i : h.idle) {
        a.close.push_back(std::move(i.conn));
        --h.open;
        --open_total_;
      }
      h.idle.clear();
      h.waiting = 0;
    }
    idle_total_ = 0;
    for (auto& w : waiters_) a.grants.push_back(grant{std::move(w.waiter), kind::wait, Conn{}});
    waiters_.clear();
    return a;
  }

  bool closed() const noexcept { return closed_; }
  std::size_t open_total() const noexcept { return open_total_; }
  std::size_t idle_total() const noexcept { return idle_total_; }
  std::size_t waiting() const noexcept { return waiters_.size(); }
  std::size_t open(std::string_view host) const {
    auto it = hosts_.find(host);
    return it == hosts_.end() ? 0 : it->second.open;
  }
  std::size_t idle(std::string_view host) const {
    auto it = hosts_.find(host);
    return it == hosts_.end() ? 0 : it->second.idle.size();
  }
  std::size_t hosts() const noexcept { return hosts_.size(); }

 private:
  struct idle_entry {
    Conn conn;
    time_point expires;
  };
  struct host_entry {
    std::string name;
    std::size_t open = 0;          // in use + idle + being opened
    std::size_t waiting = 0;       // queued waiters for this host
    std::vector<idle_entry> idle;  // oldest first
  };
  struct waiter_entry {
    Waiter waiter;
    host_entry* host;
    bool fresh;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  host_entry& entry(std::string_view host) {
    auto it = hosts_.find(host);
    if (it == hosts_.end()) {
      it = hosts_.emplace(std::string(host), host_entry{}).first;
      it->second.name = it->first;
    }
    return it->second;
  }

  void maybe_erase(host_entry& h) {
    if (h.open == 0 && h.waiting == 0 && h.idle.empty()) hosts_.erase(h.name);
  }

  void free_slot(host_entry& h) {
    --h.open;
    --open_total_;
  }

  void expire_host(host_entry& h, time_point now, std::vector<Conn>& out) {
    auto keep = std::partition(h.idle.begin(), h.idle.end(),
                               [&](const idle_entry& i) { return i.expires <= now; });
    for (auto it = h.idle.begin(); it != keep; ++it) {
      out.push_back(std::move(it->conn));
      free_slot(h);
      --idle_total_;
    }
    h.idle.erase(h.idle.begin(), keep);
  }

  // Closes the oldest idle connection of `preferred` or else of any host; false when none.
  bool evict_idle(host_entry* preferred, std::vector<Conn>& out) {
    host_entry* victim = (preferred && !preferred->idle.empty()) ? preferred : nullptr;
    if (!victim)
      for (auto& [name, h] : hosts_)
        if (!h.idle.empty()) {
          victim = &h;
          break;
        }
    if (!victim) return false;
    out.push_back(std::move(victim->idle.front().conn));
    victim->idle.erase(victim->idle.begin());
    --idle_total_;
    free_slot(*victim);
    return true;
  }

  // Reserves a slot for a new connection to `h`, evicting an idle connection when only a cap
  // that an idle connection occupies is in the way.
  bool try_reserve(host_entry& h, bool fresh, std::vector<Conn>& evicted) {
    if (closed_) return false;
    if (h.open >= max_per_host_) {
      if (!fresh || h.idle.empty() || !evict_idle(&h, evicted)) return false;
    }
    if (open_total_ >= max_total_ && !evict_idle(fresh ? &h : nullptr, evicted)) return false;
    ++h.open;
    ++open_total_;
    return true;
  }

  // Gives freed slots and idle connections to waiters, first come first served.
  void serve(actions& a) {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      host_entry& h = *it->host;
      if (!it->fresh && !h.idle.empty()) {
        a.grants.push_back(
            grant{std::move(it->waiter), kind::reuse, std::move(h.idle.back().conn)});
        h.idle.pop_back();
        --idle_total_;
      } else if (try_reserve(h, it->fresh, a.close)) {
        a.grants.push_back(grant{std::move(it->waiter), kind::open, Conn{}});
      } else {
        ++it;
        continue;
      }
      --h.waiting;
      it = waiters_.erase(it);
    }
  }

  std::size_t max_per_host_;
  std::size_t max_total_;
  std::size_t max_waiters_;
  std::size_t open_total_ = 0;
  std::size_t idle_total_ = 0;
  bool closed_ = false;
  std::unordered_map<std::string, host_entry, string_hash, std::equal_to<>> hosts_;
  std::list<waiter_entry> waiters_;
};

}  // namespace fanout_test

#endif
