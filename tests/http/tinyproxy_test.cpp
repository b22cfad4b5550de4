// fanout::session through a real proxy: tinyproxy (Debian's 1.11), started by
// tests/support/tinyproxy_run.sh, which exports FANOUT_TINYPROXY(_LOG),
// FANOUT_TINYPROXY_AUTH(_LOG), FANOUT_TINYPROXY_USER and FANOUT_TINYPROXY_PASSWORD. The origins are
// the in-process test servers; the proxy's own log proves the requests went through it.
#include <fanout/core/gather.hpp>
#include <fanout/http.hpp>

#include "http/test_util.hpp"
#include "support/certs.hpp"
#include "support/test_server.hpp"
#include "support/tls_fixtures.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;
using fanout::http_errc;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) FAIL(name << " is not set: run this test through tests/support/tinyproxy_run.sh");
  return v;
}

// "http://127.0.0.1:port" -> "http://user:password@127.0.0.1:port"
std::string with_credentials(const std::string& proxy, const std::string& user,
                             const std::string& password) {
  return "http://" + user + ":" + password + "@" + proxy.substr(std::string("http://").size());
}

// Whether the proxy's log has a line containing `text`; waits up to 2 s for it to be written.
bool log_has(const std::string& file, const std::string& text) {
  for (int i = 0; i < 40; ++i) {
    std::ifstream in(file);
    std::stringstream all;
    all << in.rdbuf();
    if (all.str().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

fanout::session_options via(std::string proxy) {
  auto o = trusting_test_ca();
  o.proxy = std::move(proxy);
  return o;
}

}  // namespace

TEST_CASE("tinyproxy: plain HTTP in absolute form", "[tinyproxy]") {
  auto const proxy = env("FANOUT_TINYPROXY");
  test_server server;
  run_session(via(proxy), [&](fanout::session& s) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      fanout::request req{.url = server.url("/echo?plain=" + std::to_string(i))};
      auto r = co_await s.try_request(req);
      REQUIRE(r.has_value());
      CHECK(r->status() == 200);
      auto j = r->json();
      CHECK(j["target"] == "/echo?plain=" + std::to_string(i));
      CHECK(j["headers"]["host"] == "127.0.0.1:" + std::to_string(server.port()));
      CHECK(contains(j["headers"].value("via", ""), "tinyproxy"));  // it really went through
    }
  });
  CHECK(server.requests() == 3);
  CHECK(log_has(env("FANOUT_TINYPROXY_LOG"), "GET " + server.url("/echo?plain=2") + " HTTP/1.1"));
}

TEST_CASE("tinyproxy: https through CONNECT, verified against the origin", "[tinyproxy]") {
  auto const proxy = env("FANOUT_TINYPROXY");
  test_server server(tls_with());
  auto const authority = "localhost:" + std::to_string(server.port());
  run_session(via(proxy), [&](fanout::session& s) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      fanout::request req{.url = "https://" + authority + "/echo"};
      auto r = co_await s.try_request(req);
      REQUIRE(r.has_value());
      CHECK(r->status() == 200);
      CHECK(r->json()["headers"]["host"] == authority);
      CHECK_FALSE(r->json()["headers"].contains("via"));  // a tunnel: tinyproxy sees no request
    }
    CHECK(s.stats().connections_opened == 1);  // the tunnel is reused
  });
  CHECK(server.last_sni() == "localhost");
  CHECK(log_has(env("FANOUT_TINYPROXY_LOG"), "CONNECT " + authority + " HTTP/1.1"));
}

TEST_CASE("tinyproxy: Basic proxy authentication, right and wrong", "[tinyproxy]") {
  auto const proxy = env("FANOUT_TINYPROXY_AUTH");
  auto const user = env("FANOUT_TINYPROXY_USER");
  auto const password = env("FANOUT_TINYPROXY_PASSWORD");
  test_server plain;
  test_server secure(tls_with());
  auto const https_url = "https://localhost:" + std::to_string(secure.port()) + "/echo";

  run_session(via(with_credentials(proxy, user, password)),
              [&](fanout::session& s) -> asio::awaitable<void> {
                fanout::request p{.url = plain.url("/hello")};
                auto r = co_await s.try_request(p);
                REQUIRE(r.has_value());
                CHECK(r->status() == 200);
                fanout::request q{.url = https_url};
                auto t = co_await s.try_request(q);
                REQUIRE(t.has_value());
                CHECK(t->status() == 200);
                CHECK_FALSE(t->json()["headers"].contains("proxy-authorization"));
              });
  CHECK(plain.requests() == 1);
  CHECK(secure.requests() == 1);

  run_session(via(with_credentials(proxy, user, "wrong")),
              [&](fanout::session& s) -> asio::awaitable<void> {
                fanout::request q{.url = https_url};
                auto t = co_await s.try_request(q);
                REQUIRE_FALSE(t.has_value());
                INFO(t.error().message());
                CHECK(t.error().code() == http_errc::proxy);
                auto const prefix = "GET " + https_url + ": proxy " +
                                    proxy.substr(std::string("http://").size()) +
                                    " refused CONNECT: HTTP ";
                CHECK(contains(t.error().message(), prefix));
                // tinyproxy 1.11.1 answers wrong credentials with 401 Unauthorized (and
                // missing ones with 407): both are refusals.
                CHECK((contains(t.error().message(), "HTTP 407 Proxy Authentication Required") ||
                       contains(t.error().message(), "HTTP 401 Unauthorized")));
                CHECK_FALSE(contains(t.error().message(), "wrong"));
                fanout::request p{.url = plain.url("/hello")};
                auto r = co_await s.try_request(p);
                REQUIRE(r.has_value());
                CHECK((r->status() == 407 || r->status() == 401));
              });
  CHECK(plain.requests() == 1);
  CHECK(secure.requests() == 1);
}

TEST_CASE("tinyproxy: 200 requests through gather, 16 at a time, all in order", "[tinyproxy]") {
  auto const proxy = env("FANOUT_TINYPROXY");
  test_server plain;
  test_server secure(tls_with());
  plain.route("/n/*", [](exchange& x) { x.res.body() = std::string(x.req.target()).substr(3); });
  secure.route("/n/*", [](exchange& x) { x.res.body() = std::string(x.req.target()).substr(3); });
  std::vector<std::string> urls;
  for (int i = 0; i < 200; ++i)
    urls.push_back((i % 2 ? "https://localhost:" + std::to_string(secure.port())
                          : "http://127.0.0.1:" + std::to_string(plain.port())) +
                   "/n/" + std::to_string(i));
  run_session(via(proxy), [&](fanout::session& s) -> asio::awaitable<void> {
    auto get = [&](const std::string& u) -> asio::awaitable<fanout::response> {
      fanout::request req{.url = u};
      co_return co_await s.request(req);
    };
    auto results = co_await fanout::gather(urls, get, {.max_concurrency = 16});
    REQUIRE(results.size() == urls.size());
    std::size_t ok = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (!results[i]) {
        INFO(i << ": " << results[i].error().message());
        CHECK(results[i].has_value());
        continue;
      }
      if (results[i]->status() == 200 && results[i]->body() == std::to_string(i)) ++ok;
    }
    CHECK(ok == urls.size());
  });
  CHECK(plain.requests() == 100);
  CHECK(secure.requests() == 100);
}
