// Name lookups: on a few threads of their own (one slow name holds up nobody else), each
// request waiting on its own deadline and cancellation, close() ending every wait, and the
// per-origin caches (DNS answers, rate limiters, TLS sessions) bounded by max_cached_origins.
// Names resolve through session_options::resolve, so nothing leaves the machine; a gate holds a
// lookup for as long as a test needs (a system resolver that does not answer).
#include <fanout/core/gather.hpp>
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/certs.hpp"
#include "support/test_server.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;

namespace {

// Holds the lookups that reach it until `release()` (or 20 s, so that a failing test still
// ends). Shared with the resolver function, which may run after the test is over.
class lookup_gate {
 public:
  void wait() {
    entered_.fetch_add(1);
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 20s, [&] { return open_; });
    left_.fetch_add(1);
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int entered() const { return entered_.load(); }
  int left() const { return left_.load(); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
  std::atomic<int> entered_{0}, left_{0};
};

// A resolver for the tests: every name is 127.0.0.1, except that `held` waits at the gate.
fanout::session_options gated_options(std::shared_ptr<lookup_gate> gate, std::string held) {
  fanout::session_options o;
  o.resolve = [gate = std::move(gate), held = std::move(held)](const std::string& host,
                                                               boost::system::error_code&) {
    if (host == held) gate->wait();
    return std::vector{asio::ip::make_address("127.0.0.1")};
  };
  return o;
}

// Polls `done` every 2 ms for at most `limit`.
asio::awaitable<bool> eventually(std::function<bool()> done,
                                 std::chrono::milliseconds limit = 10s) {
  auto const until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) co_return false;
    co_await sleep_for(2ms);
  }
  co_return true;
}

std::string named_url(const test_server& server, const std::string& host,
                      std::string_view path = "/hello") {
  return std::string(server.tls() ? "https" : "http") + "://" + host + ":" +
         std::to_string(server.port()) + std::string(path);
}

using result_type = fanout::session::result_type;

// Starts `req` on `s` at once; its result lands in `*out`.
void start(fanout::session& s, fanout::request req, std::shared_ptr<std::optional<result_type>> out,
           asio::cancellation_slot slot = {}) {
  auto run = [](fanout::session& s, fanout::request req) -> asio::awaitable<result_type> {
    co_return co_await s.try_request(req);
  };
  asio::co_spawn(s.get_executor(), run(s, std::move(req)),
                 asio::bind_cancellation_slot(
                     slot, [out](std::exception_ptr, result_type r) { *out = std::move(r); }));
}

}  // namespace

TEST_CASE("dns: a name whose lookup hangs holds up no other lookup", "[dns]") {
  test_server server;
  auto gate = std::make_shared<lookup_gate>();
  run_session(gated_options(gate, "slow.test"), [&](fanout::session& s) -> asio::awaitable<void> {
    auto slow = std::make_shared<std::optional<result_type>>();
    fanout::request slow_req{.url = named_url(server, "slow.test")};
    start(s, slow_req, slow);
    REQUIRE(co_await eventually([&] { return gate->entered() == 1; }));
    // Twelve other names while the first lookup hangs: a serial resolver (Asio's own, one
    // thread per io_context) answers none of them until it returns.
    std::vector<std::string> urls;
    for (int i = 0; i < 12; ++i)
      urls.push_back(named_url(server, "fast" + std::to_string(i) + ".test"));
    auto get = [&](const std::string& u) { return s.request(fanout::request{.url = u}); };
    auto results = co_await fanout::gather(urls, get, {.timeout = 10s});
    for (auto& r : results) {
      REQUIRE(r);
      CHECK(r->body() == "hello world");
    }
    CHECK(gate->left() == 0);  // all answered while the slow lookup was still held
    CHECK_FALSE(slow->has_value());
    gate->release();
    REQUIRE(co_await eventually([&] { return slow->has_value(); }));
    REQUIRE(**slow);
    CHECK((**slow)->body() == "hello world");
    CHECK(s.stats().dns_lookups == 13);
  });
}

TEST_CASE("dns: a request stops waiting for a hanging lookup at its connect_timeout", "[dns]") {
  test_server server;
  auto gate = std::make_shared<lookup_gate>();
  auto o = gated_options(gate, "hang.test");
  o.connect_timeout = 150ms;
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req{.url = named_url(server, "hang.test")};
    auto r = co_await s.try_request(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::timeout);
    CHECK(contains(r.error().message(), "timed out while resolving the host"));
    CHECK(gate->entered() == 1);
    CHECK(gate->left() == 0);  // it ended while the lookup was still held
    // The lookup goes on and fills the cache: the next request uses its answer.
    gate->release();
    auto again = co_await s.try_request(req);
    REQUIRE(again);
    CHECK(again->body() == "hello world");
    CHECK(s.stats().dns_lookups == 1);
  });
}

TEST_CASE("dns: one waiter cancelled leaves the others waiting on the same lookup", "[dns]") {
  test_server server;
  auto gate = std::make_shared<lookup_gate>();
  run_session(gated_options(gate, "hang.test"), [&](fanout::session& s) -> asio::awaitable<void> {
    asio::cancellation_signal cancel_first;
    auto first = std::make_shared<std::optional<result_type>>();
    auto second = std::make_shared<std::optional<result_type>>();
    fanout::request first_req{.url = named_url(server, "hang.test")};
    fanout::request second_req{.url = named_url(server, "hang.test", "/json")};
    start(s, first_req, first, cancel_first.slot());
    start(s, second_req, second);
    REQUIRE(co_await eventually([&] { return gate->entered() == 1; }));
    co_await sleep_for(20ms);  // both wait on the one lookup
    cancel_first.emit(asio::cancellation_type::terminal);
    REQUIRE(co_await eventually([&] { return first->has_value(); }));
    REQUIRE_FALSE(**first);
    CHECK((*first)->error().code() == errc::cancelled);
    CHECK(gate->left() == 0);
    CHECK_FALSE(second->has_value());
    gate->release();
    REQUIRE(co_await eventually([&] { return second->has_value(); }));
    REQUIRE(**second);
    CHECK((**second)->status() == 200);
    CHECK(s.stats().dns_lookups == 1);
  });
}

TEST_CASE("dns: close() ends a wait on a hanging lookup, and nothing connects afterwards",
          "[dns]") {
  test_server server;
  auto gate = std::make_shared<lookup_gate>();
  run_session(gated_options(gate, "hang.test"), [&](fanout::session& s) -> asio::awaitable<void> {
    auto waiting = std::make_shared<std::optional<result_type>>();
    fanout::request req{.url = named_url(server, "hang.test")};
    start(s, req, waiting);
    REQUIRE(co_await eventually([&] { return gate->entered() == 1; }));
    s.close();
    REQUIRE(co_await eventually([&] { return waiting->has_value(); }));
    REQUIRE_FALSE(**waiting);
    CHECK((*waiting)->error().code() == errc::cancelled);
    CHECK(contains((*waiting)->error().message(), "the session is closed"));
    CHECK(gate->left() == 0);  // close() did not wait for the lookup
    // The lookup answers after close(): the request must not go on to connect.
    gate->release();
    REQUIRE(co_await eventually([&] { return gate->left() == 1; }));
    co_await sleep_for(100ms);
    CHECK(server.connections() == 0);
  });
}

TEST_CASE("dns: a resolver that throws or finds nothing fails the requests for that name only",
          "[dns]") {
  test_server server;
  fanout::session_options o;
  o.resolve = [](const std::string& host, boost::system::error_code& ec) {
    if (host == "throws.test") throw std::runtime_error("resolver broke");
    if (host == "code.test") ec = asio::error::host_not_found_try_again;
    if (host == "nothing.test" || host == "code.test") return std::vector<asio::ip::address>{};
    return std::vector{asio::ip::make_address("127.0.0.1")};
  };
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request throws{.url = named_url(server, "throws.test")};
    auto r1 = co_await s.try_request(throws);
    REQUIRE_FALSE(r1);
    CHECK(r1.error().code() == errc::exception);
    CHECK(contains(r1.error().message(), "could not resolve host"));
    fanout::request nothing{.url = named_url(server, "nothing.test")};
    auto r2 = co_await s.try_request(nothing);
    REQUIRE_FALSE(r2);
    CHECK(r2.error().code() == asio::error::host_not_found);
    fanout::request code{.url = named_url(server, "code.test")};
    auto r3 = co_await s.try_request(code);
    REQUIRE_FALSE(r3);
    CHECK(r3.error().code() == asio::error::host_not_found_try_again);
    fanout::request fine{.url = named_url(server, "fine.test")};
    auto r4 = co_await s.try_request(fine);
    REQUIRE(r4);
    CHECK(r4->body() == "hello world");
    // Failures are not cached: asking again asks the resolver again.
    auto r5 = co_await s.try_request(nothing);
    CHECK_FALSE(r5);
    CHECK(s.stats().dns_lookups == 5);
  });
}

TEST_CASE("caches: 20,000 origins keep at most max_cached_origins of each per-origin state",
          "[dns][caches]") {
  test_server server;
  constexpr std::size_t cap = 100, origins = 20'000;
  fanout::session_options o;
  o.max_cached_origins = cap;
  o.rate_limit = {.requests_per_second = 1e6, .burst = 1};
  o.resolve = [](const std::string&, boost::system::error_code&) {
    return std::vector{asio::ip::make_address("127.0.0.1")};
  };
  std::size_t ok = 0, most_dns = 0, most_limiters = 0;
  run_session(
      o,
      [&](fanout::session& s) -> asio::awaitable<void> {
        std::vector<std::string> urls;
        for (std::size_t i = 0; i < origins; ++i)
          urls.push_back(named_url(server, "h" + std::to_string(i) + ".test"));
        auto get = [&](const std::string& u) -> asio::awaitable<fanout::response> {
          fanout::request req{.url = u};
          auto r = co_await s.request(req);
          auto const st = s.stats();
          most_dns = std::max(most_dns, st.dns_cached);
          most_limiters = std::max(most_limiters, st.rate_limiters);
          co_return r;
        };
        auto results = co_await fanout::gather(urls, get, {.max_concurrency = 32});
        for (auto& r : results) ok += r && r->body() == "hello world";
        CHECK(s.stats().dns_lookups == origins);
      },
      300s);
  CHECK(ok == origins);
  // In use (lookups in progress, limiters held) may exceed the cap by the concurrency at most.
  CHECK(most_dns <= cap + 32);
  CHECK(most_limiters <= cap + 32);
  CHECK(most_dns >= cap / 2);  // the caches did cache
}

TEST_CASE("caches: expired DNS answers and rested rate limiters are dropped", "[dns][caches]") {
  test_server server;
  fanout::session_options o;
  // Both last a second: ten requests take far less, even under sanitizers.
  o.dns_cache_ttl = 1s;
  o.rate_limit = {.requests_per_second = 1, .burst = 1};  // a used bucket is full after 1 s
  o.resolve = [](const std::string&, boost::system::error_code&) {
    return std::vector{asio::ip::make_address("127.0.0.1")};
  };
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    for (int i = 0; i < 10; ++i) {
      fanout::request req{.url = named_url(server, "e" + std::to_string(i) + ".test")};
      auto r = co_await s.try_request(req);
      REQUIRE(r);
    }
    CHECK(s.stats().dns_cached == 10);
    CHECK(s.stats().rate_limiters == 10);  // each bucket still refilling: not the same as new
    co_await sleep_for(1200ms);
    fanout::request last{.url = named_url(server, "last.test")};
    auto r = co_await s.try_request(last);
    REQUIRE(r);
    CHECK(s.stats().dns_cached == 1);
    CHECK(s.stats().rate_limiters == 1);
  });
}

TEST_CASE("caches: TLS sessions to resume are kept for max_cached_origins origins at most",
          "[dns][caches][tls]") {
  test_server server(
      test_server::options{.cert_pem = pki().server.cert_pem, .key_pem = pki().server.key_pem});
  constexpr std::size_t cap = 20, origins = 200;
  fanout::session_options o;
  o.max_cached_origins = cap;
  o.verify_tls = false;  // the names are made up; the certificate is for localhost
  o.keep_alive = false;  // every request a new handshake, each able to resume
  o.resolve = [](const std::string&, boost::system::error_code&) {
    return std::vector{asio::ip::make_address("127.0.0.1")};
  };
  std::size_t most = 0;
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    for (std::size_t i = 0; i < origins; ++i) {
      fanout::request req{.url = named_url(server, "t" + std::to_string(i) + ".test")};
      auto r = co_await s.try_request(req);
      REQUIRE(r);
      most = std::max(most, s.stats().tls_cached);
    }
    // The most recent origin's session is kept: a second connection there resumes.
    fanout::request again{.url = named_url(server, "t" + std::to_string(origins - 1) + ".test")};
    auto r = co_await s.try_request(again);
    REQUIRE(r);
    CHECK(r->timings().tls_resumed);
    // The first origin's is gone: its next connection does a full handshake.
    fanout::request first{.url = named_url(server, "t0.test")};
    auto f = co_await s.try_request(first);
    REQUIRE(f);
    CHECK_FALSE(f->timings().tls_resumed);
  });
  CHECK(most == cap);
}

TEST_CASE("connect_to: pinned addresses and another host:port, TLS still checked against the URL",
          "[dns][connect_to][tls]") {
  test_server server(
      test_server::options{.cert_pem = pki().server.cert_pem, .key_pem = pki().server.key_pem});
  test_server plain;  // for a made-up name: no certificate has it
  auto const port = server.port();
  std::atomic<int> lookups{0};
  fanout::session_options o;
  o.ca_file = pki().ca_file;
  // Any lookup that reaches DNS fails: what a rule covers must never get there.
  o.resolve = [&](const std::string&, boost::system::error_code& ec) {
    ++lookups;
    ec = asio::error::host_not_found;
    return std::vector<asio::ip::address>{};
  };
  o.connect_to = {
      // --resolve localhost:443:127.0.0.1 (the certificate is for localhost)
      {.host = "LocalHost",
       .port = 443,
       .addresses = {asio::ip::make_address("127.0.0.1")},
       .to_port = port},
      // --connect-to wrong.test:443:127.0.0.1:PORT (the certificate is not for wrong.test)
      {.host = "wrong.test", .port = 443, .to_host = "127.0.0.1", .to_port = port},
      // any port of pinned.test
      {.host = "pinned.test",
       .addresses = {asio::ip::make_address("::1"), asio::ip::make_address("127.0.0.1")}},
  };
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    auto ok = co_await s.get("https://localhost/hello");
    CHECK(ok.status() == 200);
    CHECK(ok.url() == "https://localhost/hello");

    // The TCP destination changes, not the name TLS checks.
    fanout::request wrong{.url = "https://wrong.test/hello"};
    auto refused = co_await s.try_request(wrong);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == fanout::http_errc::tls);

    // Addresses in order: ::1 first (the server listens on 127.0.0.1 only), then 127.0.0.1.
    fanout::request pinned{.url = named_url(plain, "pinned.test")};
    auto p = co_await s.try_request(pinned);
    REQUIRE(p);
    CHECK(p->status() == 200);

    // A port no rule names goes to DNS as usual (and fails here).
    fanout::request other{.url = "https://localhost:1/hello"};
    auto unresolved = co_await s.try_request(other);
    REQUIRE_FALSE(unresolved);
  });
  CHECK(lookups == 1);  // localhost:1 only
  CHECK(server.requests() == 1);
  CHECK(plain.requests() == 1);
}

TEST_CASE("connect_to: a rule with both addresses and to_host is refused at construction",
          "[dns][connect_to]") {
  fanout::session_options o;
  o.connect_to = {
      {.host = "a.test", .addresses = {asio::ip::make_address("127.0.0.1")}, .to_host = "b.test"}};
  CHECK_THROWS_AS(fanout::validate(o), std::invalid_argument);
}
