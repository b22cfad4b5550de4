// The session's pure decisions, table by table: the header values it acts on (Keep-Alive,
// Retry-After, HTTP-dates, lists), where a redirect goes, whether and when to retry, how a body
// is decoded. No socket, no io_context: each row is an input and the answer (RFC 9110's where
// it has one).
#include "support/zlib_reference.hpp"

#include <fanout/http/detail/sansio/connect_rules.hpp>
#include <fanout/http/detail/sansio/content_coding.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/detail/sansio/redirect.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>
#include <fanout/http/detail/sansio/retry_decision.hpp>

#include <boost/asio/error.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fd = fanout::detail;
using namespace std::chrono_literals;

namespace {

// 2026-12-03 12:00:00 UTC.
std::chrono::system_clock::time_point const now_2026 =
    std::chrono::sys_days(std::chrono::year(2026) / 12 / 3) + 12h;

// 1994-11-06 08:49:37 UTC, RFC 9110's example date.
std::chrono::system_clock::time_point const now_1994 =
    std::chrono::system_clock::from_time_t(784111777);

std::vector<std::string> elements(std::string_view list) {
  std::vector<std::string> out;
  fd::for_each_list_element(list, [&](std::string_view e) { out.emplace_back(e); });
  return out;
}

}  // namespace

TEST_CASE("trim_ows and for_each_list_element: RFC 9110 §5.6.1 lists", "[sansio][header]") {
  CHECK(fd::trim_ows("  a b\t ") == "a b");
  CHECK(fd::trim_ows(" \t ").empty());
  CHECK(fd::trim_ows("").empty());
  CHECK(fd::trim_ows("x") == "x");
  CHECK(elements("gzip, deflate") == std::vector<std::string>{"gzip", "deflate"});
  CHECK(elements(" ,, a ,\t,b,") == std::vector<std::string>{"a", "b"});  // empty elements
  CHECK(elements("").empty());
  CHECK(elements("a;q=1, b") == std::vector<std::string>{"a;q=1", "b"});  // parameters stay
}

TEST_CASE("keep_alive_timeout: the timeout parameter, compared by name", "[sansio][header]") {
  struct row {
    std::string_view value;
    std::optional<std::chrono::seconds> timeout;
  };
  row const rows[] = {
      {"timeout=5", 5s},
      {"timeout=5, max=100", 5s},
      {"max=100, timeout=7", 7s},
      {"Timeout=3", 3s},
      {" timeout = 4 ", 4s},
      {"timeout=0", 0s},
      // Regression: a substring search matched "timeout=" inside another name.
      {"xtimeout=5", std::nullopt},
      {"max=5, notimeout=9", std::nullopt},
      {"timeout", std::nullopt},
      {"timeout=", std::nullopt},
      {"timeout=abc", std::nullopt},
      {"timeout=-1", std::nullopt},
      {"timeout=5x", std::nullopt},
      {"timeout=99999999999", std::nullopt},  // absurd: no keep-alive hint at all
      {"", std::nullopt},
  };
  for (auto const& r : rows) {
    INFO("Keep-Alive: " << r.value);
    CHECK(fd::keep_alive_timeout(r.value) == r.timeout);
  }
}

TEST_CASE("parse_http_date: the three forms, real calendar days only", "[sansio][header]") {
  using std::chrono::sys_days;
  using std::chrono::year;
  auto const rfc_example = std::chrono::sys_seconds(784111777s);
  struct row {
    std::string_view value;
    std::chrono::system_clock::time_point now;
    std::optional<std::chrono::sys_seconds> when;
  };
  row const rows[] = {
      {"Sun, 06 Nov 1994 08:49:37 GMT", now_2026, rfc_example},   // IMF-fixdate
      {"Sunday, 06-Nov-94 08:49:37 GMT", now_1994, rfc_example},  // RFC 850
      {"Sun Nov  6 08:49:37 1994", now_2026, rfc_example},        // asctime
      {"Sun Nov 6 08:49:37 1994", now_2026, rfc_example},
      // RFC 850's two-digit year: the most recent such year unless that is more than 50
      // years ahead (§5.6.7). In 2026, "70" is 2070 (44 years ahead) and "99" is 1999.
      {"Thursday, 01-Jan-70 00:00:00 GMT", now_2026, sys_days(year(2070) / 1 / 1)},
      {"Friday, 01-Jan-99 00:00:00 GMT", now_2026, sys_days(year(1999) / 1 / 1)},
      {"Saturday, 01-Jan-50 00:00:00 GMT", now_2026, sys_days(year(2050) / 1 / 1)},
      {"Tuesday, 01-Jan-26 00:00:00 GMT", now_2026, sys_days(year(2026) / 1 / 1)},
      // Days that do not exist are no date (timegm would move them to March).
      {"Mon, 30 Feb 2026 00:00:00 GMT", now_2026, std::nullopt},
      {"Thu, 29 Feb 2026 00:00:00 GMT", now_2026, std::nullopt},
      {"Sun, 31 Apr 2026 00:00:00 GMT", now_2026, std::nullopt},
      {"Thu, 29 Feb 2024 00:00:00 GMT", now_2026, sys_days(year(2024) / 2 / 29)},  // leap year
      {"Sun, 06 Nov 1994 24:00:00 GMT", now_2026, std::nullopt},
      {"Sun, 06 Nov 1994 08:60:00 GMT", now_2026, std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 UTC", now_2026, std::nullopt},  // "GMT" is literal
      {"06 Nov 1994 08:49:37 GMT", now_2026, std::nullopt},
      {"", now_2026, std::nullopt},
  };
  for (auto const& r : rows) {
    INFO(r.value);
    CHECK(fd::parse_http_date(r.value, r.now) == r.when);
  }
}

TEST_CASE("parse_retry_after: seconds, dates, the past and the far future", "[sansio][header]") {
  struct row {
    std::string_view value;
    std::chrono::system_clock::time_point now;
    std::optional<std::chrono::milliseconds> wait;
  };
  constexpr std::chrono::milliseconds a_year = std::chrono::hours(24 * 365);
  row const rows[] = {
      {"1", now_1994, 1s},
      {" 120 ", now_1994, 120s},
      {"0", now_1994, 0s},
      {"9999999999", now_1994, a_year},
      {"Sun, 06 Nov 1994 08:49:39 GMT", now_1994, 2s},
      {"Sunday, 06-Nov-94 08:50:37 GMT", now_1994, 60s},
      {"Sun Nov  6 08:49:47 1994", now_1994, 10s},
      {"Sun, 06 Nov 1994 08:00:00 GMT", now_1994, 0s},         // in the past: no wait
      {"Thursday, 01-Jan-70 00:00:00 GMT", now_2026, a_year},  // 2070, capped
      {"Friday, 01-Jan-99 00:00:00 GMT", now_2026, 0s},        // 1999, past
      {"Mon, 30 Feb 2026 00:00:00 GMT", now_2026, std::nullopt},
      {"Wed, 21 Oct 7753 07:28:00 GMT", now_1994, a_year},  // beyond system_clock's range
      {"Mon, 01 Jan 0001 00:00:00 GMT", now_1994, 0s},
      {"", now_1994, std::nullopt},
      {"soon", now_1994, std::nullopt},
      {"-5", now_1994, std::nullopt},
      {"1.5", now_1994, std::nullopt},
  };
  for (auto const& r : rows) {
    INFO("Retry-After: " << r.value);
    CHECK(fd::parse_retry_after(r.value, r.now) == r.wait);
  }
}

TEST_CASE("pool_idle_time: ours, shortened by the server's Keep-Alive less a margin",
          "[sansio][header]") {
  using std::chrono::steady_clock;
  auto const idle = [](std::chrono::milliseconds ours, std::optional<std::string_view> ka) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(fd::pool_idle_time(ours, ka));
  };
  CHECK(idle(50s, std::nullopt) == 50s);
  CHECK(idle(50s, "timeout=5") == 4s);     // a second of margin
  CHECK(idle(50s, "timeout=1") == 500ms);  // half of a short one
  CHECK(idle(50s, "timeout=0") <= 0ms);    // the server keeps nothing: neither do we
  CHECK(idle(2s, "timeout=60") == 2s);     // ours is shorter
  CHECK(idle(50s, "max=100") == 50s);      // no timeout parameter
  CHECK(idle(50s, "xtimeout=1") == 50s);   // not the timeout parameter
  CHECK(idle(0ms, std::nullopt) == std::chrono::hours(24 * 365));  // none of ours: a year
}

namespace {

fanout::url_parts parts(std::string_view url) {
  fanout::url_parts p;
  std::string why;
  REQUIRE_FALSE(fanout::parse_url(url, p, why));
  return p;
}

}  // namespace

TEST_CASE("next_hop: follow, stop or refuse, and what a followed hop changes",
          "[sansio][redirect]") {
  using kind = fd::hop_decision::kind;
  struct row {
    int status;
    std::optional<std::string_view> location;
    std::string_view method;
    std::string_view from;
    std::size_t redirects_so_far;
    fd::redirect_policy policy;
    kind action;
    std::string_view to = {};  // follow: the next URL; refuse: a part of the reason
    bool to_get = false;
    bool cross_origin = false;
    fanout::http_errc error = {};
  };
  fd::redirect_policy const ten{.max_redirects = 10};
  fd::redirect_policy const downgrade{.max_redirects = 10, .allow_https_downgrade = true};
  fd::redirect_policy const none{.max_redirects = 0};
  auto const redirect_refused = fanout::http_errc::redirect_refused;
  row const rows[] = {
      // Statuses: 301, 302, 303, 307, 308 are followed; 300, 304, 305 and others are answers.
      {301, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b"},
      {302, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b"},
      {303, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", true},
      {307, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b"},
      {308, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b"},
      {300, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::stop},
      {304, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::stop},
      {305, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::stop},
      {200, "/b", "GET", "http://127.0.0.1/a", 0, ten, kind::stop},
      // No Location, or a blank one: the 3xx is the answer (RFC 9110 §10.2.2).
      {302, std::nullopt, "GET", "http://127.0.0.1/a", 0, ten, kind::stop},
      {302, " \t", "GET", "http://127.0.0.1/a", 0, ten, kind::stop},
      // max_redirects: 0 follows nothing; the 11th hop of 10 is refused.
      {302, "/b", "GET", "http://127.0.0.1/a", 0, none, kind::stop},
      {302, "/b", "GET", "http://127.0.0.1/a", 9, ten, kind::follow, "http://127.0.0.1/b"},
      {302, "/b", "GET", "http://127.0.0.1/a", 10, ten, kind::refuse, "more than 10 redirects",
       false, false, fanout::http_errc::too_many_redirects},
      // Methods: 303 makes GET of all but HEAD; 301/302 make GET of POST only; 307/308 keep.
      {303, "/b", "POST", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", true},
      {303, "/b", "PUT", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", true},
      {303, "/b", "HEAD", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", false},
      {301, "/b", "POST", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", true},
      {302, "/b", "POST", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", true},
      {302, "/b", "PUT", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", false},
      {307, "/b", "POST", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", false},
      {308, "/b", "POST", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/b", false},
      // Origins: scheme, host and port each make another origin; a path does not.
      {302, "http://127.0.0.1/c?q", "GET", "http://127.0.0.1/a", 0, ten, kind::follow,
       "http://127.0.0.1/c?q"},
      {302, "http://127.0.0.1:80/c", "GET", "http://127.0.0.1/a", 0, ten, kind::follow,
       "http://127.0.0.1:80/c"},
      {302, "http://127.0.0.2/c", "GET", "http://127.0.0.1/a", 0, ten, kind::follow,
       "http://127.0.0.2/c", false, true},
      {302, "http://127.0.0.1:8080/c", "GET", "http://127.0.0.1/a", 0, ten, kind::follow,
       "http://127.0.0.1:8080/c", false, true},
      {302, "https://127.0.0.1/c", "GET", "http://127.0.0.1/a", 0, ten, kind::follow,
       "https://127.0.0.1/c", false, true},
      // Relative references resolve against the request's URL (RFC 3986 §5).
      {302, "c", "GET", "http://127.0.0.1/a/b", 0, ten, kind::follow, "http://127.0.0.1/a/c"},
      {302, "../../../c", "GET", "http://127.0.0.1/a/b", 0, ten, kind::follow,
       "http://127.0.0.1/c"},
      {302, "//127.0.0.2/x", "GET", "https://127.0.0.1/a", 0, ten, kind::follow,
       "https://127.0.0.2/x", false, true},
      {302, "?q=1", "GET", "http://127.0.0.1/a", 0, ten, kind::follow, "http://127.0.0.1/a?q=1"},
      {302, "/a b", "GET", "http://127.0.0.1/x", 0, ten, kind::follow, "http://127.0.0.1/a%20b"},
      // Refused: a downgrade without the option, another scheme, no URL at all.
      {302, "http://127.0.0.1/b", "GET", "https://127.0.0.1/a", 0, ten, kind::refuse,
       "from https to http", false, false, redirect_refused},
      {302, "http://127.0.0.1/b", "GET", "https://127.0.0.1/a", 0, downgrade, kind::follow,
       "http://127.0.0.1/b", false, true},
      {302, "ftp://127.0.0.1/b", "GET", "http://127.0.0.1/a", 0, ten, kind::refuse,
       "unsupported scheme", false, false, redirect_refused},
      {302, "http://[::1", "GET", "http://127.0.0.1/a", 0, ten, kind::refuse, "invalid Location",
       false, false, redirect_refused},
      // The reason never shows a password.
      {302, "http://u:secret@127.0.0.2/", "GET", "https://127.0.0.1/a", 0, ten, kind::refuse,
       "u:***@127.0.0.2", false, false, redirect_refused},
  };
  for (auto const& r : rows) {
    INFO(r.status << " " << (r.location ? *r.location : "(none)") << " after " << r.method << " "
                  << r.from);
    auto const d = fd::next_hop(r.status, r.location, r.method, r.from, parts(r.from),
                                r.redirects_so_far, r.policy);
    REQUIRE(d.action == r.action);
    if (d.action == kind::follow) {
      CHECK(d.url == r.to);
      CHECK(d.to_get == r.to_get);
      CHECK(d.cross_origin == r.cross_origin);
      CHECK(d.where.origin == parts(r.to).origin);
    }
    if (d.action == kind::refuse) {
      CHECK(d.error == r.error);
      CHECK(d.why.find(r.to) != std::string::npos);
      CHECK(d.why.find("secret") == std::string::npos);
    }
  }
}

TEST_CASE("apply_hop: method, body and credentials after a followed redirect",
          "[sansio][redirect]") {
  namespace http = boost::beast::http;
  auto const make = [] {
    fd::request_message m;
    m.method(http::verb::post);
    m.target("/a");
    m.set(http::field::host, "127.0.0.1");
    m.set(http::field::authorization, "Basic dTpw");
    m.set(http::field::cookie, "k=v");
    m.set(http::field::content_type, "application/json");
    m.body() = "{}";
    m.prepare_payload();
    return m;
  };
  fd::redirect_policy const ten{.max_redirects = 10};
  {  // 303 to another origin: GET without a body, and no credentials for the other host
    auto m = make();
    std::string method = "POST";
    fd::apply_hop(fd::next_hop(303, "http://127.0.0.2:81/b", method, "http://127.0.0.1/a",
                               parts("http://127.0.0.1/a"), 0, ten),
                  m, method);
    CHECK(method == "GET");
    CHECK(m.method() == http::verb::get);
    CHECK(m.target() == "/b");
    CHECK(m.body().empty());
    CHECK(m.count(http::field::content_type) == 0);
    CHECK(m.count(http::field::content_length) == 0);
    CHECK(m.count(http::field::authorization) == 0);
    CHECK(m.count(http::field::cookie) == 0);
    CHECK(m[http::field::host] == "127.0.0.2:81");
  }
  {  // 307 on the same origin: method, body and credentials go on
    auto m = make();
    std::string method = "POST";
    fd::apply_hop(
        fd::next_hop(307, "/b", method, "http://127.0.0.1/a", parts("http://127.0.0.1/a"), 0, ten),
        m, method);
    CHECK(method == "POST");
    CHECK(m.method() == http::verb::post);
    CHECK(m.target() == "/b");
    CHECK(m.body() == "{}");
    CHECK(m[http::field::content_length] == "2");
    CHECK(m[http::field::authorization] == "Basic dTpw");
    CHECK(m[http::field::cookie] == "k=v");
    CHECK(m[http::field::host] == "127.0.0.1");
  }
}

TEST_CASE("retry_wait: which outcomes are retried, and after how long", "[sansio][retry]") {
  using ms = std::chrono::milliseconds;
  namespace ae = boost::asio::error;
  struct row {
    fd::attempt_outcome outcome;
    std::optional<std::chrono::nanoseconds> time_left;
    std::optional<ms> wait;
  };
  ms const max_backoff = 30s, backoff = 250ms;
  auto const status = [](int s, std::optional<std::string_view> retry_after = std::nullopt) {
    return fd::attempt_outcome{.status = s, .retry_after = retry_after};
  };
  auto const failed = [](boost::system::error_code ec) { return fd::attempt_outcome{.error = ec}; };
  row const rows[] = {
      // Statuses that mean "later", with and without Retry-After.
      {status(503), std::nullopt, backoff},
      {status(429), std::nullopt, backoff},
      {status(502), std::nullopt, backoff},
      {status(504), std::nullopt, backoff},
      {status(429, "2"), std::nullopt, 2s},
      {status(503, "Sun, 06 Nov 1994 08:49:39 GMT"), std::nullopt, 2s},
      {status(429, "0"), std::nullopt, 1ms},             // zero is "at once", never "default"
      {status(429, "3600"), std::nullopt, max_backoff},  // capped
      {status(429, "soon"), std::nullopt, backoff},      // unparsable: our backoff
      // Answers, not "later".
      {status(200), std::nullopt, std::nullopt},
      {status(404), std::nullopt, std::nullopt},
      {status(500), std::nullopt, std::nullopt},
      {status(501, "1"), std::nullopt, std::nullopt},
      // Errors: transient ones are retried, verdicts are not.
      {failed(ae::connection_refused), std::nullopt, backoff},
      {failed(ae::connection_reset), std::nullopt, backoff},
      {failed(fanout::errc::timeout), std::nullopt, backoff},
      {failed(fanout::http_errc::connect), std::nullopt, backoff},
      {failed(fanout::errc::cancelled), std::nullopt, std::nullopt},
      {failed(fanout::http_errc::tls), std::nullopt, std::nullopt},
      {failed(fanout::http_errc::protocol), std::nullopt, std::nullopt},
      {failed(fanout::http_errc::invalid_url), std::nullopt, std::nullopt},
      {failed(fanout::http_errc::body_too_large), std::nullopt, std::nullopt},
      // The deadline: a wait that reaches it means no retry (the last outcome stands).
      {status(503), 251ms, backoff},
      {status(503), 250ms, std::nullopt},
      {status(429, "5"), 4s, std::nullopt},
      {failed(ae::connection_refused), 1ms, std::nullopt},
  };
  for (auto const& r : rows) {
    INFO(
        (r.outcome.status ? "HTTP " + std::to_string(*r.outcome.status) : r.outcome.error.message())
        << (r.outcome.retry_after ? " Retry-After: " + std::string(*r.outcome.retry_after) : ""));
    CHECK(fd::retry_wait(r.outcome, max_backoff, backoff, now_1994, r.time_left) == r.wait);
  }
}

namespace {

// A response block with `fields` ("Name: value" lines) and `body`.
fd::block_ptr block_of(std::string_view fields, std::string_view body) {
  fd::response_builder b;
  b.begin("http://127.0.0.1/", "GET", 1 << 20);
  b.status_line(200, "OK", 11);
  std::string_view rest = fields;
  while (!rest.empty()) {
    auto const nl = rest.find('\n');
    auto const line = rest.substr(0, nl);
    auto const colon = line.find(':');
    b.field(line.substr(0, colon), fd::trim_ows(line.substr(colon + 1)));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  b.append_body(body);
  return b.finish();
}

}  // namespace

TEST_CASE("decode_response: the decoded body replaces the coded one, or an error",
          "[sansio][coding]") {
  std::string const text(10000, 'x');
  std::string const coded = fanout::test::compress(text);
  std::string what;
  {  // gzip: decoded, the coding's fields gone, the others kept
    auto b = block_of(
        "Content-Encoding: gzip\nContent-Length: " + std::to_string(coded.size()) + "\nX-Kept: 1",
        coded);
    REQUIRE_FALSE(fd::decode_response(b, 1 << 20, what));
    CHECK(b->body() == text);
    CHECK_FALSE(b->find("content-encoding"));
    CHECK_FALSE(b->find("content-length"));
    CHECK(b->find("x-kept") == std::optional<std::string_view>("1"));
  }
  {  // two gzip members are one body (RFC 1952 §2.2)
    auto b = block_of("Content-Encoding: gzip",
                      fanout::test::compress("first ") + fanout::test::compress("second"));
    REQUIRE_FALSE(fd::decode_response(b, 1 << 20, what));
    CHECK(b->body() == "first second");
  }
  {  // no coding, or one fanout cannot undo: left as it came
    auto b = block_of("X-A: 1", "plain");
    REQUIRE_FALSE(fd::decode_response(b, 1 << 20, what));
    CHECK(b->body() == "plain");
    auto br = block_of("Content-Encoding: br", "\x0b\x02\x80");
    REQUIRE_FALSE(fd::decode_response(br, 1 << 20, what));
    CHECK(br->body() == "\x0b\x02\x80");
    CHECK(br->find("content-encoding") == std::optional<std::string_view>("br"));
  }
  {  // truncated: an error, never a shorter body
    auto b = block_of("Content-Encoding: gzip", coded.substr(0, coded.size() - 4));
    CHECK(fd::decode_response(b, 1 << 20, what) == fanout::http_errc::decompression);
    CHECK(what.find("cannot decode the gzip body") != std::string::npos);
    CHECK(b->find("content-encoding"));  // unchanged
  }
  {  // larger than the limit once decoded
    auto b = block_of("Content-Encoding: gzip", coded);
    CHECK(fd::decode_response(b, 9999, what) == fanout::http_errc::body_too_large);
    CHECK(what == "decompressed body larger than max_body_bytes (9999)");
  }
}

TEST_CASE("connect rules: the first that matches host and port decides where to dial") {
  namespace ip = boost::asio::ip;
  std::vector<fanout::connect_rule> const rules{
      {.host = "a.test", .port = 443, .addresses = {ip::make_address("10.0.0.1")}},
      {.host = "A.TEST", .to_host = "b.test", .to_port = 8443},
      {.host = "[::1]", .port = 80, .to_port = 8080},
      {.host = "*", .port = 9000, .to_host = "sink.test"},
  };
  struct row {
    std::string_view host;
    std::uint16_t port;
    std::string_view dial_host;
    std::uint16_t dial_port;
    bool pinned;
  };
  for (auto const& r : std::vector<row>{
           {"a.test", 443, "a.test", 443, true},        // the first rule, its addresses
           {"a.test", 80, "b.test", 8443, false},       // the second: any port, case-insensitive
           {"::1", 80, "::1", 8080, false},             // brackets ignored; same host
           {"::1", 81, "::1", 81, false},               // no rule: as it is
           {"c.test", 9000, "sink.test", 9000, false},  // any host on that port
           {"c.test", 9001, "c.test", 9001, false},
       }) {
    INFO(r.host << ":" << r.port);
    auto const d = fanout::detail::dial_for(rules, r.host, r.port);
    CHECK(d.host == r.dial_host);
    CHECK(d.port == r.dial_port);
    CHECK((d.addresses != nullptr) == r.pinned);
  }
  CHECK(fanout::detail::dial_for({}, "x", 1).host == "x");
}
