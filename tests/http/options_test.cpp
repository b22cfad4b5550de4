// session_options and request limits: zero means "no limit" everywhere, impossible values are
// refused up front, naming the option.
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/test_server.hpp"

#include <limits>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;
using fanout::http_errc;

TEST_CASE("options: impossible values throw std::invalid_argument naming the option", "[options]") {
  struct row {
    const char* name;
    fanout::session_options options;
    const char* mentioned;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const row rows[] = {
      {"negative connect_timeout", {.connect_timeout = -1ms}, "session_options::connect_timeout"},
      {"negative request_timeout", {.request_timeout = -5s}, "session_options::request_timeout"},
      {"negative idle_timeout", {.idle_timeout = -1ms}, "session_options::idle_timeout"},
      {"negative dns_cache_ttl", {.dns_cache_ttl = -1ms}, "session_options::dns_cache_ttl"},
      {"a rate too slow for a duration",
       {.rate_limit = {.requests_per_second = 1e-12}},
       "session_options::rate_limit.requests_per_second"},
      {"a negative session rate",
       {.session_rate_limit = {.requests_per_second = -3}},
       "session_options::session_rate_limit.requests_per_second"},
      {"a NaN rate",
       {.rate_limit = {.requests_per_second = nan}},
       "rate_limit.requests_per_second"},
      {"no attempt at all", {.retry = {.max_attempts = 0}}, "session_options::retry.max_attempts"},
      {"a negative backoff",
       {.retry = {.max_attempts = 3, .initial_backoff = -1ms}},
       "session_options::retry.initial_backoff"},
      {"jitter above 1", {.retry = {.max_attempts = 3, .jitter = 1.5}}, "retry.jitter"},
      {"jitter NaN", {.retry = {.max_attempts = 3, .jitter = nan}}, "retry.jitter"},
  };
  boost::asio::io_context io;
  for (const auto& r : rows) {
    INFO(r.name);
    CHECK_THROWS_AS(fanout::validate(r.options), std::invalid_argument);
    CHECK_THROWS_WITH(fanout::session(io.get_executor(), r.options), Catch::Contains(r.mentioned));
  }
  CHECK_NOTHROW(fanout::validate(fanout::session_options{}));
  CHECK_NOTHROW(fanout::validate(fanout::session_options{.max_connections_per_host = 0,
                                                         .max_connections = 0,
                                                         .connect_timeout = 0ms,
                                                         .request_timeout = 0ms,
                                                         .idle_timeout = 0ms,
                                                         .max_redirects = 0,
                                                         .max_body_bytes = 0}));
}

TEST_CASE("options: zero is no limit for every timeout and size", "[options]") {
  test_server server;
  // Each of these used to fail at once: a deadline of "now", an idle time of none (no reuse),
  // a body or header limit of 0 bytes.
  run_session({.connect_timeout = 0ms,
               .request_timeout = 0ms,
               .idle_timeout = 0ms,
               .max_body_bytes = 0,
               .max_header_bytes = 0},
              [&](fanout::session& s) -> asio::awaitable<void> {
                fanout::request req1{.url = server.url("/delay/150")};
                auto r = co_await s.try_request(req1);
                REQUIRE(r);
                CHECK(r->body() == "late");
                fanout::request req2{.url = server.url("/bytes/100000")};
                auto big = co_await s.try_request(req2);
                REQUIRE(big);
                CHECK(big->body().size() == 100000);
                CHECK(big->timings().reused);  // no idle limit of ours: the connection stayed
                fanout::request req3{.url = server.url("/bigheader")};
                auto headers = co_await s.try_request(req3);
                REQUIRE(headers);
                CHECK(headers->status() == 200);
              });
}

TEST_CASE("options: request::timeout of 0 is none, unset is the session's", "[options]") {
  test_server server;
  run_session({.request_timeout = 100ms}, [&](fanout::session& s) -> asio::awaitable<void> {
    // Used to mean "the session's" (100 ms), so this timed out.
    fanout::request req4{.url = server.url("/delay/300"), .timeout = 0ms};
    auto none = co_await s.try_request(req4);
    REQUIRE(none);
    CHECK(none->body() == "late");
    fanout::request req5{.url = server.url("/delay/300")};
    auto session_s = co_await s.try_request(req5);
    REQUIRE_FALSE(session_s);
    CHECK(session_s.error().code() == errc::timeout);
    fanout::request req6{.url = server.url("/delay/300"), .timeout = 2s};
    auto own = co_await s.try_request(req6);
    CHECK(own);
  });
}

TEST_CASE("options: a request with an impossible timeout or retry policy fails alone",
          "[options]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req7{.url = server.url("/hello"), .timeout = -1ms};
    auto negative = co_await s.try_request(req7);
    REQUIRE_FALSE(negative);
    CHECK(negative.error().code() == http_errc::invalid_request);
    CHECK(contains(negative.error().message(), "request::timeout is negative"));
    CHECK(contains(negative.error().message(), server.url("/hello")));
    fanout::request req8{.url = server.url("/hello"),
                         .retry = fanout::retry_policy{.max_attempts = 2, .jitter = 7}};
    auto jitter = co_await s.try_request(req8);
    REQUIRE_FALSE(jitter);
    CHECK(jitter.error().code() == http_errc::invalid_request);
    CHECK(contains(jitter.error().message(), "request::retry.jitter"));
    // The message names the URL without its password (redact), like every other error.
    std::string with_password = server.url("/hello");
    with_password.insert(with_password.find("//") + 2, "user:secret@");
    fanout::request req10{.url = with_password, .timeout = -1ms};
    auto redacted = co_await s.try_request(req10);
    REQUIRE_FALSE(redacted);
    CHECK(contains(redacted.error().message(), "request::timeout is negative"));
    CHECK_FALSE(contains(redacted.error().message(), "secret"));
    fanout::request req9{.url = server.url("/hello")};
    auto fine = co_await s.try_request(req9);
    REQUIRE(fine);
    CHECK(fine->body() == "hello world");
  });
  CHECK(server.connections() == 1);  // the refused requests opened nothing
}
