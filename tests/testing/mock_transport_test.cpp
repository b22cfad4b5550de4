// fanout::testing::mock_transport, used as a user would: a session whose exchanges are answered
// by a function. Everything above the transport runs for real (redirects, retries with
// Retry-After, timeouts, decompression, raise_for_status, gather), and no socket is opened.
// Only fanout's public headers (and zlib, through the tests' reference compressor): this file is
// what a user's test looks like. Its URLs name loopback addresses, but nothing is resolved or
// reached.
#include <fanout/fanout.hpp>
#include <fanout/testing/mock_transport.hpp>

#include "support/zlib_reference.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using fanout::testing::mock_response;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

// Runs `body` on a fresh io_context, bounded in time; rethrows what it threw.
void run(const std::function<asio::awaitable<void>()>& body, std::chrono::seconds limit = 60s) {
  asio::io_context io;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  io.run_for(limit);
  REQUIRE(done);
  if (failure) std::rethrow_exception(failure);
}

std::string header(const fanout::request& r, std::string_view name) {
  for (auto const& [n, v] : r.headers)
    if (boost::beast::iequals(n, name)) return v;
  return "(none)";
}

// The process's open descriptors, and how many of them are sockets.
struct descriptors {
  std::size_t open = 0, sockets = 0;
};
descriptors count_descriptors() {
  descriptors d;
  for (auto const& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++d.open;
    std::error_code ec;
    auto const target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string().starts_with("socket:")) ++d.sockets;
  }
  return d;
}

}  // namespace

TEST_CASE("mock: a redirect chain is followed hop by hop", "[mock]") {
  std::vector<std::string> seen;
  fanout::testing::mock_transport mock{[&](const fanout::request& r)
                                           -> asio::awaitable<mock_response> {
    seen.push_back(r.method + " " + r.url + " auth=" + header(r, "authorization"));
    if (r.url == "http://127.0.0.1/a")
      co_return mock_response{.status = 301, .headers = {{"Location", "/b"}}};
    if (r.url == "http://127.0.0.1/b")
      co_return mock_response{.status = 302, .headers = {{"Location", "http://127.0.0.2/c?x=1"}}};
    co_return mock_response{.status = 200, .body = "at " + r.url};
  }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(ex, {.transport = mock});
    std::string const url = "http://127.0.0.1/a";
    fanout::header_list const headers{{"Authorization", "Bearer t"}};
    auto r = co_await http.get(url, headers);
    CHECK(r.status() == 200);
    CHECK(r.body() == "at http://127.0.0.2/c?x=1");
    CHECK(r.url() == "http://127.0.0.2/c?x=1");
    CHECK(r.redirects() == 2);
    CHECK(r.attempts() == 3);
  });
  // Each hop reached the transport; the credentials stayed with their origin.
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == "GET http://127.0.0.1/a auth=Bearer t");
  CHECK(seen[1] == "GET http://127.0.0.1/b auth=Bearer t");
  CHECK(seen[2] == "GET http://127.0.0.2/c?x=1 auth=(none)");
}

TEST_CASE("mock: too many redirects, and a refused downgrade", "[mock]") {
  auto loop = fanout::testing::mock_transport{
      [](const fanout::request& r) -> asio::awaitable<mock_response> {
        if (r.url.starts_with("https://"))
          co_return mock_response{.status = 302, .headers = {{"Location", "http://127.0.0.1/"}}};
        co_return mock_response{.status = 307, .headers = {{"Location", r.url + "x"}}};
      }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;
    fanout::session http(ex, {.max_redirects = 3, .transport = loop});
    fanout::request const looped_request{.url = "http://127.0.0.1/"};
    auto looped = co_await http.try_request(looped_request);
    REQUIRE_FALSE(looped.has_value());
    CHECK(looped.error().code() == fanout::http_errc::too_many_redirects);
    fanout::request const down_request{.url = "https://127.0.0.1/"};
    auto down = co_await http.try_request(down_request);
    REQUIRE_FALSE(down.has_value());
    CHECK(down.error().code() == fanout::http_errc::redirect_refused);
  });
}

TEST_CASE("mock: 429 with Retry-After, retried after the server's wait", "[mock][retry]") {
  std::atomic<int> calls{0};
  std::vector<clock_type::time_point> at;
  fanout::testing::mock_transport mock{[&](const fanout::request&)
                                           -> asio::awaitable<mock_response> {
    at.push_back(clock_type::now());
    if (++calls == 1)
      co_return mock_response{.status = 429, .headers = {{"Retry-After", "1"}}, .body = "later"};
    co_return mock_response{.status = 200, .body = "done"};
  }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(
        ex, {.retry = {.max_attempts = 3, .initial_backoff = 10ms}, .transport = mock});
    std::string const r_url = "http://127.0.0.1/busy";
    auto r = co_await http.get(r_url);
    CHECK(r.status() == 200);
    CHECK(r.body() == "done");
    CHECK(r.attempts() == 2);
    CHECK(http.stats().retries == 1);
  });
  REQUIRE(at.size() == 2);
  // The server's second, not the policy's 10 ms.
  CHECK(at[1] - at[0] >= 990ms);
}

TEST_CASE("mock: a transient error is retried, a verdict is not", "[mock][retry]") {
  std::atomic<int> calls{0};
  fanout::testing::mock_transport mock{
      [&](const fanout::request& r) -> asio::awaitable<mock_response> {
        ++calls;
        if (r.url.ends_with("/tls")) co_return mock_response{.error = fanout::http_errc::tls};
        if (calls < 3) co_return mock_response{.error = asio::error::connection_refused};
        co_return mock_response{.body = "up"};
      }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(ex,
                         {.retry = {.max_attempts = 5, .initial_backoff = 1ms}, .transport = mock});
    std::string const r_url = "http://127.0.0.1/flaky";
    auto r = co_await http.get(r_url);
    CHECK(r.body() == "up");
    CHECK(r.attempts() == 3);
    calls = 0;
    fanout::request const tls_request{.url = "http://127.0.0.1/tls"};
    auto tls = co_await http.try_request(tls_request);
    REQUIRE_FALSE(tls.has_value());
    CHECK(tls.error().code() == fanout::http_errc::tls);
    CHECK(tls.error().message().find("(mock transport)") != std::string::npos);
    CHECK(calls == 1);
  });
}

TEST_CASE("mock: timeouts, from a slow answer or a handler that never answers", "[mock][timeout]") {
  std::atomic<bool> handler_cancelled{false};
  fanout::testing::mock_transport mock{
      [&](const fanout::request& r) -> asio::awaitable<mock_response> {
        if (r.url.ends_with("/slow")) co_return mock_response{.body = "late", .delay = 30s};
        if (r.url.ends_with("/quick")) co_return mock_response{.body = "on time", .delay = 20ms};
        asio::steady_timer forever(co_await asio::this_coro::executor, 1h);
        boost::system::error_code ec;
        co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        handler_cancelled = ec == asio::error::operation_aborted;
        co_return mock_response{.body = "never"};
      }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(ex, {.request_timeout = 200ms, .transport = mock});
    fanout::request const slow_request{.url = "http://127.0.0.1/slow"};
    auto slow = co_await http.try_request(slow_request);
    REQUIRE_FALSE(slow.has_value());
    CHECK(slow.error().code() == fanout::errc::timeout);
    CHECK(slow.error().message() ==
          "GET http://127.0.0.1/slow: timed out while reading the response");
    fanout::request const hung_request{.url = "http://127.0.0.1/hung"};
    auto hung = co_await http.try_request(hung_request);
    REQUIRE_FALSE(hung.has_value());
    CHECK(hung.error().code() == fanout::errc::timeout);
    std::string const quick_url = "http://127.0.0.1/quick";
    auto quick = co_await http.get(quick_url);
    CHECK(quick.body() == "on time");
  });
  CHECK(handler_cancelled);  // the handler's wait was cancelled at the deadline
}

TEST_CASE("mock: a gzip body is inflated; a truncated one is an error", "[mock][coding]") {
  std::string const text(100000, 'z');
  std::string const coded = fanout::test::compress(text);
  std::string accept_encoding;
  fanout::testing::mock_transport mock{
      [&](const fanout::request& r) -> asio::awaitable<mock_response> {
        accept_encoding = header(r, "accept-encoding");
        auto body = r.url.ends_with("/cut") ? coded.substr(0, coded.size() / 2) : coded;
        co_return mock_response{.headers = {{"Content-Encoding", "gzip"}}, .body = body};
      }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(ex, {.transport = mock});
    std::string const r_url = "http://127.0.0.1/data";
    auto r = co_await http.get(r_url);
    CHECK(r.body() == text);
    CHECK_FALSE(r.header("content-encoding"));
    fanout::request const cut_request{.url = "http://127.0.0.1/cut"};
    auto cut = co_await http.try_request(cut_request);
    REQUIRE_FALSE(cut.has_value());
    CHECK(cut.error().code() == fanout::http_errc::decompression);
  });
  CHECK(accept_encoding == "gzip, deflate");
}

TEST_CASE("mock: fail_fast gather cancels the others at the first failure", "[mock][gather]") {
  std::vector<std::string> urls;
  for (int i = 0; i < 20; ++i) urls.push_back("http://127.0.0.1/item/" + std::to_string(i));
  fanout::testing::mock_transport mock{
      [](const fanout::request& r) -> asio::awaitable<mock_response> {
        if (r.url.ends_with("/7")) co_return mock_response{.status = 500, .body = "broken"};
        co_return mock_response{.body = "ok", .delay = 30s};
      }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(ex, {.raise_for_status = true, .transport = mock});
    auto fetch = [&](const std::string& url) -> asio::awaitable<std::string> {
      auto r = co_await http.get(url);
      co_return std::string(r.body());
    };
    auto rs = co_await fanout::gather(urls, fetch, {.max_concurrency = 20, .fail_fast = true});
    REQUIRE(rs.size() == urls.size());
    for (std::size_t i = 0; i < rs.size(); ++i) {
      INFO(urls[i]);
      REQUIRE_FALSE(rs[i].has_value());
      if (i == 7) {
        CHECK(rs[i].error().code() == fanout::http_errc::http_status);
        CHECK(rs[i].error().message() ==
              "GET http://127.0.0.1/item/7: HTTP 500 Internal Server Error");
      } else {
        CHECK(rs[i].error().code() == fanout::errc::cancelled);
      }
    }
  });
}

TEST_CASE("mock: raise_for_status, limits and bad answers are per-request errors", "[mock]") {
  fanout::testing::mock_transport mock{
      [](const fanout::request& r) -> asio::awaitable<mock_response> {
        if (r.url.ends_with("/big")) co_return mock_response{.body = std::string(2000, 'b')};
        if (r.url.ends_with("/interim")) co_return mock_response{.status = 103};
        if (r.url.ends_with("/throws")) throw std::runtime_error("handler bug");
        if (r.method == "HEAD") co_return mock_response{.body = "not sent for HEAD"};
        co_return mock_response{.status = 404, .body = "no"};
      }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(ex, {.max_body_bytes = 1000, .transport = mock});
    std::string const missing_url = "http://127.0.0.1/missing";
    auto missing = co_await http.get(missing_url);
    CHECK(missing.status() == 404);  // a status, not an error, unless asked
    fanout::request const raised_request{.url = "http://127.0.0.1/missing",
                                         .raise_for_status = true};
    auto raised = co_await http.try_request(raised_request);
    REQUIRE_FALSE(raised.has_value());
    CHECK(raised.error().code() == fanout::http_errc::http_status);
    fanout::request const big_request{.url = "http://127.0.0.1/big"};
    auto big = co_await http.try_request(big_request);
    REQUIRE_FALSE(big.has_value());
    CHECK(big.error().code() == fanout::http_errc::body_too_large);
    fanout::request const interim_request{.url = "http://127.0.0.1/interim"};
    auto interim = co_await http.try_request(interim_request);
    REQUIRE_FALSE(interim.has_value());
    CHECK(interim.error().code() == fanout::http_errc::protocol);
    fanout::request const threw_request{.url = "http://127.0.0.1/throws"};
    auto threw = co_await http.try_request(threw_request);
    REQUIRE_FALSE(threw.has_value());
    CHECK(threw.error().message() == "GET http://127.0.0.1/throws: handler bug");
    std::string const head_url = "http://127.0.0.1/x";
    auto head = co_await http.head(head_url);
    CHECK(head.status() == 200);
    CHECK(head.body().empty());
    fanout::request const invalid_request{.url = "not a url"};
    auto invalid = co_await http.try_request(invalid_request);
    REQUIRE_FALSE(invalid.has_value());
    CHECK(invalid.error().code() == fanout::http_errc::invalid_url);
  });
  CHECK(mock.exchanges() == 0);  // the session copied it: this one was never called
}

TEST_CASE("mock: the handler sees the request as it would be sent", "[mock]") {
  fanout::request seen;
  auto mock = std::make_shared<fanout::testing::mock_transport>(
      [&](const fanout::request& r) -> asio::awaitable<mock_response> {
        seen = r;
        co_return mock_response{.status = 201, .headers = {{"X-Id", "42"}}};
      });
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(ex, {.transport = mock});
    std::string const url = "http://u:pw@127.0.0.1:8080/items?q=1";
    nlohmann::json const item{{"name", "x"}};
    auto r = co_await http.post(url, item);
    CHECK(r.status() == 201);
    CHECK(r.reason() == "Created");
    CHECK(r.header("x-id") == std::optional<std::string_view>("42"));
    CHECK(r.url() == "http://u:***@127.0.0.1:8080/items?q=1");
  });
  CHECK(mock->exchanges() == 1);
  CHECK(seen.method == "POST");
  CHECK(seen.url == "http://u:pw@127.0.0.1:8080/items?q=1");
  CHECK(seen.body == R"({"name":"x"})");
  CHECK(header(seen, "host") == "127.0.0.1:8080");
  CHECK(header(seen, "content-type") == "application/json");
  CHECK(header(seen, "content-length") == "12");
  CHECK(header(seen, "authorization") == "Basic dTpwdw==");
  CHECK(header(seen, "user-agent").starts_with("fanout/"));
}

TEST_CASE("mock: rate limits hold between the session and the mock", "[mock][rate]") {
  std::vector<clock_type::time_point> at;
  fanout::testing::mock_transport mock{
      [&](const fanout::request&) -> asio::awaitable<mock_response> {
        at.push_back(clock_type::now());
        co_return mock_response{};
      }};
  run([&]() -> asio::awaitable<void> {
    auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
    fanout::session http(
        ex, {.rate_limit = {.requests_per_second = 20, .burst = 1}, .transport = mock});
    for (int i = 0; i < 6; ++i) {
      std::string url = "http://127.0.0.1/";
      url += std::to_string(i);
      (void)co_await http.get(url);
    }
  });
  REQUIRE(at.size() == 6);
  // Six tokens at 20 per second, one at a time: five waits of 50 ms.
  CHECK(at.back() - at.front() >= 240ms);
}

TEST_CASE("mock: a session on it opens no descriptor and no socket", "[mock][descriptors]") {
  // The check can fail: a socket of our own is seen.
  {
    auto const before = count_descriptors();
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    CHECK(count_descriptors().sockets == before.sockets + 1);
  }
  std::size_t sockets_in_handler = 0;
  asio::io_context io;
  {  // Asio's reactor opens its own descriptors with the first timer: before counting.
    asio::steady_timer warm(io, 1ms);
    warm.wait();
    asio::steady_timer async_warm(io, 1ms);
    async_warm.async_wait([](boost::system::error_code) {});
    io.run();
    io.restart();
  }
  auto const before = count_descriptors();
  fanout::testing::mock_transport mock{
      [&](const fanout::request& r) -> asio::awaitable<mock_response> {
        sockets_in_handler = std::max(sockets_in_handler, count_descriptors().sockets);
        if (r.url.ends_with("/r"))
          co_return mock_response{.status = 302, .headers = {{"Location", "/x"}}};
        if (r.url.ends_with("/busy"))
          co_return mock_response{.status = 503, .headers = {{"Retry-After", "0"}}};
        co_return mock_response{.headers = {{"Content-Encoding", "gzip"}},
                                .body = fanout::test::compress("x"),
                                .delay = 5ms};
      }};
  std::size_t ok = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
        fanout::session http(
            ex, {.retry = {.max_attempts = 2, .initial_backoff = 1ms}, .transport = mock});
        std::vector<std::string> urls;
        for (int i = 0; i < 50; ++i)
          urls.push_back("https://127.0.0." + std::to_string(i % 5 + 1) + "/" +
                         (i % 3 ? "r" : "busy"));
        auto rs = co_await fanout::gather(urls, [&](const std::string& u) { return http.get(u); },
                                          {.max_concurrency = 16});
        for (auto& r : rs) ok += r && r->status() < 400;
      },
      asio::detached);
  io.run_for(60s);
  auto const after = count_descriptors();
  CHECK(ok == 33);  // the 17 "/busy" items answer 503 twice
  CHECK(sockets_in_handler == before.sockets);
  CHECK(after.sockets == before.sockets);
  CHECK(after.open == before.open);
}
