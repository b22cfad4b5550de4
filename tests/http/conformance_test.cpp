// HTTP/1.1 response framing against exact bytes (RFC 9112, RFC 9110 §15.2): one table, one row
// per response oddity, each sent by a raw loopback server; then the invariant that no response
// can reach another request. docs/conformance.md explains each row's choice.
#include "support/raw_server.hpp"

#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/certs.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;
using fanout::http_errc;

namespace {

// What the server does once it has written the row's bytes.
enum class then { keep_open, close };
constexpr bool reused = true, fresh = false;
constexpr std::optional<http_errc> ok = std::nullopt;

struct row {
  const char* name;
  std::string_view method;
  std::string_view reply;  // the exact bytes the server writes
  then after;
  int status;             // when `error` is ok
  std::string_view body;  // idem
  std::optional<http_errc> error;
  bool reuse;  // whether the next request may go over the same connection
};

// clang-format off
const row rows[] = {
  // name                                  method  reply                                                                                  then             status body     error           reuse
  {"plain Content-Length",                 "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",                                   then::keep_open, 200, "hello", ok,             reused},
  // 1xx (RFC 9110 §15.2): parsed and skipped, the final response is the one that counts
  {"100 Continue, then 200",               "GET",  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",      then::keep_open, 200, "hello", ok,             reused},
  {"103 Early Hints with fields, then 200","GET",  "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", then::keep_open, 200, "hello", ok, reused},
  {"100, 102, 103 in a row, then 200",     "GET",  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhello", then::keep_open, 404, "hello", ok, reused},
  {"1xx with bare LF, then 200",           "GET",  "HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 5\n\nhello",                then::keep_open, 200, "hello", ok,             reused},
  {"1xx before a 204",                     "GET",  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",                         then::keep_open, 204, "",      ok,             reused},
  {"100 Continue, then no status line",    "GET",  "HTTP/1.1 100 Continue\r\n\r\nnot a status line\r\n\r\n",                              then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"100 Continue, then the server closes", "GET",  "HTTP/1.1 100 Continue\r\n\r\n",                                                       then::close,     0,   "",      http_errc::protocol, fresh},
  {"101 Switching Protocols, not asked",   "GET",  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",     then::keep_open, 0,   "",      http_errc::protocol, fresh},
  // line endings and the status line (RFC 9112 §2.2, §4)
  {"bare LF line endings",                 "GET",  "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",                                         then::keep_open, 200, "hello", ok,             reused},
  {"CRLF and bare LF mixed",               "GET",  "HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 5\n\r\nhello",                             then::keep_open, 200, "hello", ok,             reused},
  {"no reason phrase, SP kept",            "GET",  "HTTP/1.1 405 \r\nContent-Length: 5\r\n\r\nhello",                                     then::keep_open, 405, "hello", ok,             reused},
  {"no reason phrase, no SP",              "GET",  "HTTP/1.1 405\r\nContent-Length: 5\r\n\r\nhello",                                      then::keep_open, 405, "hello", ok,             reused},
  {"no reason phrase, no SP, bare LF",     "GET",  "HTTP/1.1 405\nContent-Length: 5\n\nhello",                                            then::keep_open, 405, "hello", ok,             reused},
  {"HTTP/1.0, Content-Length",             "GET",  "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",                                   then::keep_open, 200, "hello", ok,             fresh},
  {"HTTP/1.0, body until close",           "GET",  "HTTP/1.0 200 OK\r\n\r\nhello",                                                        then::close,     200, "hello", ok,             fresh},
  {"HTTP/2 status line over HTTP/1",       "GET",  "HTTP/2 200\r\nContent-Length: 5\r\n\r\nhello",                                        then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"HTTP/0.9 (no status line)",            "GET",  "hello",                                                                               then::close,     0,   "",      http_errc::protocol, fresh},
  {"garbage without any line end",         "GET",  "garbage",                                                                             then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"garbage line",                         "GET",  "SSH-2.0-OpenSSH_9.2\r\n",                                                             then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"empty line before the status line",    "GET",  "\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",                               then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"four-digit status code",               "GET",  "HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello",                                  then::keep_open, 0,   "",      http_errc::protocol, fresh},
  // fields (RFC 9112 §5)
  {"obs-fold",                             "GET",  "HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 5\r\n\r\nhello",              then::keep_open, 200, "hello", ok,             reused},
  {"obs-fold with bare LF",                "GET",  "HTTP/1.1 200 OK\nX-Folded: a\n\tb\nContent-Length: 5\n\nhello",                       then::keep_open, 200, "hello", ok,             reused},
  {"whitespace before the first field",    "GET",  "HTTP/1.1 200 OK\r\n X-A: 1\r\nContent-Length: 5\r\n\r\nhello",                        then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"whitespace before the colon",          "GET",  "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",                                  then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"field line without a colon",           "GET",  "HTTP/1.1 200 OK\r\nBogus\r\nContent-Length: 5\r\n\r\nhello",                          then::keep_open, 0,   "",      http_errc::protocol, fresh},
  // Content-Length (RFC 9110 §8.6, RFC 9112 §6.3)
  {"two identical Content-Length fields",  "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",              then::keep_open, 200, "hello", ok,             reused},
  {"Content-Length: 5, 5",                 "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",                                then::keep_open, 200, "hello", ok,             reused},
  {"conflicting Content-Length fields",    "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",             then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"Content-Length: +5",                   "GET",  "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",                                  then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"body shorter than Content-Length",     "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",                                  then::close,     0,   "",      http_errc::protocol, fresh},
  {"no length: body until close",          "GET",  "HTTP/1.1 200 OK\r\n\r\nhello",                                                        then::close,     200, "hello", ok,             fresh},
  {"Connection: close",                    "GET",  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",              then::keep_open, 200, "hello", ok,             fresh},
  // responses without a body (RFC 9112 §6.3 rule 1)
  {"204 with Transfer-Encoding: chunked",  "GET",  "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",                       then::keep_open, 204, "",      ok,             reused},
  {"204 with chunked and Content-Length",  "GET",  "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n",  then::keep_open, 204, "",      ok,             reused},
  {"304 with Content-Length",              "GET",  "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",                            then::keep_open, 304, "",      ok,             reused},
  {"HEAD with Content-Length",             "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",                                      then::keep_open, 200, "",      ok,             reused},
  {"HEAD with chunked",                    "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",                               then::keep_open, 200, "",      ok,             reused},
  {"204 that sends a chunked body anyway", "GET",  "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",              then::keep_open, 204, "",      ok,             fresh},
  // chunked (RFC 9112 §7)
  {"chunked",                              "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", then::keep_open, 200, "hello", ok,            reused},
  {"chunked with extensions",              "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0;c\r\n\r\n",    then::keep_open, 200, "hello", ok,             reused},
  {"chunked trailer, no Trailer field",    "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", then::keep_open, 200, "hello", ok,          reused},
  {"chunked trailer, Trailer field",       "GET",  "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", then::keep_open, 200, "hello", ok, reused},
  {"chunked, TE in upper case",            "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n",         then::keep_open, 200, "hello", ok,             reused},
  {"chunked, truncated by close",          "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",                        then::close,     0,   "",      http_errc::protocol, fresh},
  {"chunked, bad chunk size",              "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",        then::keep_open, 0,   "",      http_errc::protocol, fresh},
  // Transfer-Encoding (RFC 9112 §6.1, §6.3)
  {"Transfer-Encoding: chunked, chunked",  "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", then::close,   0,   "",      http_errc::protocol, fresh},
  {"two Transfer-Encoding: chunked fields","GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", then::close, 0, "", http_errc::protocol, fresh},
  {"chunked and Content-Length",           "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n", then::keep_open, 200, "hello", ok, fresh},
  {"Content-Length and chunked",           "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", then::keep_open, 200, "hello", ok, fresh},
  {"chunked, identity and Content-Length", "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n", then::keep_open, 200, "hello", ok, fresh},
  {"Transfer-Encoding: identity, chunked", "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", then::keep_open, 200, "hello", ok,           reused},
  {"Transfer-Encoding: gzip, chunked",     "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",   then::keep_open, 0,   "",      http_errc::protocol, fresh},
  {"Transfer-Encoding: gzip (not chunked)","GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",                                then::close,     0,   "",      http_errc::protocol, fresh},
  {"Transfer-Encoding: x-unknown",         "GET",  "HTTP/1.1 200 OK\r\nTransfer-Encoding: x-unknown\r\n\r\nhello",                       then::close,     0,   "",      http_errc::protocol, fresh},
  // whatever follows a complete response is not the next request's (the pool's invariant)
  {"one extra byte after the response",    "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloX",                                 then::keep_open, 200, "hello", ok,             fresh},
  {"a second response after the response", "GET",  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG", then::keep_open, 200, "hello", ok, fresh},
};
// clang-format on

constexpr std::string_view next_reply = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext";

fanout::session_options test_options() {
  // A long timeout: a row that should fail at once must not pass by timing out.
  return {.connect_timeout = 10s, .request_timeout = 10s, .max_body_bytes = 1 << 20};
}

// Waits, bounded, until `done()`; the bytes a server wrote are then in the client's socket.
asio::awaitable<void> wait_until(const std::function<bool()>& done) {
  for (int i = 0; i < 5000 && !done(); ++i) co_await sleep_for(1ms);
  REQUIRE(done());
}

}  // namespace

TEST_CASE("conformance: each row's reply gives its status, body or error, and reuse",
          "[conformance]") {
  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.name) {
      raw_server server({{.bytes = std::string(r.reply), .close = r.after == then::close},
                         {.bytes = std::string(next_reply)}});
      run_session(
          test_options(),
          [&](fanout::session& s) -> asio::awaitable<void> {
            fanout::request req{.method = std::string(r.method), .url = server.url("/row")};
            auto got = co_await s.try_request(req);
            if (r.error) {
              REQUIRE_FALSE(got);
              INFO(got.error().message());
              CHECK(got.error().code() == *r.error);
            } else {
              INFO((got ? std::string() : got.error().message()));
              REQUIRE(got);
              CHECK(got->status() == r.status);
              CHECK(got->body() == r.body);
            }
            // The next request gets its own answer, over the same connection or a new one.
            fanout::request next{.url = server.url("/next")};
            auto second = co_await s.try_request(next);
            INFO((second ? std::string() : second.error().message()));
            REQUIRE(second);
            CHECK(second->status() == 200);
            CHECK(second->body() == "next");
            CHECK(server.requests() == 2);
            CHECK(server.connections() == (r.reuse ? 1u : 2u));
          },
          30s);
    }
  }
}

TEST_CASE("conformance: folded field values are joined with SP", "[conformance]") {
  raw_server server(
      {{.bytes = "HTTP/1.1 200 OK\nX-Folded: a\n  b\r\n\tc\nContent-Length: 2\n\nok"}});
  run_session(test_options(), [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/"));
    CHECK(r.status() == 200);
    auto folded = r.header("x-folded");
    REQUIRE(folded);
    // RFC 9112 §5.2: each obs-fold becomes SP (the whitespace around it may stay).
    std::string value(*folded);
    CHECK(value.substr(0, 1) == "a");
    CHECK(value.find('\n') == std::string::npos);
    CHECK(value.find('\r') == std::string::npos);
    CHECK(value.find('b') != std::string::npos);
    CHECK(value.back() == 'c');
  });
}

// The invariant: a connection goes back to the pool only when its exchange ended exactly at a
// message boundary with nothing unread. Each test sends three requests; the server's answers
// are numbered, and request i must get answer i.
namespace {

std::string numbered(int i) {
  return "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nreply" + std::to_string(i);
}

asio::awaitable<void> expect_own_answers(fanout::session& s, raw_server& server,
                                         bool wait_for_after) {
  auto r1 = co_await s.get(server.url("/1"));
  CHECK(r1.status() == 200);
  CHECK(r1.body() == "reply1");
  if (wait_for_after) co_await wait_until([&] { return server.afters_sent() >= 1; });
  auto r2 = co_await s.get(server.url("/2"));
  CHECK(r2.status() == 200);
  CHECK(r2.body() == "reply2");
  auto r3 = co_await s.get(server.url("/3"));
  CHECK(r3.status() == 200);
  CHECK(r3.body() == "reply3");
}

const std::string stray_response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG";

}  // namespace

TEST_CASE("conformance: after a 1xx, the next request still gets its own response",
          "[conformance][invariant]") {
  raw_server server(
      {{.bytes = "HTTP/1.1 103 Early Hints\r\n\r\n" + numbered(1)},
       {.bytes = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + numbered(2)},
       {.bytes = numbered(3)}});
  run_session(test_options(), [&](fanout::session& s) -> asio::awaitable<void> {
    co_await expect_own_answers(s, server, false);
    CHECK(server.connections() == 1);  // each exchange ended at its final response
  });
}

TEST_CASE(
    "conformance: bytes the server sends after a complete response never reach the next "
    "request",
    "[conformance][invariant]") {
  SECTION("one extra byte, written after the response") {
    raw_server server(
        {{.bytes = numbered(1), .after = "X"}, {.bytes = numbered(2)}, {.bytes = numbered(3)}});
    run_session(test_options(), [&](fanout::session& s) -> asio::awaitable<void> {
      co_await expect_own_answers(s, server, true);
      CHECK(server.connections() == 2);
    });
  }
  SECTION("a second response, written after the response") {
    raw_server server({{.bytes = numbered(1), .after = stray_response},
                       {.bytes = numbered(2)},
                       {.bytes = numbered(3)}});
    run_session(test_options(), [&](fanout::session& s) -> asio::awaitable<void> {
      co_await expect_own_answers(s, server, true);
      CHECK(server.connections() == 2);
    });
  }
  SECTION("a second response, in the same write") {
    raw_server server(
        {{.bytes = numbered(1) + stray_response}, {.bytes = numbered(2)}, {.bytes = numbered(3)}});
    run_session(test_options(), [&](fanout::session& s) -> asio::awaitable<void> {
      co_await expect_own_answers(s, server, false);
      CHECK(server.connections() == 2);
    });
  }
}

TEST_CASE("conformance: over TLS, leftover records are read when probing an idle connection",
          "[conformance][invariant][tls]") {
  raw_server::options tls{.cert_pem = pki().server.cert_pem, .key_pem = pki().server.key_pem};
  auto options = test_options();
  options.ca_file = pki().ca_file;
  SECTION("a well-behaved server: every request on one connection (tickets are no leftovers)") {
    raw_server server({{.bytes = numbered(1)}, {.bytes = numbered(2)}, {.bytes = numbered(3)}},
                      tls);
    run_session(options, [&](fanout::session& s) -> asio::awaitable<void> {
      co_await expect_own_answers(s, server, false);
      CHECK(server.connections() == 1);
    });
  }
  SECTION("a second response, written after the response") {
    raw_server server({{.bytes = numbered(1), .after = stray_response},
                       {.bytes = numbered(2)},
                       {.bytes = numbered(3)}},
                      tls);
    run_session(options, [&](fanout::session& s) -> asio::awaitable<void> {
      co_await expect_own_answers(s, server, true);
      CHECK(server.connections() == 2);
    });
  }
  SECTION("one extra byte, written after the response") {
    raw_server server(
        {{.bytes = numbered(1), .after = "X"}, {.bytes = numbered(2)}, {.bytes = numbered(3)}},
        tls);
    run_session(options, [&](fanout::session& s) -> asio::awaitable<void> {
      co_await expect_own_answers(s, server, true);
      CHECK(server.connections() == 2);
    });
  }
}
