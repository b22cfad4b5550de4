// pool-bench [EVENTS [QUEUED]]: the connection pool's bookkeeping (detail::pool_state, the work
// done under the session's pool mutex) per slot event, as the queue of waiting requests grows.
//
// 1,000 hosts, 4 connections each, all in use; Q requests queued (Q = 1,000, 10,000, 100,000),
// host i % 1,000 for the i-th, so every host is at its cap and has Q / 1,000 waiting. Events:
//   release  a connection comes back kept alive: its host's first waiter reuses it
//   discard  a connection closes: its host's first waiter opens a new one
// (the host: a random queued request's, so that it has someone waiting)
//   cancel   a random queued request gives up
// Each event is followed by one new request to a random host (queued: every host is full),
// so that the queue stays at Q; the figure is the CPU time of the event and that arrival.
// No sockets, no clocks but the one measuring: pool_state is sans-I/O.
//
// Lines: `pool-bench EVENT QUEUED ns_per_event`

#include <fanout/http/detail/sansio/pool_state.hpp>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

using state = fanout::detail::pool_state<int, int>;
using kind = state::kind;

constexpr int hosts = 1000;
constexpr std::size_t per_host = 4;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct fixture {
  std::vector<std::string> names;
  state s{per_host, 0, 0};
  std::vector<int> queued;    // waiter ids, for picking one at random
  std::vector<long> slot_of;  // waiter id -> index in `queued`, or -1
  std::vector<int> host_of;   // waiter id -> host
  std::mt19937 random{12345};
  int next_waiter = 0;
  state::time_point now = state::time_point{} + std::chrono::hours(1);

  explicit fixture(std::size_t waiting) {
    for (int h = 0; h < hosts; ++h) names.push_back("http://host-" + std::to_string(h) + ":80");
    for (int h = 0; h < hosts; ++h)
      for (std::size_t i = 0; i < per_host; ++i)
        if (s.acquire(names[h], now).what != kind::open) std::abort();
    for (std::size_t i = 0; i < waiting; ++i) arrive(static_cast<int>(i % hosts));
  }

  // Every host stays at its cap (a freed slot goes to its own waiter), so a request waits.
  void arrive(int host) {
    if (s.acquire(names[host], now).what != kind::wait) std::abort();
    int const id = next_waiter++;
    s.enqueue(names[host], id);
    host_of.push_back(host);
    slot_of.push_back(static_cast<long>(queued.size()));
    queued.push_back(id);
  }
  void forget(int id) {
    long const at = slot_of[id];
    slot_of[queued.back()] = at;
    queued[at] = queued.back();
    queued.pop_back();
    slot_of[id] = -1;
  }
  void settle(const state::actions& a) {
    for (auto& g : a.grants) forget(g.waiter);
  }
  int any_host() { return static_cast<int>(random() % hosts); }
  const std::string& busy_host() { return names[host_of[queued[random() % queued.size()]]]; }
};

// Each a separate function, not inlined: `valgrind --tool=callgrind --toggle-collect=...`
// can count one event's instructions.
[[gnu::noinline]] void release_events(fixture& f, long n) {
  for (long i = 0; i < n; ++i) {
    f.settle(f.s.release(f.busy_host(), 1, true, f.now, f.now + std::chrono::seconds(50)));
    f.arrive(f.any_host());
  }
}
[[gnu::noinline]] void discard_events(fixture& f, long n) {
  for (long i = 0; i < n; ++i) {
    f.settle(f.s.discard(f.busy_host()));
    f.arrive(f.any_host());
  }
}
[[gnu::noinline]] void cancel_events(fixture& f, long n) {
  for (long i = 0; i < n; ++i) {
    int const id = f.queued[f.random() % f.queued.size()];
    if (!f.s.cancel(id)) std::abort();
    f.forget(id);
    f.arrive(f.any_host());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Events per measurement: enough for a steady figure from an O(1) pool, few enough that an
  // O(waiters) one finishes.
  long const events = argc > 1 ? std::atol(argv[1]) : 20'000;
  struct {
    const char* name;
    void (*run)(fixture&, long);
  } const kinds[] = {
      {"release", release_events}, {"discard", discard_events}, {"cancel", cancel_events}};
  std::vector<std::size_t> sizes{1'000, 10'000, 100'000};
  if (argc > 2) sizes = {std::strtoul(argv[2], nullptr, 10)};
  for (std::size_t waiting : sizes) {
    for (auto const& k : kinds) {
      fixture f(waiting);
      k.run(f, events / 20);  // warm up
      double const t0 = cpu_seconds();
      k.run(f, events);
      double const t1 = cpu_seconds();
      if (f.s.waiting() != waiting) std::abort();
      std::printf("pool-bench %-7s %6zu %10.0f\n", k.name, waiting,
                  (t1 - t0) * 1e9 / static_cast<double>(events));
      std::fflush(stdout);
    }
  }
}
