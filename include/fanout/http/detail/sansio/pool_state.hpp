#ifndef FANOUT_HTTP_DETAIL_SANSIO_POOL_STATE_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_POOL_STATE_HPP

#include <fanout/config.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <list>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fanout::detail {

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
/// - When a new connection cannot get a file descriptor (EMFILE), the total cap drops to the
///   connections open besides it (`out_of_descriptors`): requests then wait for one of them
///   instead of failing the same way; each connection that opens at that cap raises it by one
///   (`connected`), probing for descriptors freed elsewhere.
///
/// Not thread-safe: the session guards it with a mutex.
template <class Conn, class Waiter>
class pool_state {
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

  pool_state(std::size_t max_per_host, std::size_t max_total, std::size_t max_waiters = 0)
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
      r.conn = take_idle_newest(h);
      return r;
    }
    if (try_reserve(h, fresh, r.side.close)) {
      r.what = kind::open;
      return r;
    }
    if (waiting_ >= max_waiters_) r.what = kind::full;
    maybe_erase(h);  // `enqueue` makes the entry again; a refused host leaves nothing behind
    return r;
  }

  /// Queues `waiter` for `host` after `acquire` returned `kind::wait`. Each queued waiter must
  /// be distinct (`cancel` finds it by value).
  void enqueue(std::string_view host, Waiter waiter, bool fresh = false) {
    host_entry& h = entry(host);
    h.waiters.push_back(waiter_entry{waiter, next_seq_++, fresh});
    queued_.emplace(std::move(waiter), queued_at{&h, std::prev(h.waiters.end())});
    ++waiting_;
    update_ready(h);
  }

  /// A waiter gave up (timeout, cancellation). False when it is not queued (already granted).
  bool cancel(const Waiter& waiter) {
    auto it = queued_.find(waiter);
    if (it == queued_.end()) return false;
    host_entry& h = *it->second.host;
    h.waiters.erase(it->second.at);
    queued_.erase(it);
    --waiting_;
    update_ready(h);
    maybe_erase(h);
    return true;
  }

  /// A connection of `host` finished a request. `keep` means it may be reused until
  /// `expires`; otherwise it is closed by the caller and its slot freed.
  actions release(std::string_view host, Conn conn, bool keep, time_point now, time_point expires) {
    actions a;
    host_entry& h = entry(host);
    if (keep && !closed_ && expires > now) {
      // The first waiter this connection can serve: one for the same host reuses it; one that
      // only lacks a slot (another host's, or a fresh one of this host, which never reuses) gets
      // it closed in its favour. Only the heads of the queues can be first.
      const waiter_entry* own = h.waiters.empty() ? nullptr : &h.waiters.front();
      const waiter_entry* other = first_ready_except(h);
      if (own && (!other || own->seq < other->seq) && !own->fresh) {
        a.grants.push_back(grant{pop_waiter(h), kind::reuse, std::move(conn)});
        return a;
      }
      if (!own && !other) {
        put_idle(h, idle_entry{std::move(conn), expires});
        return a;
      }
    }
    a.close.push_back(std::move(conn));
    free_slot(h);
    serve(a);
    maybe_erase(h);
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

  /// A new connection of `host` could not open a socket for lack of file descriptors. When
  /// other connections are open, one of them closing (or going idle) is what frees one: the
  /// total cap drops to their number, the slot is freed, and the caller queues the request
  /// again (true). False, changing nothing, when no other connection is open: nothing can
  /// free a descriptor, and the request fails. Then the cap drops to one, so that the waiters
  /// try (and fail, or open) one at a time rather than all at once.
  bool out_of_descriptors(std::string_view host, actions& a) {
    if (open_total_ <= 1) {
      limit_ = 1;
      return false;
    }
    host_entry& h = entry(host);
    limit_ = open_total_ - 1;
    free_slot(h);
    serve(a);
    maybe_erase(h);
    return true;
  }

  /// A new connection opened (its socket connected). At a cap that a lack of descriptors set,
  /// raises it by one for the next waiter; past `max_total`, the cap is gone.
  actions connected() {
    actions a;
    if (limit_ != std::size_t(-1) && open_total_ >= limit_) {
      if (++limit_ >= max_total_) limit_ = std::size_t(-1);
      serve(a);
    }
    return a;
  }

  /// Idle connections whose time is up, to be closed; freed slots go to waiters.
  actions expire(time_point now) {
    actions a;
    for (host_entry* h = idle_hosts_.first; h;) {
      host_entry* next = h->idle_next;
      expire_host(*h, now, a.close);
      h = next;
    }
    if (!a.close.empty()) serve(a);
    std::erase_if(hosts_, [](auto const& kv) { return kv.second.unused(); });
    return a;
  }

  /// The earliest idle expiry, to schedule the next `expire` (max() when nothing is idle).
  time_point next_expiry() const {
    time_point t = time_point::max();
    for (const host_entry* h = idle_hosts_.first; h; h = h->idle_next)
      for (auto const& i : h->idle) t = std::min(t, i.expires);
    return t;
  }

  /// Shut down: every idle connection is returned for closing, every waiter for failing (as
  /// grants with `kind::wait`, in arrival order); later releases close their connection.
  actions close_all() {
    actions a;
    closed_ = true;
    std::vector<waiter_entry*> all;
    all.reserve(waiting_);
    for (auto& [name, h] : hosts_) {
      for (auto& i : h.idle) {
        a.close.push_back(std::move(i.conn));
        --h.open;
        --open_total_;
      }
      h.idle.clear();
      h.idle_prev = h.idle_next = nullptr;
      for (auto& w : h.waiters) all.push_back(&w);
      h.ready = false;
    }
    idle_hosts_ = {};
    idle_total_ = 0;
    std::sort(all.begin(), all.end(), [](auto* x, auto* y) { return x->seq < y->seq; });
    for (auto* w : all) a.grants.push_back(grant{std::move(w->waiter), kind::wait, Conn{}});
    for (auto& [name, h] : hosts_) h.waiters.clear();
    queued_.clear();
    ready_.clear();
    waiting_ = 0;
    return a;
  }

  bool closed() const noexcept { return closed_; }
  std::size_t open_total() const noexcept { return open_total_; }
  std::size_t idle_total() const noexcept { return idle_total_; }
  std::size_t waiting() const noexcept { return waiting_; }
  std::size_t open(std::string_view host) const {
    auto it = hosts_.find(host);
    return it == hosts_.end() ? 0 : it->second.open;
  }
  std::size_t idle(std::string_view host) const {
    auto it = hosts_.find(host);
    return it == hosts_.end() ? 0 : it->second.idle.size();
  }
  std::size_t hosts() const noexcept { return hosts_.size(); }
  /// The total cap in force: `max_total`, or lower after `out_of_descriptors`.
  std::size_t total_cap() const noexcept { return std::min(max_total_, limit_); }

 private:
  // Who waits is kept so that every event costs O(log hosts), however many wait: each host
  // queues its own waiters (arrival order), and `ready_` orders the hosts whose first waiter
  // lacks only a slot under the total cap (its host has room), by that waiter's arrival. No
  // host with waiters has idle connections: a kept connection goes to its host's first waiter
  // or is closed for a waiter, and a request finding one idle takes it. So the next waiter
  // any slot can serve is `ready_`'s first; a kept connection's, that or its host's first.
  struct idle_entry {
    Conn conn;
    time_point expires;
  };
  struct waiter_entry {
    Waiter waiter;
    std::uint64_t seq;  // arrival order
    bool fresh;
  };
  struct host_entry {
    std::string name;
    std::size_t open = 0;             // in use + idle + being opened
    std::list<waiter_entry> waiters;  // queued for this host, in arrival order
    std::vector<idle_entry> idle;     // oldest first
    bool ready = false;               // in `ready_`, under `ready_seq`
    std::uint64_t ready_seq = 0;
    host_entry* idle_prev = nullptr;  // the list of hosts with idle connections
    host_entry* idle_next = nullptr;
    bool unused() const noexcept { return open == 0 && waiters.empty() && idle.empty(); }
  };
  struct queued_at {
    host_entry* host;
    typename std::list<waiter_entry>::iterator at;
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
    if (h.unused()) hosts_.erase(h.name);
  }

  // Puts `h` in `ready_` under its first waiter, or takes it out, after its queue or its
  // count of open connections changed.
  void update_ready(host_entry& h) {
    bool const should = !h.waiters.empty() && h.open < max_per_host_;
    if (h.ready && (!should || h.ready_seq != h.waiters.front().seq)) {
      ready_.erase({h.ready_seq, &h});
      h.ready = false;
    }
    if (should && !h.ready) {
      h.ready_seq = h.waiters.front().seq;
      ready_.emplace(h.ready_seq, &h);
      h.ready = true;
    }
  }

  // The first waiter of the first host in `ready_` other than `h`, or null.
  const waiter_entry* first_ready_except(const host_entry& h) const {
    for (auto it = ready_.begin(); it != ready_.end(); ++it)
      if (it->second != &h) return &it->second->waiters.front();
    return nullptr;
  }

  Waiter pop_waiter(host_entry& h) {
    Waiter w = std::move(h.waiters.front().waiter);
    queued_.erase(w);
    h.waiters.pop_front();
    --waiting_;
    update_ready(h);
    return w;
  }

  void free_slot(host_entry& h) {
    --h.open;
    --open_total_;
    update_ready(h);
  }

  // The list of hosts with idle connections, in the order they got their first one: where
  // the total cap looks for a connection to evict, without walking every host.
  void link_idle(host_entry& h) {
    h.idle_prev = idle_hosts_.last;
    h.idle_next = nullptr;
    (idle_hosts_.last ? idle_hosts_.last->idle_next : idle_hosts_.first) = &h;
    idle_hosts_.last = &h;
  }
  void unlink_idle(host_entry& h) {
    (h.idle_prev ? h.idle_prev->idle_next : idle_hosts_.first) = h.idle_next;
    (h.idle_next ? h.idle_next->idle_prev : idle_hosts_.last) = h.idle_prev;
    h.idle_prev = h.idle_next = nullptr;
  }
  void put_idle(host_entry& h, idle_entry i) {
    if (h.idle.empty()) link_idle(h);
    h.idle.push_back(std::move(i));
    ++idle_total_;
  }
  Conn take_idle_newest(host_entry& h) {
    Conn c = std::move(h.idle.back().conn);
    h.idle.pop_back();
    --idle_total_;
    if (h.idle.empty()) unlink_idle(h);
    return c;
  }

  void expire_host(host_entry& h, time_point now, std::vector<Conn>& out) {
    if (h.idle.empty()) return;
    auto keep = std::partition(h.idle.begin(), h.idle.end(),
                               [&](const idle_entry& i) { return i.expires <= now; });
    for (auto it = h.idle.begin(); it != keep; ++it) {
      out.push_back(std::move(it->conn));
      --idle_total_;
      free_slot(h);
    }
    h.idle.erase(h.idle.begin(), keep);
    if (h.idle.empty()) unlink_idle(h);
  }

  // Closes the oldest idle connection of `h`.
  void evict_from(host_entry& h, std::vector<Conn>& out) {
    out.push_back(std::move(h.idle.front().conn));
    h.idle.erase(h.idle.begin());
    --idle_total_;
    if (h.idle.empty()) unlink_idle(h);
    free_slot(h);
  }

  // Reserves a slot for a new connection to `h`, evicting an idle connection when only a cap
  // that an idle connection occupies is in the way: the host's own (a fresh request only), or
  // for the total cap, of `h` when fresh, else of the host idle the longest.
  bool try_reserve(host_entry& h, bool fresh, std::vector<Conn>& evicted) {
    if (closed_) return false;
    if (h.open >= max_per_host_) {
      if (!fresh || h.idle.empty()) return false;
      evict_from(h, evicted);
    }
    if (open_total_ >= total_cap()) {
      host_entry* victim = fresh && !h.idle.empty() ? &h : idle_hosts_.first;
      if (!victim) return false;
      evict_from(*victim, evicted);
    }
    ++h.open;
    ++open_total_;
    update_ready(h);
    return true;
  }

  // Gives freed slots to waiters, first come first served: the first waiter of the first
  // host in `ready_`, while the total cap leaves room (or an idle connection to evict).
  void serve(actions& a) {
    while (!ready_.empty() && (open_total_ < total_cap() || idle_total_ > 0)) {
      host_entry& h = *ready_.begin()->second;
      bool const fresh = h.waiters.front().fresh;
      if (!try_reserve(h, fresh, a.close)) break;  // closed
      a.grants.push_back(grant{pop_waiter(h), kind::open, Conn{}});
    }
  }

  struct idle_list {
    host_entry* first = nullptr;
    host_entry* last = nullptr;
  };

  std::size_t max_per_host_;
  std::size_t max_total_;
  std::size_t max_waiters_;
  std::size_t open_total_ = 0;
  std::size_t idle_total_ = 0;
  std::size_t waiting_ = 0;
  std::size_t limit_ = std::size_t(-1);  // the total cap for lack of descriptors; -1: none
  std::uint64_t next_seq_ = 0;
  bool closed_ = false;
  std::unordered_map<std::string, host_entry, string_hash, std::equal_to<>> hosts_;
  std::set<std::pair<std::uint64_t, host_entry*>> ready_;
  std::unordered_map<Waiter, queued_at> queued_;
  idle_list idle_hosts_;
};

}  // namespace fanout::detail

#endif
