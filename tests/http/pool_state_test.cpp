// The pool's "who gets the next connection" rules, without sockets or clocks.
#include <fanout/http/detail/sansio/pool_state.hpp>

#include "pool_state_reference.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using state = fanout::detail::pool_state<int, int>;
using kind = state::kind;

namespace {
const auto t0 = state::time_point{} + 1h;
}

TEST_CASE("pool: opens up to the per-host cap, then queues", "[pool]") {
  state s(2, 10);
  CHECK(s.acquire("a", t0).what == kind::open);
  CHECK(s.acquire("a", t0).what == kind::open);
  CHECK(s.acquire("a", t0).what == kind::wait);
  CHECK(s.open("a") == 2);
  CHECK(s.acquire("b", t0).what == kind::open);  // another host has its own cap
  CHECK(s.open_total() == 3);
}

TEST_CASE("pool: a released connection goes to the first waiter of its host", "[pool]") {
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("a", t0).what == kind::wait);
  s.enqueue("a", 1);
  REQUIRE(s.acquire("a", t0).what == kind::wait);
  s.enqueue("a", 2);
  auto a = s.release("a", 100, true, t0, t0 + 50s);
  REQUIRE(a.grants.size() == 1);
  CHECK(a.grants[0].waiter == 1);
  CHECK(a.grants[0].what == kind::reuse);
  CHECK(a.grants[0].conn == 100);
  CHECK(a.close.empty());
  auto b = s.release("a", 100, true, t0, t0 + 50s);
  REQUIRE(b.grants.size() == 1);
  CHECK(b.grants[0].waiter == 2);
  auto c = s.release("a", 100, true, t0, t0 + 50s);
  CHECK(c.empty());
  CHECK(s.idle("a") == 1);
  CHECK(s.waiting() == 0);
}

TEST_CASE("pool: idle connections are reused LIFO and expire", "[pool]") {
  state s(4, 10);
  for (int i = 0; i < 3; ++i) REQUIRE(s.acquire("a", t0).what == kind::open);
  s.release("a", 1, true, t0, t0 + 10s);
  s.release("a", 2, true, t0, t0 + 20s);
  s.release("a", 3, true, t0, t0 + 30s);
  auto r = s.acquire("a", t0);
  CHECK(r.what == kind::reuse);
  CHECK(r.conn == 3);
  s.release("a", 3, true, t0, t0 + 30s);
  CHECK(s.next_expiry() == t0 + 10s);
  auto e = s.expire(t0 + 25s);
  CHECK(e.close == std::vector<int>{1, 2});
  CHECK(s.open("a") == 1);
  // Expired ones are skipped on acquire too.
  auto r2 = s.acquire("a", t0 + 31s);
  CHECK(r2.what == kind::open);
  CHECK(r2.side.close == std::vector<int>{3});
}

TEST_CASE("pool: a closed connection frees a slot for the first waiter that fits", "[pool]") {
  state s(1, 2);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::open);
  REQUIRE(s.acquire("c", t0).what == kind::wait);  // total cap
  s.enqueue("c", 7);
  REQUIRE(s.acquire("a", t0).what == kind::wait);  // host cap
  s.enqueue("a", 8);
  auto a = s.release("b", 20, false, t0, t0);  // b closes: c may open
  CHECK(a.close == std::vector<int>{20});
  REQUIRE(a.grants.size() == 1);
  CHECK(a.grants[0].waiter == 7);
  CHECK(a.grants[0].what == kind::open);
  auto d = s.discard("a");  // a's connection failed: its waiter may open
  REQUIRE(d.grants.size() == 1);
  CHECK(d.grants[0].waiter == 8);
  CHECK(s.open_total() == 2);
}

TEST_CASE("pool: the total cap evicts another host's idle connection", "[pool]") {
  state s(5, 2);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  s.release("a", 1, true, t0, t0 + 50s);
  auto r = s.acquire("b", t0);
  CHECK(r.what == kind::open);
  CHECK(r.side.close == std::vector<int>{1});
  CHECK(s.open("a") == 1);
  CHECK(s.open_total() == 2);
}

TEST_CASE("pool: a returned connection is closed for a waiter of another host", "[pool]") {
  state s(5, 1);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::wait);
  s.enqueue("b", 3);
  auto a = s.release("a", 1, true, t0, t0 + 50s);
  CHECK(a.close == std::vector<int>{1});
  REQUIRE(a.grants.size() == 1);
  CHECK(a.grants[0].waiter == 3);
  CHECK(a.grants[0].what == kind::open);
}

TEST_CASE("pool: waiters are served first come first served", "[pool]") {
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  for (int w = 1; w <= 5; ++w) {
    REQUIRE(s.acquire("a", t0).what == kind::wait);
    s.enqueue("a", w);
  }
  CHECK(s.cancel(3));
  CHECK_FALSE(s.cancel(3));
  std::vector<int> order;
  for (int i = 0; i < 4; ++i) {
    auto a = s.release("a", 1, true, t0, t0 + 50s);
    REQUIRE(a.grants.size() == 1);
    order.push_back(a.grants[0].waiter);
  }
  CHECK(order == std::vector<int>{1, 2, 4, 5});
}

TEST_CASE("pool: a fresh request skips idle connections and may evict one of its host", "[pool]") {
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  s.release("a", 1, true, t0, t0 + 50s);
  auto r = s.acquire("a", t0, true);
  CHECK(r.what == kind::open);
  CHECK(r.side.close == std::vector<int>{1});
  CHECK(s.open("a") == 1);
}

TEST_CASE("pool: a connection released while a fresh request of its host waits makes room",
          "[pool]") {
  // The retry after a stale connection waits for a slot; a kept connection must not go idle
  // in front of it, or it waits until its deadline while the pool sits idle.
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("a", t0, true).what == kind::wait);
  s.enqueue("a", 7, true);
  auto a = s.release("a", 1, true, t0, t0 + 50s);
  CHECK(a.close == std::vector<int>{1});
  REQUIRE(a.grants.size() == 1);
  CHECK(a.grants[0].waiter == 7);
  CHECK(a.grants[0].what == kind::open);
  CHECK(s.waiting() == 0);
  CHECK(s.idle("a") == 0);
  CHECK(s.open("a") == 1);
}

TEST_CASE("pool: close_all returns idle connections and fails waiters", "[pool]") {
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::open);
  s.release("b", 2, true, t0, t0 + 50s);
  REQUIRE(s.acquire("a", t0).what == kind::wait);
  s.enqueue("a", 9);
  auto a = s.close_all();
  CHECK(a.close == std::vector<int>{2});
  REQUIRE(a.grants.size() == 1);
  CHECK(a.grants[0].what == kind::wait);
  CHECK(s.acquire("c", t0).what == kind::wait);  // closed: nothing opens
  auto r = s.release("a", 1, true, t0, t0 + 50s);
  CHECK(r.close == std::vector<int>{1});
  CHECK(s.open_total() == 0);
}

TEST_CASE("pool: 1000 random operations keep the caps and the counts", "[pool]") {
  state s(3, 5);
  std::vector<std::pair<std::string, int>> in_use;
  std::vector<std::pair<std::string, int>> waiting;
  unsigned seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
  int next_conn = 1, next_waiter = 1;
  std::map<int, std::string> waiter_host;
  for (int i = 0; i < 1000; ++i) {
    std::string host(1, static_cast<char>('a' + rnd() % 3));
    if (rnd() % 2 == 0 || in_use.empty()) {
      auto r = s.acquire(host, t0);
      if (r.what == kind::open)
        in_use.emplace_back(host, next_conn++);
      else if (r.what == kind::reuse)
        in_use.emplace_back(host, r.conn);
      else {
        waiter_host[next_waiter] = host;
        s.enqueue(host, next_waiter++);
      }
    } else {
      auto idx = rnd() % in_use.size();
      auto [h, c] = in_use[idx];
      in_use.erase(in_use.begin() + static_cast<long>(idx));
      auto a = s.release(h, c, rnd() % 3 != 0, t0, t0 + 50s);
      for (auto& g : a.grants)
        in_use.emplace_back(waiter_host[g.waiter], g.what == kind::open ? next_conn++ : g.conn);
    }
    REQUIRE(s.open_total() <= 5);
    for (auto h : {"a", "b", "c"}) REQUIRE(s.open(h) <= 3);
    REQUIRE(s.open_total() == in_use.size() + s.idle_total());
  }
}

TEST_CASE("pool: the wait queue is bounded by max_waiters", "[pool][security]") {
  state s(1, 2, 2);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::open);
  for (int w = 1; w <= 2; ++w) {
    REQUIRE(s.acquire("a", t0).what == kind::wait);
    s.enqueue("a", w);
  }
  CHECK(s.acquire("a", t0).what == kind::full);
  CHECK(s.acquire("c", t0).what == kind::full);  // the bound is for the whole pool
  CHECK(s.hosts() == 2);                         // and a refused host leaves nothing behind
  CHECK(s.acquire("b", t0, true).what == kind::full);
  CHECK(s.waiting() == 2);
  // A freed place in the queue is usable again.
  CHECK(s.cancel(2));
  CHECK(s.acquire("a", t0).what == kind::wait);
}

TEST_CASE("pool: a freed slot goes to the earliest waiter among all hosts that fit", "[pool]") {
  // Per-host queues must still give slots in global arrival order: c2 (host-blocked on c)
  // arrives between two waiters that lack only a total slot.
  state s(1, 3);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::open);
  REQUIRE(s.acquire("c", t0).what == kind::open);
  REQUIRE(s.acquire("d", t0).what == kind::wait);
  s.enqueue("d", 1);
  REQUIRE(s.acquire("c", t0).what == kind::wait);
  s.enqueue("c", 2);
  REQUIRE(s.acquire("e", t0).what == kind::wait);
  s.enqueue("e", 3);
  std::vector<int> order;
  for (auto host : {"a", "b", "c"}) {
    auto a = s.discard(host);
    REQUIRE(a.grants.size() == 1);
    CHECK(a.grants[0].what == kind::open);
    order.push_back(a.grants[0].waiter);
  }
  // a's slot: d (first); b's slot: e (c is at its cap); c's slot: c's own waiter.
  CHECK(order == std::vector<int>{1, 3, 2});
  CHECK(s.waiting() == 0);
}

TEST_CASE("pool: a kept connection goes to its host's waiter only when it came first", "[pool]") {
  state s(1, 2);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::open);
  REQUIRE(s.acquire("c", t0).what == kind::wait);  // total cap: lacks only a slot
  s.enqueue("c", 1);
  REQUIRE(s.acquire("a", t0).what == kind::wait);  // a's cap
  s.enqueue("a", 2);
  auto first = s.release("a", 10, true, t0, t0 + 50s);  // c came first: a's is closed for it
  CHECK(first.close == std::vector<int>{10});
  REQUIRE(first.grants.size() == 1);
  CHECK(first.grants[0].waiter == 1);
  CHECK(first.grants[0].what == kind::open);
  REQUIRE(s.acquire("a", t0).what == kind::wait);
  s.enqueue("a", 3);
  REQUIRE(s.acquire("d", t0).what == kind::wait);
  s.enqueue("d", 4);
  auto second = s.release("b", 20, true, t0, t0 + 50s);  // b has no waiter: closed for a (2)
  CHECK(second.close == std::vector<int>{20});
  REQUIRE(second.grants.size() == 1);
  CHECK(second.grants[0].waiter == 2);
  auto third = s.release("a", 30, true, t0, t0 + 50s);  // a's 3 came before d's 4: reuse
  CHECK(third.close.empty());
  REQUIRE(third.grants.size() == 1);
  CHECK(third.grants[0].waiter == 3);
  CHECK(third.grants[0].what == kind::reuse);
  CHECK(third.grants[0].conn == 30);
  CHECK(s.waiting() == 1);
}

TEST_CASE("pool: a cancelled first waiter hands its place to the next of its host", "[pool]") {
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  for (int w = 1; w <= 3; ++w) {
    REQUIRE(s.acquire("a", t0).what == kind::wait);
    s.enqueue("a", w);
  }
  CHECK(s.cancel(1));
  auto a = s.discard("a");
  REQUIRE(a.grants.size() == 1);
  CHECK(a.grants[0].waiter == 2);
  CHECK(a.grants[0].what == kind::open);
  CHECK(s.cancel(3));
  CHECK(s.waiting() == 0);
  CHECK(s.discard("a").empty());
  CHECK(s.hosts() == 0);  // nothing left behind
}

TEST_CASE("pool: a fresh request at its host's cap does not evict another host's connection",
          "[pool]") {
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::open);
  s.release("b", 2, true, t0, t0 + 50s);
  auto r = s.acquire("a", t0, true);
  CHECK(r.what == kind::wait);
  CHECK(r.side.close.empty());
  CHECK(s.idle("b") == 1);
  CHECK(s.open("a") == 1);
}

TEST_CASE("pool: close_all fails the waiters in arrival order", "[pool]") {
  state s(1, 10);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("b", t0).what == kind::open);
  for (int w = 1; w <= 6; ++w) {
    auto host = w % 2 ? "a" : "b";
    REQUIRE(s.acquire(host, t0).what == kind::wait);
    s.enqueue(host, w);
  }
  auto a = s.close_all();
  std::vector<int> order;
  for (auto& g : a.grants) order.push_back(g.waiter);
  CHECK(order == std::vector<int>{1, 2, 3, 4, 5, 6});
  CHECK(s.waiting() == 0);
}

namespace {

// Runs the same random operations on pool_state and on the reference model (one list of
// waiters scanned in arrival order, tests/http/pool_state_reference.hpp) and requires the same
// answer to each: which waiter gets what, which connections close.
void compare_with_reference(std::size_t per_host, std::size_t total, std::size_t max_waiters,
                            int hosts, unsigned seed, int steps) {
  using reference = fanout_test::reference_pool_state<int, int>;
  state s(per_host, total, max_waiters);
  reference ref(per_host, total, max_waiters);
  auto rnd = [&] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
  auto now = t0;
  int next_conn = 1, next_waiter = 1;
  std::vector<std::pair<std::string, int>> in_use;
  std::map<int, std::string> waiter_host;
  auto sorted = [](std::vector<int> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  auto same = [&](state::actions& a, reference::actions& b) {
    REQUIRE(sorted(a.close) == sorted(b.close));
    REQUIRE(a.grants.size() == b.grants.size());
    for (std::size_t i = 0; i < a.grants.size(); ++i) {
      REQUIRE(a.grants[i].waiter == b.grants[i].waiter);
      REQUIRE(a.grants[i].what == static_cast<kind>(b.grants[i].what));
      REQUIRE(a.grants[i].conn == b.grants[i].conn);
      auto const& host = waiter_host.at(a.grants[i].waiter);
      in_use.emplace_back(host, a.grants[i].what == kind::open ? next_conn++ : a.grants[i].conn);
      waiter_host.erase(a.grants[i].waiter);
    }
  };
  for (int i = 0; i < steps; ++i) {
    now += std::chrono::seconds(rnd() % 3);
    auto const op = rnd() % 10;
    if (op < 4 || in_use.empty()) {
      std::string host(1, static_cast<char>('a' + rnd() % hosts));
      bool const fresh = rnd() % 6 == 0;
      auto r = s.acquire(host, now, fresh);
      auto q = ref.acquire(host, now, fresh);
      REQUIRE(r.what == static_cast<kind>(q.what));
      REQUIRE(sorted(r.side.close) == sorted(q.side.close));
      if (r.what == kind::reuse) {
        REQUIRE(r.conn == q.conn);
        in_use.emplace_back(host, r.conn);
      } else if (r.what == kind::open) {
        in_use.emplace_back(host, next_conn++);
      } else if (r.what == kind::wait) {
        waiter_host[next_waiter] = host;
        s.enqueue(host, next_waiter, fresh);
        ref.enqueue(host, next_waiter, fresh);
        ++next_waiter;
      }
    } else if (op < 8) {
      auto idx = rnd() % in_use.size();
      auto [h, c] = in_use[idx];
      in_use.erase(in_use.begin() + static_cast<long>(idx));
      if (op == 7) {
        auto a = s.discard(h);
        auto b = ref.discard(h);
        same(a, b);
      } else {
        bool const keep = rnd() % 4 != 0;
        auto const expires = now + std::chrono::seconds(rnd() % 20);
        auto a = s.release(h, c, keep, now, expires);
        auto b = ref.release(h, c, keep, now, expires);
        same(a, b);
      }
    } else if (op == 8 && !waiter_host.empty()) {
      auto it = waiter_host.begin();
      std::advance(it, static_cast<long>(rnd() % waiter_host.size()));
      REQUIRE(s.cancel(it->first));
      REQUIRE(ref.cancel(it->first));
      waiter_host.erase(it);
    } else {
      REQUIRE(s.next_expiry() == ref.next_expiry());
      auto a = s.expire(now);
      auto b = ref.expire(now);
      same(a, b);
    }
    REQUIRE(s.open_total() == ref.open_total());
    REQUIRE(s.idle_total() == ref.idle_total());
    REQUIRE(s.waiting() == ref.waiting());
    REQUIRE(s.hosts() == ref.hosts());
    for (int h = 0; h < hosts; ++h) {
      std::string host(1, static_cast<char>('a' + h));
      REQUIRE(s.open(host) == ref.open(host));
      REQUIRE(s.idle(host) == ref.idle(host));
      REQUIRE(s.open(host) <= per_host);
    }
    REQUIRE(s.open_total() <= total);
    REQUIRE(s.open_total() == in_use.size() + s.idle_total());
  }
}

}  // namespace

TEST_CASE("pool: per-host queues decide as the single arrival-ordered list did", "[pool]") {
  // Two hosts with a tight total cap: eviction for the total cap has one candidate host, so
  // even the evicted connections must match. More hosts with room under the total cap: the
  // order of grants across many queues.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    compare_with_reference(2, 3, 0, 2, seed, 2000);
    compare_with_reference(3, 4, 5, 2, seed * 7, 2000);
    compare_with_reference(2, 100, 0, 6, seed * 13, 2000);
    compare_with_reference(3, 100, 8, 4, seed * 31, 2000);
  }
}

TEST_CASE("pool: out of descriptors, the total cap drops to the connections open", "[pool][fd]") {
  state s(10, 100);
  for (int i = 0; i < 4; ++i) REQUIRE(s.acquire("a", t0).what == kind::open);
  // The fourth could not open a socket: three others are open, so it waits for one of them.
  state::actions a;
  REQUIRE(s.out_of_descriptors("a", a));
  CHECK(a.empty());
  CHECK(s.open_total() == 3);
  CHECK(s.total_cap() == 3);
  REQUIRE(s.acquire("a", t0).what == kind::wait);
  s.enqueue("a", 1);
  REQUIRE(s.acquire("b", t0).what == kind::wait);
  s.enqueue("b", 2);
  // A kept connection goes to the first waiter; a closed one's slot too.
  auto kept = s.release("a", 10, true, t0, t0 + 50s);
  REQUIRE(kept.grants.size() == 1);
  CHECK(kept.grants[0].waiter == 1);
  CHECK(kept.grants[0].what == kind::reuse);
  auto closed = s.release("a", 10, false, t0, t0);
  REQUIRE(closed.grants.size() == 1);
  CHECK(closed.grants[0].waiter == 2);
  CHECK(closed.grants[0].what == kind::open);
  // b's connection opened at the cap: the cap rises by one, for the next request.
  CHECK(s.connected().empty());
  CHECK(s.total_cap() == 4);
  CHECK(s.acquire("c", t0).what == kind::open);
  CHECK(s.acquire("c", t0).what == kind::wait);
}

TEST_CASE("pool: out of descriptors with nothing else open, the request fails", "[pool][fd]") {
  state s(10, 100);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  REQUIRE(s.acquire("a", t0).what == kind::open);
  state::actions a;
  REQUIRE(s.out_of_descriptors("a", a));  // the other may still open, and free one later
  state::actions b;
  CHECK_FALSE(s.out_of_descriptors("a", b));  // the last one: nothing can free a descriptor
  CHECK(s.open_total() == 1);                 // unchanged: the caller discards it
  // Waiters then try one at a time, not all at once.
  REQUIRE(s.acquire("a", t0).what == kind::wait);
  s.enqueue("a", 1);
  REQUIRE(s.acquire("a", t0).what == kind::wait);
  s.enqueue("a", 2);
  auto d = s.discard("a");
  REQUIRE(d.grants.size() == 1);
  CHECK(d.grants[0].waiter == 1);
  // Connections that open at the cap lift it step by step, to none beyond max_total.
  auto first = s.connected();
  REQUIRE(first.grants.size() == 1);
  CHECK(first.grants[0].waiter == 2);
  CHECK(s.connected().empty());
  CHECK(s.total_cap() == 3);
  for (int i = 0; i < 150; ++i) {
    // Not `"h" + std::to_string(i)`: GCC 12 at -O3 reports a false -Wstringop-overflow there.
    std::string host = "h";
    host += std::to_string(i);
    if (s.acquire(host, t0).what == kind::open) s.connected();
  }
  CHECK(s.total_cap() == 100);
  CHECK(s.open_total() == 100);
}
