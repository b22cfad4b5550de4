// fanout::session over plain HTTP against the in-process test server.
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/test_server.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include <boost/asio/detached.hpp>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;
using fanout::http_errc;
using nlohmann::json;

TEST_CASE("session: GET returns status, headers, body, url and timings", "[session]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/hello"));
    CHECK(r.status() == 200);
    CHECK(r.ok());
    CHECK(r.body() == "hello world");
    CHECK(r.header("content-type") == std::optional<std::string_view>("text/plain"));
    CHECK(r.header("Content-Type") == std::optional<std::string_view>("text/plain"));
    CHECK_FALSE(r.header("x-missing"));
    CHECK(r.url() == server.url("/hello"));
    CHECK(r.attempts() == 1);
    CHECK_FALSE(r.timings().reused);
    CHECK(r.timings().total > std::chrono::steady_clock::duration::zero());
    auto r2 = co_await s.get(server.url("/hello"));
    CHECK(r2.timings().reused);
    CHECK(r2.timings().dns == std::chrono::steady_clock::duration::zero());
  });
  CHECK(server.connections() == 1);
}

TEST_CASE("session: responses keep every header in order, and copies outlive the originals",
          "[session]") {
  test_server server;
  server.route("/fields", [](exchange& x) {
    x.res.set("X-Mixed-Case", "One");
    x.res.insert("x-repeat", "first");
    x.res.insert("x-repeat", "second");
    x.res.insert("x-empty", "");
    for (int i = 0; i < 20; ++i) x.res.insert("x-big-" + std::to_string(i), std::string(2000, 'h'));
    x.res.body() = "fields";
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    std::vector<fanout::response> kept;
    for (int i = 0; i < 3; ++i) kept.push_back(co_await s.get(server.url("/fields")));
    fanout::response copy = kept[1];
    fanout::response moved = std::move(kept[2]);
    fanout::response assigned;
    assigned = kept[0];
    kept.clear();  // the originals are gone; what was copied, moved or assigned stays valid
    for (const fanout::response* r : {&copy, &moved, &assigned}) {
      CHECK(r->status() == 200);
      CHECK(r->reason() == "OK");
      CHECK(r->version() == 11);
      CHECK(r->body() == "fields");
      CHECK(r->url() == server.url("/fields"));
      CHECK(r->method() == "GET");
      CHECK(r->header("x-mixed-case") == std::optional<std::string_view>("One"));
      CHECK(r->header("x-repeat") == std::optional<std::string_view>("first"));  // the first one
      CHECK(r->header("x-empty") == std::optional<std::string_view>(""));
      CHECK(r->header("x-big-19")->size() == 2000);
      // Every field, in the order the server sent them, names as it spelled them.
      std::vector<std::string> names, repeats;
      for (fanout::header_field f : r->headers()) {
        names.emplace_back(f.name);
        if (f.name == "x-repeat") repeats.emplace_back(f.value);
      }
      CHECK(names.size() == r->headers().size());
      CHECK(std::count(names.begin(), names.end(), "X-Mixed-Case") == 1);
      CHECK(repeats == std::vector<std::string>{"first", "second"});
      auto big0 = std::find(names.begin(), names.end(), "x-big-0");
      REQUIRE(big0 != names.end());
      for (int i = 0; i < 20; ++i) CHECK(*(big0 + i) == "x-big-" + std::to_string(i));
      auto big7 = r->headers().find("X-BIG-7");  // case-insensitive, as header()
      REQUIRE(big7);
      CHECK(*big7 == std::string(2000, 'h'));
    }
    // A copy used on another thread while the original goes away here.
    std::string seen;
    std::thread other([c = copy, &seen]() mutable {
      seen = std::string(c.body()) + std::string(*c.header("x-repeat"));
    });
    copy = fanout::response();
    other.join();
    CHECK(seen == "fieldsfirst");
    CHECK(copy.status() == 0);
    CHECK(copy.headers().empty());
    CHECK(copy.body().empty());
  });
}

TEST_CASE("session: a request timeout starts when the request is awaited (not when it is made)",
          "[session]") {
  test_server server;
  fanout::session_options o;
  o.request_timeout = std::chrono::milliseconds(300);
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req;
    req.url = server.url("/hello");
    auto made = s.try_request(std::move(req));  // not awaited yet
    asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(600));
    co_await pause.async_wait(asio::use_awaitable);
    auto r = co_await std::move(made);
    CHECK(r.has_value());
  });
}

TEST_CASE("session: request bodies larger than the socket's send buffer arrive whole",
          "[session]") {
  // A plain request is first written without waiting; what the socket cannot take at once is
  // written asynchronously from where that stopped. 16 MiB is beyond any loopback send buffer.
  test_server server;
  server.route("/digest", [](exchange& x) {
    std::uint64_t sum = 0;
    for (unsigned char c : x.req.body()) sum = sum * 31 + c;
    x.res.body() = std::to_string(x.req.body().size()) + " " + std::to_string(sum);
  });
  std::string body(16 << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 7919) >> 5);
  std::uint64_t sum = 0;
  for (unsigned char c : body) sum = sum * 31 + c;
  std::string const expected = std::to_string(body.size()) + " " + std::to_string(sum);
  run_session({.max_connections_per_host = 2}, [&](fanout::session& s) -> asio::awaitable<void> {
    // Two workers, three requests each: on fresh and on kept-alive connections.
    std::vector<std::string> seen;
    co_await run_workers(2, [&](std::size_t) -> asio::awaitable<void> {
      for (int i = 0; i < 3; ++i) {
        fanout::request req{.method = "POST", .url = server.url("/digest"), .body = body};
        auto r = co_await s.try_request(req);
        seen.push_back(r ? std::string(r->body()) : r.error().message());
      }
    });
    CHECK(seen == std::vector<std::string>(6, expected));
  });
  CHECK(server.connections() == 2);
}

TEST_CASE("session: a body the caller sends chunked arrives whole, with no Content-Length",
          "[session]") {
  // The caller's own Transfer-Encoding: chunked is honoured, as curl does, and Content-Length
  // is left out (RFC 9112 6.2). It used to be replaced by a Content-Length, silently.
  test_server server;
  server.route("/framing", [](exchange& x) {
    x.res.body() = std::string(x.req.chunked() ? "chunked" : "not chunked") + ", length \"" +
                   std::string(x.req[http::field::content_length]) + "\", " + x.req.body();
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    std::string const body(10000, 'b');
    fanout::request req{.method = "POST",
                        .url = server.url("/framing"),
                        .headers = {{"Transfer-Encoding", "chunked"}},
                        .body = body};
    auto r = co_await s.try_request(req);
    REQUIRE(r);
    CHECK(r->body() == "chunked, length \"\", " + body);
  });
}

TEST_CASE("session: IPv6 loopback", "[session][ipv6]") {
  test_server::options o;
  o.address = "::1";
  std::unique_ptr<test_server> server;
  try {
    server = std::make_unique<test_server>(o);
  } catch (const std::exception& e) {
    WARN("no IPv6 loopback here: " << e.what());
    return;
  }
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server->url("/echo"));
    CHECK(r.json()["headers"]["host"] == "[::1]:" + std::to_string(server->port()));
  });
  CHECK(server->connections() == 1);
}

TEST_CASE("session: default and user headers are sent", "[session]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/echo?a=1"));
    auto j = r.json();
    CHECK(j["method"] == "GET");
    CHECK(j["target"] == "/echo?a=1");
    CHECK(j["headers"]["host"] == "127.0.0.1:" + std::to_string(server.port()));
    CHECK(j["headers"]["user-agent"] == "fanout/" FANOUT_VERSION_STRING);
    CHECK(j["headers"]["accept-encoding"] == "gzip, deflate");
    CHECK_FALSE(j["headers"].contains("content-length"));

    fanout::header_list mine{{"User-Agent", "mine/1"}, {"x-k", "v"}};
    auto r2 = co_await s.get(server.url("/echo"), mine);
    auto j2 = r2.json();
    CHECK(j2["headers"]["user-agent"] == "mine/1");
    CHECK(j2["headers"]["x-k"] == "v");
  });
}

TEST_CASE("session: POST, PUT, PATCH with JSON, DELETE, raw bodies", "[session]") {
  test_server server;
  // GCC 12 rejects some initializer lists of strings inside coroutines ("array used as
  // initializer"), so the requests are built outside.
  json const k1{{"k", 1}};
  json const list{1, 2};
  fanout::request plain{.method = "POST",
                        .url = server.url("/echo"),
                        .headers = {{"content-type", "text/plain"}},
                        .timeout = 5s,
                        .body = "plain text"};
  fanout::request with_json{.method = "POST",
                            .url = server.url("/echo"),
                            .headers = {{"authorization", "Bearer x"}},
                            .json = nlohmann::json{{"k", 1}},
                            .timeout = 5s};
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.post(server.url("/echo"), k1);
    auto j = r.json();
    CHECK(j["method"] == "POST");
    CHECK(json::parse(j["body"].get<std::string>()) == k1);
    CHECK(j["headers"]["content-type"] == "application/json");
    CHECK(j["headers"]["content-length"] == std::to_string(j["body"].get<std::string>().size()));
    auto got1 = co_await s.put(server.url("/echo"), list);
    CHECK(got1.json()["method"] == "PUT");
    auto got2 = co_await s.patch(server.url("/echo"), json::object());
    CHECK(got2.json()["method"] == "PATCH");
    auto got3 = co_await s.del(server.url("/echo"));
    CHECK(got3.json()["method"] == "DELETE");
    auto raw = co_await s.request(plain);
    CHECK(raw.json()["body"] == "plain text");
    CHECK(raw.json()["headers"]["content-type"] == "text/plain");
    auto js = co_await s.request(with_json);
    CHECK(js.json()["headers"]["authorization"] == "Bearer x");
  });
}

TEST_CASE("session: HEAD, 204 and 304 have no body and keep the connection", "[session]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto h = co_await s.head(server.url("/bytes/1000"));
    CHECK(h.status() == 200);
    CHECK(h.body().empty());
    CHECK(h.header("content-length") == std::optional<std::string_view>("1000"));
    auto n = co_await s.get(server.url("/status/204"));
    CHECK(n.status() == 204);
    CHECK(n.body().empty());
    auto m = co_await s.get(server.url("/status/304"));
    CHECK(m.status() == 304);
    CHECK(m.body().empty());
    auto g = co_await s.get(server.url("/bytes/1000"));
    CHECK(g.body().size() == 1000);
  });
  CHECK(server.connections() == 1);
}

TEST_CASE("session: chunked and Content-Length bodies", "[session]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto c = co_await s.get(server.url("/chunked"));
    CHECK(c.body() == std::string(5000, 'c') + "end");
    CHECK(c.header("transfer-encoding") == std::optional<std::string_view>("chunked"));
    auto b = co_await s.get(server.url("/bytes/300000"));
    CHECK(b.body() == std::string(300000, 'x'));
  });
  CHECK(server.connections() == 1);
}

namespace {
struct item {
  int id;
  std::string name;
};
void from_json(const json& j, item& i) {
  j.at("id").get_to(i.id);
  j.at("name").get_to(i.name);
}
}  // namespace

TEST_CASE("session: json() and json<T>(); a parse failure names the URL", "[session]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/json"));
    CHECK(r.json()["id"] == 42);
    auto i = r.json<item>();
    CHECK(i.id == 42);
    CHECK(i.name == "widget");
    auto bad = co_await s.get(server.url("/hello"));
    try {
      (void)bad.json();
      FAIL("no exception");
    } catch (const fanout::system_error& e) {
      CHECK(e.error().code() == http_errc::json);
      CHECK(contains(e.error().message(), "GET " + server.url("/hello") + ": invalid JSON"));
    }
    CHECK_THROWS_AS(bad.json<item>(), fanout::system_error);
  });
}

TEST_CASE("session: 1000 requests with a cap of 8 open at most 8 connections", "[session][pool]") {
  test_server server;
  run_session({.max_connections_per_host = 8}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto ok = co_await fan(s, server.url("/hello"), 1000, 32);
    CHECK(ok == 1000);
    CHECK(s.stats().connections_opened <= 8);
    CHECK(s.stats().connections_reused >= 992);
  });
  CHECK(server.connections() <= 8);
  CHECK(server.peak_connections() <= 8);
  CHECK(server.requests() == 1000);
}

TEST_CASE("session: the total cap holds across hosts", "[session][pool]") {
  test_server a, b;
  run_session({.max_connections_per_host = 8, .max_connections = 4},
              [&](fanout::session& s) -> asio::awaitable<void> {
                auto ex = co_await asio::this_coro::executor;
                using namespace asio::experimental::awaitable_operators;
                auto [x, y] = co_await (fan(s, a.url("/delay/5"), 200, 16) &&
                                        fan(s, b.url("/delay/5"), 200, 16));
                CHECK(x == 200);
                CHECK(y == 200);
                (void)ex;
              });
  CHECK(a.peak_connections() + b.peak_connections() <= 8);  // each side at most 4 at once
  CHECK(a.peak_connections() <= 4);
  CHECK(b.peak_connections() <= 4);
}

TEST_CASE("session: Connection: close is honoured", "[session][pool]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await s.get(server.url("/close"));
      CHECK(r.body() == "closing");
    }
    CHECK(s.stats().stale_retries == 0);
    CHECK(s.stats().idle_connections == 0);
  });
  CHECK(server.connections() == 3);
}

TEST_CASE("session: a body delimited by the end of the connection is not pooled",
          "[session][pool]") {
  test_server server;
  server.route("/until-eof", [](exchange& x) {
    x.raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    x.close = true;
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto a = co_await s.get(server.url("/until-eof"));
    CHECK(a.body() == "until the end");
    auto b = co_await s.get(server.url("/until-eof"));
    CHECK(b.body() == "until the end");
    CHECK_FALSE(b.timings().reused);
    CHECK(s.stats().stale_detected == 0);
    CHECK(s.stats().stale_retries == 0);
  });
  CHECK(server.connections() == 2);
}

TEST_CASE("session: keep_alive = false sends Connection: close", "[session][pool]") {
  test_server server;
  run_session({.keep_alive = false}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/echo"));
    CHECK(r.json()["headers"]["connection"] == "close");
    co_await s.get(server.url("/echo"));
  });
  CHECK(server.connections() == 2);
}

TEST_CASE("session: Keep-Alive: timeout=N shortens the idle time", "[session][pool]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    co_await s.get(server.url("/keepalive/1"));  // idle for at most 0.5 s on our side
    co_await sleep_for(800ms);
    auto r = co_await s.get(server.url("/keepalive/1"));
    CHECK_FALSE(r.timings().reused);
    CHECK(s.stats().stale_retries == 0);
  });
  CHECK(server.connections() == 2);
}

TEST_CASE("session: idle connections are closed after idle_timeout", "[session][pool]") {
  test_server server;
  run_session({.idle_timeout = 200ms}, [&](fanout::session& s) -> asio::awaitable<void> {
    co_await s.get(server.url("/hello"));
    CHECK(s.stats().idle_connections == 1);
    co_await sleep_for(600ms);
    CHECK(s.stats().idle_connections == 0);  // closed by the sweeper, not on next use
    CHECK(s.stats().open_connections == 0);
    auto r = co_await s.get(server.url("/hello"));
    CHECK_FALSE(r.timings().reused);
  });
  CHECK(server.connections() == 2);
}

TEST_CASE(
    "session: the idle sweeper follows a connection used again and again, and earlier expiries",
    "[session][pool]") {
  test_server server;
  run_session({.idle_timeout = 200ms}, [&](fanout::session& s) -> asio::awaitable<void> {
    // One connection going back and forth between the pool and requests for longer than
    // the idle timeout: the sweep armed by the first release fires while it is in use.
    for (int i = 0; i < 20; ++i) {
      auto r = co_await s.get(server.url("/hello"));
      CHECK(r.status() == 200);
      co_await sleep_for(20ms);
    }
    CHECK(s.stats().connections_opened == 1);
    co_await sleep_for(600ms);
    CHECK(s.stats().idle_connections == 0);  // swept after the last release too
    CHECK(s.stats().open_connections == 0);
  });
  run_session({.idle_timeout = 10s}, [&](fanout::session& s) -> asio::awaitable<void> {
    co_await s.get(server.url("/hello"));        // idle until +10 s
    co_await s.get(server.url("/keepalive/1"));  // the same connection, now until +0.5 s
    co_await sleep_for(900ms);
    CHECK(s.stats().idle_connections == 0);  // the earlier expiry moved the sweep
    CHECK(s.stats().open_connections == 0);
  });
}

TEST_CASE("session: a connection the server closed while idle is not used", "[session][pool]") {
  test_server::options o;
  o.close_after = 1;  // closes after each response, without saying so
  test_server server(o);
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    for (int i = 0; i < 50; ++i) {
      auto r = co_await s.get(server.url("/hello"));
      CHECK(r.status() == 200);
      co_await sleep_for(2ms);
    }
    auto st = s.stats();
    CHECK(st.stale_detected + st.stale_retries >= 1);
  });
  CHECK(server.connections() == 50);
}

TEST_CASE("session: an idempotent request on a dead reused connection is retried once",
          "[session][pool]") {
  test_server server;
  // Answers the first request of a connection, then drops the connection on the next one
  // without a byte: what a server that timed the connection out at that moment looks like.
  server.route("/flaky", [](exchange& x) {
    if (x.connection_requests > 0)
      x.drop = true;
    else
      x.res.body() = "fine";
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto got4 = co_await s.get(server.url("/flaky"));
    CHECK(got4.attempts() == 1);
    auto r = co_await s.get(server.url("/flaky"));
    CHECK(r.body() == "fine");
    CHECK(r.attempts() == 2);
    CHECK(s.stats().stale_retries == 1);
    // A POST is not retried: the error names the URL.
    fanout::request post{.method = "POST", .url = server.url("/flaky")};
    auto p = co_await s.try_request(post);
    REQUIRE_FALSE(p);
    CHECK(contains(p.error().message(), "POST " + server.url("/flaky") + ": "));
    CHECK(contains(p.error().message(), "closed by the server"));
  });
  CHECK(server.connections() == 2);
}

TEST_CASE("session: redirects are followed and resolved", "[session][redirect]") {
  test_server server;
  server.route("/see-other", [](exchange& x) {
    x.res.result(303);
    x.res.set("location", "/echo");
  });
  server.route("/temporary", [](exchange& x) {
    x.res.result(307);
    x.res.set("location", "echo");  // relative reference
  });
  server.route("/permanent", [](exchange& x) {
    x.res.result(308);
    x.res.set("location", "/echo");
  });
  server.route("/moved", [](exchange& x) {
    x.res.result(301);
    x.res.set("location", "/echo");
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/redirect/3"));
    CHECK(r.body() == "hello world");
    CHECK(r.url() == server.url("/hello"));
    CHECK(r.redirects() == 3);

    json const a1{{"a", 1}};
    auto so = co_await s.post(server.url("/see-other"), a1);
    CHECK(so.json()["method"] == "GET");
    CHECK(so.json()["body"] == "");
    CHECK_FALSE(so.json()["headers"].contains("content-type"));
    CHECK(so.method() == "GET");

    auto t = co_await s.post(server.url("/temporary"), a1);
    CHECK(t.json()["method"] == "POST");
    CHECK(t.json()["body"] == R"({"a":1})");

    auto p = co_await s.post(server.url("/permanent"), a1);
    CHECK(p.json()["method"] == "POST");
    CHECK(p.json()["body"] == R"({"a":1})");
    CHECK(p.redirects() == 1);

    auto m = co_await s.put(server.url("/moved"), a1);
    CHECK(m.json()["method"] == "PUT");  // only POST becomes GET on 301/302

    fanout::request req2{.url = server.url("/loop")};
    auto loop = co_await s.try_request(req2);
    REQUIRE_FALSE(loop);
    CHECK(loop.error().code() == http_errc::too_many_redirects);
    CHECK(contains(loop.error().message(), "more than 10 redirects"));
  });
  run_session({.max_redirects = 0}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/redirect/1"));
    CHECK(r.status() == 302);
    CHECK(r.header("location") == std::optional<std::string_view>("/hello"));
  });
}

TEST_CASE("session: credentials are dropped on a cross-origin redirect",
          "[session][redirect][security]") {
  test_server a, b;
  a.route("/to-b", [&](exchange& x) {
    x.res.result(302);
    x.res.set("location", b.url("/echo"));
  });
  a.route("/to-a", [&](exchange& x) {
    x.res.result(302);
    x.res.set("location", "/echo");
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::header_list h{{"Authorization", "Bearer secret"},
                          {"Cookie", "c=1"},
                          {"Proxy-Authorization", "Basic x"},
                          {"X-Keep", "yes"}};
    auto cross = (co_await s.get(a.url("/to-b"), h)).json()["headers"];
    CHECK_FALSE(cross.contains("authorization"));
    CHECK_FALSE(cross.contains("cookie"));
    CHECK_FALSE(cross.contains("proxy-authorization"));
    CHECK(cross["x-keep"] == "yes");
    CHECK(cross["host"] == "127.0.0.1:" + std::to_string(b.port()));
    auto same = (co_await s.get(a.url("/to-a"), h)).json()["headers"];
    CHECK(same["authorization"] == "Bearer secret");
    CHECK(same["cookie"] == "c=1");
  });
}

TEST_CASE("session: gzip and deflate bodies are inflated, bombs are refused",
          "[session][gzip][security]") {
  test_server server;
  run_session({.max_body_bytes = 1 << 20}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto g = co_await s.get(server.url("/gzip"));
    std::string text;
    for (int i = 0; i < 200; ++i) text += "hello gzip ";
    CHECK(g.body() == text);
    CHECK_FALSE(g.header("content-encoding"));
    auto got5 = co_await s.get(server.url("/deflate"));
    CHECK(got5.body() == "hello deflate");

    fanout::request req3{.url = server.url("/bomb")};
    auto bomb = co_await s.try_request(req3);
    REQUIRE_FALSE(bomb);
    CHECK(bomb.error().code() == http_errc::body_too_large);
    CHECK(contains(bomb.error().message(), "GET " + server.url("/bomb") + ": decompressed body"));

    // A user-chosen Accept-Encoding means the user decodes.
    fanout::header_list gzip_only{{"accept-encoding", "gzip"}};
    auto raw = co_await s.get(server.url("/gzip"), gzip_only);
    CHECK(raw.header("content-encoding") == std::optional<std::string_view>("gzip"));
    CHECK(raw.body() != text);
  });
}

TEST_CASE("session: body and header size limits", "[session][limits][security]") {
  test_server server;
  run_session({.max_body_bytes = 100000}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req4{.url = server.url("/bytes/200000")};
    auto big = co_await s.try_request(req4);
    REQUIRE_FALSE(big);
    CHECK(big.error().code() == http_errc::body_too_large);
    fanout::request req5{.url = server.url("/bytes/100000")};
    auto chunked = co_await s.try_request(req5);
    CHECK(chunked);
    fanout::request req6{.url = server.url("/bigheader")};
    auto hdr = co_await s.try_request(req6);
    REQUIRE_FALSE(hdr);
    CHECK(hdr.error().code() == http_errc::headers_too_large);
    CHECK(contains(hdr.error().message(), "max_header_bytes"));
  });
}

TEST_CASE("session: a server that is too slow times out", "[session][timeout]") {
  test_server server;
  run_session({.request_timeout = 300ms}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto t0 = std::chrono::steady_clock::now();
    fanout::request req7{.url = server.url("/delay/5000")};
    auto r = co_await s.try_request(req7);
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::timeout);
    CHECK(contains(r.error().message(), "GET " + server.url("/delay/5000") + ": timed out"));
    CHECK(took < 4s);
    // The per-request timeout overrides the session's.
    fanout::request req8{.url = server.url("/delay/500"), .timeout = 5s};
    auto ok = co_await s.try_request(req8);
    CHECK(ok);
  });
}

TEST_CASE("session: each request on a kept-alive connection gets its own deadline",
          "[session][timeout]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    // A short deadline first: the connection's timer is armed for it and outlives it.
    fanout::request quick{.url = server.url("/hello"), .timeout = 200ms};
    auto first = co_await s.try_request(quick);
    REQUIRE(first);
    // A slower request on the same connection with a longer deadline is not cut short when
    // the first one's time comes.
    fanout::request slower{.url = server.url("/delay/500"), .timeout = 5s};
    auto second = co_await s.try_request(slower);
    REQUIRE(second);
    CHECK(second->timings().reused);
    // A long deadline, then a short one: the short one still fires on time.
    fanout::request stuck{.url = server.url("/delay/5000"), .timeout = 300ms};
    auto t0 = std::chrono::steady_clock::now();
    auto third = co_await s.try_request(stuck);
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(third);
    CHECK(third.error().code() == errc::timeout);
    CHECK(took < 3s);
    CHECK(s.stats().connections_opened == 1);
  });
}

TEST_CASE("session: waiting for a connection is bounded by the request timeout",
          "[session][timeout]") {
  test_server server;
  run_session({.max_connections_per_host = 1}, [&](fanout::session& s) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    fanout::request slow_req{.url = server.url("/delay/1500")};
    fanout::request queued_req{.url = server.url("/hello"), .timeout = 300ms};
    auto [slow, queued] = co_await (s.try_request(slow_req) && s.try_request(queued_req));
    CHECK(slow);
    REQUIRE_FALSE(queued);
    CHECK(queued.error().code() == errc::timeout);
    CHECK(contains(queued.error().message(), "waiting for a connection"));
  });
}

TEST_CASE("session: connect timeout", "[session][timeout]") {
  // A listener whose backlog is full: further SYNs are dropped and connect() hangs.
  asio::io_context io;
  asio::ip::tcp::acceptor full(io, {asio::ip::make_address("127.0.0.1"), 0});
  full.listen(0);
  std::vector<asio::ip::tcp::socket> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.emplace_back(io);
    fillers.back().async_connect(full.local_endpoint(), [](boost::system::error_code) {});
  }
  io.run_for(200ms);
  auto url = "http://127.0.0.1:" + std::to_string(full.local_endpoint().port()) + "/";
  run_session({.connect_timeout = 300ms, .request_timeout = 2s},
              [&](fanout::session& s) -> asio::awaitable<void> {
                auto t0 = std::chrono::steady_clock::now();
                fanout::request req9{.url = url};
                auto r = co_await s.try_request(req9);
                REQUIRE_FALSE(r);
                CHECK(r.error().code() == errc::timeout);
                CHECK(contains(r.error().message(), "timed out"));
                CHECK(std::chrono::steady_clock::now() - t0 < 5s);
              });
}

TEST_CASE("session: connection refused keeps the socket error and names the URL",
          "[session][errors]") {
  std::uint16_t port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    try {
      co_await s.get(url);
      FAIL("no exception");
    } catch (const fanout::system_error& e) {
      CHECK(e.error().code() == boost::asio::error::connection_refused);
      CHECK(fanout::error_name(e.error().code()) == "connection_refused");
      CHECK(contains(e.error().message(), "GET " + url + ": Connection refused"));
      CHECK(fanout::is_retryable(e.error().code()));
    }
  });
}

TEST_CASE("session: bad input fails before any I/O", "[session][errors][security]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    struct bad_case {
      fanout::request req;
      http_errc code;
      std::string_view says;
    };
    std::vector<bad_case> cases;
    cases.push_back({{.url = "not a url"}, http_errc::invalid_url, "invalid URL"});
    cases.push_back({{.url = "ftp://127.0.0.1/"}, http_errc::invalid_url, "unsupported scheme"});
    cases.push_back({{.url = "http:///nohost"}, http_errc::invalid_url, "empty host"});
    cases.push_back({{.url = ""}, http_errc::invalid_url, "invalid URL"});
    cases.push_back({{.url = server.url("/echo"), .headers = {{"x", "a\r\nInjected: 1"}}},
                     http_errc::invalid_request,
                     "CR, LF or NUL"});
    cases.push_back({{.url = server.url("/echo"), .headers = {{"x", std::string("a\0b", 3)}}},
                     http_errc::invalid_request,
                     "CR, LF or NUL"});
    cases.push_back({{.url = server.url("/echo"), .headers = {{"bad name", "v"}}},
                     http_errc::invalid_request,
                     "invalid header name"});
    cases.push_back({{.method = "GET /x HTTP/1.1\r\n", .url = server.url("/echo")},
                     http_errc::invalid_request,
                     "invalid method"});
    cases.push_back({{.url = server.url("/echo"), .headers = {{"x\r\ny", "v"}}},
                     http_errc::invalid_request,
                     "invalid header name"});
    cases.push_back({{.url = server.url("/a\r\nX: y")}, http_errc::invalid_url, "invalid URL"});
    cases.push_back(
        {{.url = server.url("/a") + std::string("\0b", 2)}, http_errc::invalid_url, "invalid URL"});
    // Found by tests/fuzz/request_fuzz.cpp: Beast threw std::invalid_argument from the request.
    cases.push_back({{.method = "TRACE", .url = server.url("/echo"), .body = "x"},
                     http_errc::invalid_request,
                     "TRACE request cannot have a body"});
    for (auto& c : cases) {
      auto r = co_await s.try_request(c.req);
      REQUIRE_FALSE(r);
      CHECK(r.error().code() == c.code);
      CHECK(contains(r.error().message(), c.says));
      CHECK(contains(r.error().message(), c.req.method + " " + c.req.url + ": "));
    }
    CHECK(s.stats().connections_opened == 0);
  });
  CHECK(server.connections() == 0);
}

TEST_CASE("session: raise_for_status makes >= 400 an error", "[session][errors]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/status/404"));
    CHECK(r.status() == 404);
    CHECK_FALSE(r.ok());
    fanout::request req10{.url = server.url("/status/503"), .raise_for_status = true};
    auto e = co_await s.try_request(req10);
    REQUIRE_FALSE(e);
    CHECK(e.error().code() == http_errc::http_status);
    CHECK(contains(e.error().message(), "HTTP 503"));
  });
  run_session({.raise_for_status = true}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req11{.url = server.url("/status/404")};
    auto e = co_await s.try_request(req11);
    CHECK(e.error().code() == http_errc::http_status);
    fanout::request req12{.url = server.url("/status/404"), .raise_for_status = false};
    auto ok = co_await s.try_request(req12);
    CHECK(ok);
  });
}

TEST_CASE("session: a broken response is a protocol error", "[session][errors]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req13{.url = server.url("/garbage")};
    auto r = co_await s.try_request(req13);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == http_errc::protocol);
    CHECK(contains(r.error().message(), "invalid HTTP response"));
    fanout::request post{.method = "POST", .url = server.url("/drop")};
    auto d = co_await s.try_request(post);
    REQUIRE_FALSE(d);
    CHECK(contains(d.error().message(), "closed by the server"));
  });
}

TEST_CASE("session: the resolver cache resolves a host once", "[session][dns]") {
  test_server server;
  auto url = "http://localhost:" + std::to_string(server.port()) + "/hello";
  run_session({.max_connections_per_host = 8}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto ok = co_await fan(s, url, 2000, 16);
    CHECK(ok == 2000);
    CHECK(s.stats().dns_lookups == 1);
  });
}

TEST_CASE("session: an IP literal is connected to without a DNS lookup", "[session][dns]") {
  test_server server;  // server.url() names 127.0.0.1
  run_session({.max_connections_per_host = 4}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto ok = co_await fan(s, server.url("/hello"), 40, 4);
    CHECK(ok == 40);
    CHECK(s.stats().dns_lookups == 0);
    CHECK(s.stats().connections_opened == 4);
    auto r = co_await s.get("http://localhost:" + std::to_string(server.port()) + "/hello");
    CHECK(r.status() == 200);
    CHECK(s.stats().dns_lookups == 1);  // a name still goes to the resolver
  });
}

TEST_CASE("session: cancellation abandons a request promptly", "[session][cancel]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto t0 = std::chrono::steady_clock::now();
    fanout::request slow{.url = server.url("/delay/10000")};
    auto v = co_await (s.try_request(slow) || sleep_for(100ms));
    CHECK(v.index() == 1);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK(s.stats().open_connections == 0);  // the connection it used is closed
    auto got6 = co_await s.get(server.url("/hello"));
    CHECK(got6.ok());
  });
}

TEST_CASE("session: cancelling a request on a kept-alive connection", "[session][cancel]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto warm = co_await s.get(server.url("/hello"));  // leaves one idle connection
    CHECK(warm.ok());
    auto t0 = std::chrono::steady_clock::now();
    fanout::request slow{.url = server.url("/delay/10000")};
    auto v = co_await (s.try_request(slow) || sleep_for(100ms));
    CHECK(v.index() == 1);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK(s.stats().connections_reused == 1);  // the slow request ran on the warm connection
    CHECK(s.stats().open_connections == 0);    // which the cancellation closed
    // On a new connection (connect, then the exchange) the same.
    auto direct = co_await (s.try_request(slow) || sleep_for(100ms));
    CHECK(direct.index() == 1);
    auto after = co_await s.get(server.url("/hello"));
    CHECK(after.ok());
    auto again = co_await s.get(server.url("/hello"));  // and the pool is consistent
    CHECK(again.timings().reused);
  });
  CHECK(server.connections() == 3);
}

TEST_CASE("session: close() fails requests in flight and later ones", "[session][cancel]") {
  test_server server;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex, 100ms);
    t.async_wait([&](boost::system::error_code) { s.close(); });
    fanout::request req14{.url = server.url("/delay/10000")};
    auto r = co_await s.try_request(req14);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::cancelled);
    fanout::request req15{.url = server.url("/hello")};
    auto later = co_await s.try_request(req15);
    REQUIRE_FALSE(later);
    CHECK(later.error().code() == errc::cancelled);
    CHECK(contains(later.error().message(), "session is closed"));
  });
}

TEST_CASE("session: cancelling a request that waits for a connection", "[session][cancel]") {
  test_server server;
  run_session({.max_connections_per_host = 1}, [&](fanout::session& s) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    fanout::request slow{.url = server.url("/delay/800")};
    fanout::request hello{.url = server.url("/hello")};
    auto t0 = std::chrono::steady_clock::now();
    // The second request waits for the one connection; the timer wins and cancels the wait.
    auto [first, second] =
        co_await (s.try_request(slow) && (s.try_request(hello) || sleep_for(100ms)));
    CHECK(first);
    CHECK(second.index() == 1);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    // The pool is consistent afterwards: the connection is reused.
    auto after = co_await s.try_request(hello);
    REQUIRE(after);
    CHECK(after->timings().reused);
    CHECK(s.stats().open_connections == 1);
  });
  CHECK(server.connections() == 1);
}

TEST_CASE("session: a server closing idle connections after 50 ms loses no request",
          "[session][pool]") {
  test_server::options o;
  o.idle_close = 50ms;
  test_server server(o);
  run_session({.max_connections_per_host = 4}, [&](fanout::session& s) -> asio::awaitable<void> {
    std::size_t ok = 0, done = 0;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer all(ex, asio::steady_timer::time_point::max());
    for (int w = 0; w < 4; ++w)
      asio::co_spawn(
          ex,
          [&, w]() -> asio::awaitable<void> {
            fanout::request hello{.url = server.url("/hello")};
            for (int i = 0; i < 50; ++i) {
              auto r = co_await s.try_request(hello);
              if (r && r->ok())
                ++ok;
              else if (!r)
                FAIL_CHECK(r.error().message());
              co_await sleep_for(std::chrono::milliseconds((i * 7 + w * 13) % 90));
            }
          },
          [&](std::exception_ptr) {
            if (++done == 4) all.cancel();
          });
    boost::system::error_code ec;
    co_await all.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    CHECK(ok == 200);
  });
}

namespace {
std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}
}  // namespace

TEST_CASE("session: no file descriptor outlives the session", "[session][fds]") {
  test_server server;
  auto const before = open_fds();
  {
    asio::io_context io;
    {
      fanout::session s(io, {.max_connections_per_host = 8});
      std::size_t idle = 0;
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            co_await fan(s, server.url("/hello"), 200, 16);
            fanout::request refused{.url = "http://127.0.0.1:1/"};
            (void)co_await s.try_request(refused);
            fanout::request slow{.url = server.url("/delay/300"), .timeout = 100ms};
            (void)co_await s.try_request(slow);
          },
          [&](std::exception_ptr) {
            idle = s.stats().idle_connections;
            io.stop();  // the idle sweeper would keep run_for() going
          });
      io.run_for(60s);
      CHECK(idle > 0);
    }  // the session closes its pooled connections
    io.restart();
    io.run_for(500ms);
  }
  std::this_thread::sleep_for(600ms);  // the server finishes the slow answer, closes its side
  CHECK(open_fds() == before);
}
