// Hostile servers: for each fault, the one item that meets it fails with a specific code and a
// message naming its URL, every other item of the same gather succeeds, and no file
// descriptor outlives the run.
#include "support/fault_server.hpp"

#include <fanout/core/gather.hpp>
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/certs.hpp"
#include "support/test_server.hpp"
#include "support/tls_fixtures.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

using namespace fanout::test;
using namespace std::chrono_literals;
using boost::system::error_code;
using fanout::errc;
using fanout::http_errc;

namespace {

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Short limits, so that every fault ends within about a second.
fanout::session_options fast_options() {
  return {.connect_timeout = 1s, .request_timeout = 1s, .max_body_bytes = 1 << 20};
}

struct run_outcome {
  std::vector<fanout::result<fanout::response>> results;
  std::chrono::steady_clock::duration elapsed{};
};

/// GETs `urls` with one gather through one session on a fresh io_context, bounded at 30 s.
run_outcome gather_urls(const std::vector<std::string>& urls,
                        fanout::session_options options = fast_options()) {
  run_outcome out;
  bool done = false;
  asio::io_context io;
  {
    fanout::session s(io.get_executor(), std::move(options));
    auto get = [&](const std::string& url) -> asio::awaitable<fanout::response> {
      return s.request(fanout::request{.url = url});
    };
    auto t0 = std::chrono::steady_clock::now();
    asio::co_spawn(io, fanout::gather(urls, get), [&](std::exception_ptr e, auto results) {
      out.elapsed = std::chrono::steady_clock::now() - t0;
      if (!e) out.results = std::move(results);
      done = true;
      s.close();
      io.stop();  // idle pooled connections and the sweeper would keep run_for() going
    });
    io.run_for(30s);
  }  // the session closes its pooled connections
  io.restart();
  io.run_for(100ms);
  REQUIRE(done);
  REQUIRE(out.results.size() == urls.size());
  return out;
}

/// `healthy` healthy URLs with `faulty` at index `healthy / 2`.
std::vector<std::string> with_fault(const std::string& faulty,
                                    const std::vector<std::string>& healthy) {
  std::vector<std::string> urls = healthy;
  urls.insert(urls.begin() + static_cast<std::ptrdiff_t>(healthy.size() / 2), faulty);
  return urls;
}

std::vector<std::string> healthy_urls(const fault_server& good, const fault_server* bad = nullptr) {
  std::vector<std::string> urls;
  for (int i = 0; i < 4; ++i) urls.push_back(good.url("/ok"));
  if (bad)
    for (int i = 0; i < 2; ++i) urls.push_back(bad->url("/ok"));
  return urls;
}

/// Checks that precisely the faulty item fails with one of `codes` and a message that names
/// `named` (the URL that failed: `faulty`, or where it redirected), and that every other item
/// got "200 ok".
void check_only_fault(const run_outcome& out, const std::vector<std::string>& urls,
                      const std::string& faulty, std::initializer_list<error_code> codes,
                      std::string_view said, std::string_view named = {}) {
  for (std::size_t i = 0; i < urls.size(); ++i) {
    INFO("item " << i << ": " << urls[i]);
    auto& r = out.results[i];
    if (urls[i] == faulty) {
      REQUIRE_FALSE(r);
      INFO(r.error());
      bool expected = false;
      for (auto& c : codes) expected = expected || r.error().code() == c;
      CHECK(expected);
      auto const name = named.empty() ? faulty : std::string(named);
      CHECK(contains(r.error().message(), "GET " + name + ": "));
      CHECK(contains(r.error().message(), said));
    } else {
      REQUIRE(r);
      CHECK(r->status() == 200);
      CHECK(r->body() == "ok");
    }
  }
}

/// The whole check for one fault: fds before and after, the faulty item's code and message,
/// the others' success. `same_host` also sends healthy requests to the faulty server.
run_outcome check_fault(fault f, std::initializer_list<error_code> codes, std::string_view said,
                        bool same_host = true, fanout::session_options options = fast_options()) {
  auto const before = open_fds();
  run_outcome out;
  {
    fault_server bad(f);
    fault_server good(fault::none);
    auto faulty = bad.url("/fault");
    auto urls = with_fault(faulty, healthy_urls(good, same_host ? &bad : nullptr));
    out = gather_urls(urls, std::move(options));
    check_only_fault(out, urls, faulty, codes, said);
  }
  CHECK(open_fds() == before);
  return out;
}

}  // namespace

TEST_CASE("fault: connection refused", "[fault]") {
  std::uint16_t port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto const before = open_fds();
  {
    fault_server good(fault::none);
    auto faulty = "http://127.0.0.1:" + std::to_string(port) + "/fault";
    auto urls = with_fault(faulty, healthy_urls(good));
    auto out = gather_urls(urls);
    check_only_fault(out, urls, faulty, {asio::error::connection_refused}, "Connection refused");
  }
  CHECK(open_fds() == before);
}

TEST_CASE("fault: accept then close at once", "[fault]") {
  // Whether the client's request reaches the closed socket before or after the FIN decides
  // between an end of stream and a reset; both say the server closed the connection.
  check_fault(
      fault::close_on_accept,
      {boost::beast::http::error::end_of_stream, asio::error::eof, asio::error::connection_reset},
      "", false);
}

TEST_CASE("fault: reset in the middle of the headers", "[fault]") {
  check_fault(fault::rst_mid_headers, {asio::error::connection_reset}, "reset");
}

TEST_CASE("fault: reset in the middle of the body", "[fault]") {
  check_fault(fault::rst_mid_body, {asio::error::connection_reset}, "reset");
}

TEST_CASE("fault: body shorter than its Content-Length, then close", "[fault]") {
  check_fault(fault::truncated_body, {http_errc::protocol}, "before the end of the response");
}

TEST_CASE("fault: chunked body with a bad chunk size", "[fault]") {
  check_fault(fault::bad_chunk_size, {http_errc::protocol}, "invalid HTTP response");
}

TEST_CASE("fault: invalid status line", "[fault]") {
  check_fault(fault::bad_status_line, {http_errc::protocol}, "invalid HTTP response");
}

TEST_CASE("fault: headers larger than max_header_bytes", "[fault][security]") {
  check_fault(fault::huge_headers, {http_errc::headers_too_large}, "max_header_bytes");
}

TEST_CASE("fault: body larger than max_body_bytes", "[fault][security]") {
  check_fault(fault::huge_body, {http_errc::body_too_large}, "max_body_bytes");
}

TEST_CASE("fault: gzip bomb", "[fault][security]") {
  check_fault(fault::gzip_bomb, {http_errc::body_too_large}, "decompressed body");
}

TEST_CASE("fault: a server that never answers", "[fault]") {
  auto out = check_fault(fault::never_answers, {errc::timeout}, "timed out");
  CHECK(out.elapsed >= 900ms);
  CHECK(out.elapsed < 10s);
}

TEST_CASE("fault: slowloris, one byte every 100 ms, meets the whole-request timeout", "[fault]") {
  // Every byte resets no idle timer: the 1 s deadline covers the whole request.
  auto out = check_fault(fault::slowloris, {errc::timeout}, "timed out");
  CHECK(out.elapsed >= 900ms);
  CHECK(out.elapsed < 10s);
}

TEST_CASE("fault: redirect loop", "[fault][security]") {
  auto options = fast_options();
  options.max_redirects = 5;
  check_fault(fault::redirect_loop, {http_errc::too_many_redirects}, "more than 5 redirects", true,
              options);
}

TEST_CASE("fault: accepted by the kernel but the listen backlog is full", "[fault]") {
  auto options = fast_options();
  options.connect_timeout = 300ms;
  auto out = check_fault(fault::backlog_full, {errc::timeout}, "timed out", false, options);
  CHECK(out.elapsed < 10s);
}

TEST_CASE("fault: more requests waiting for a connection than max_pending_requests",
          "[fault][security]") {
  // One connection, busy 200 ms per request: of 5 requests 1 runs, 2 wait, 2 fail at once.
  auto const before = open_fds();
  {
    test_server server;
    server.route("/slow", [](exchange& x) {
      x.delay = 200ms;
      x.res.body() = "ok";
    });
    auto options = fast_options();
    options.request_timeout = 20s;
    options.max_connections_per_host = 1;
    options.max_pending_requests = 2;
    auto const url = server.url("/slow");
    auto out = gather_urls(std::vector<std::string>(5, url), options);
    std::size_t ok = 0, refused = 0;
    for (auto& r : out.results) {
      if (r) {
        ok += r->body() == "ok";
        continue;
      }
      INFO(r.error());
      CHECK(r.error().code() == http_errc::too_many_pending);
      CHECK(contains(r.error().message(), "GET " + url + ": more than max_pending_requests (2)"));
      ++refused;
    }
    CHECK(ok == 3);
    CHECK(refused == 2);
    CHECK(server.connections() == 1);
  }
  CHECK(open_fds() == before);
}

namespace {

/// `rounds` gathers of `per_round` GETs of `url` through one session (at most 16 at once, over
/// at most 4 connections), `pause` apart; counts the successes, keeps the first errors.
std::size_t many_gets(const std::string& url, int rounds, std::size_t per_round,
                      std::chrono::milliseconds pause, std::vector<std::string>& errors) {
  std::vector<std::string> urls(per_round, url);
  auto options = fast_options();
  options.max_connections_per_host = 4;
  std::size_t ok = 0;
  bool done = false;
  asio::io_context io;
  {
    fanout::session s(io.get_executor(), std::move(options));
    auto get = [&](const std::string& u) -> asio::awaitable<fanout::response> {
      return s.request(fanout::request{.url = u});
    };
    auto body = [&]() -> asio::awaitable<void> {
      for (int round = 0; round < rounds; ++round) {
        auto results = co_await fanout::gather(urls, get, {.max_concurrency = 16});
        for (auto& r : results) {
          if (r && r->status() == 200 && r->body() == "ok")
            ++ok;
          else if (!r && errors.size() < 5)
            errors.push_back(fanout::error_name(r.error().code()) + ": " + r.error().message());
        }
        co_await sleep_for(pause);
      }
    };
    asio::co_spawn(io, body(), [&](std::exception_ptr) {
      done = true;
      s.close();
      io.stop();
    });
    io.run_for(60s);
  }
  io.restart();
  io.run_for(100ms);
  REQUIRE(done);
  return ok;
}

}  // namespace

TEST_CASE("fault: a keep-alive server that closes after every response loses no request",
          "[fault][stale]") {
  auto const before = open_fds();
  {
    fault_server bad(fault::close_after_response);
    std::vector<std::string> errors;
    auto ok = many_gets(bad.url("/fault"), 1, 1000, 0ms, errors);
    INFO("first error: " << (errors.empty() ? "" : errors.front()));
    CHECK(ok == 1000);
  }
  CHECK(open_fds() == before);
}

TEST_CASE("fault: a server that closes connections idle for 100 ms loses no request",
          "[fault][stale]") {
  auto const before = open_fds();
  {
    fault_server bad(fault::idle_close);
    std::vector<std::string> errors;
    // Rounds of 100 requests, each started after the server closed the previous round's
    // connections (or is closing them: 95 to 105 ms, the race a client must survive).
    std::size_t ok = 0;
    for (auto pause : {95ms, 100ms, 105ms, 150ms})
      ok += many_gets(bad.url("/fault"), 10, 25, pause, errors);
    INFO("first error: " << (errors.empty() ? "" : errors.front()));
    CHECK(ok == 1000);
  }
  CHECK(open_fds() == before);
}

// TLS faults. The healthy items go to a plain server and to an https server whose certificate
// the session trusts, so a failed handshake must not spoil the TLS state the others share.

namespace {

fanout::session_options tls_fast_options() {
  auto o = fast_options();
  o.ca_file = pki().ca_file;
  return o;
}

/// The servers of one TLS fault: whichever the scenario needs, and the faulty URL.
struct tls_fault_servers {
  std::optional<test_server> tls, plain;
  std::optional<fault_server> raw;
  std::string faulty, named;
};

/// As check_fault, for a faulty URL that `make` sets up (servers and all).
run_outcome check_tls_fault(const std::function<void(tls_fault_servers&)>& make,
                            std::initializer_list<error_code> codes, std::string_view said) {
  (void)pki();  // generated once per process, before the fds are counted
  auto const before = open_fds();
  run_outcome out;
  {
    tls_fault_servers bad;
    make(bad);
    fault_server good(fault::none);
    test_server secure(tls_with(pki().server));
    secure.route("/ok", [](exchange& x) { x.res.body() = "ok"; });
    auto healthy = healthy_urls(good);
    for (int i = 0; i < 2; ++i) healthy.push_back(secure.url("/ok"));
    auto urls = with_fault(bad.faulty, healthy);
    out = gather_urls(urls, tls_fast_options());
    check_only_fault(out, urls, bad.faulty, codes, said, bad.named);
    if (bad.plain) CHECK(bad.plain->connections() == 1);
  }
  CHECK(open_fds() == before);
  return out;
}

/// A TLS server with certificate `c` as the faulty URL.
std::function<void(tls_fault_servers&)> serving(const cert_pair& c) {
  return [&c](tls_fault_servers& s) {
    s.tls.emplace(tls_with(c));
    s.faulty = s.tls->url("/ok");
  };
}

}  // namespace

TEST_CASE("fault: tls: a self-signed certificate", "[fault][tls]") {
  check_tls_fault(serving(pki().self_signed), {http_errc::tls}, "(self-signed certificate)");
}

TEST_CASE("fault: tls: an expired certificate", "[fault][tls]") {
  check_tls_fault(serving(pki().expired), {http_errc::tls}, "(certificate has expired)");
}

TEST_CASE("fault: tls: a certificate for another host name", "[fault][tls]") {
  check_tls_fault(serving(pki().wrong_host), {http_errc::tls}, "hostname mismatch");
}

TEST_CASE("fault: tls: a handshake that stalls meets connect_timeout", "[fault][tls]") {
  // The server accepts and reads, but a ClientHello never ends a request head: no answer.
  auto out = check_tls_fault(
      [](tls_fault_servers& s) {
        s.raw.emplace(fault::never_answers);
        auto url = s.raw->url("/fault");
        s.faulty = "https" + url.substr(4);
      },
      {errc::timeout}, "timed out while the TLS handshake");
  CHECK(out.elapsed >= 900ms);
  CHECK(out.elapsed < 10s);
}

TEST_CASE("fault: tls: a redirect from http to https with a bad certificate", "[fault][tls]") {
  check_tls_fault(
      [](tls_fault_servers& s) {
        s.tls.emplace(tls_with(pki().self_signed));
        s.plain.emplace();
        s.named = s.tls->url("/ok");
        s.plain->route("/to-bad", [target = s.named](exchange& x) {
          x.res.result(302);
          x.res.set("location", target);
        });
        s.faulty = s.plain->url("/to-bad");
      },
      {http_errc::tls}, "(self-signed certificate)");
}
