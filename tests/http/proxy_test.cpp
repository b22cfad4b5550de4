// HTTP proxies: the pure parts (proxy URLs, NO_PROXY, the environment, the request adjustments)
// and fanout::session through an in-process proxy (tests/support/fake_proxy.hpp): absolute-form
// plain HTTP, CONNECT tunnels with TLS verified against the origin, Proxy-Authorization sent to
// the proxy only, 407s, an unreachable proxy, NO_PROXY, redirects, trust_env.
#include <fanout/http/detail/sansio/proxy.hpp>

#include "http/test_util.hpp"
#include "support/certs.hpp"
#include "support/fake_proxy.hpp"
#include "support/test_server.hpp"
#include "support/tls_fixtures.hpp"

#include <cstdlib>
#include <map>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;
using fanout::http_errc;
namespace fd = fanout::detail;

namespace {

// "user:pass" in base64.
constexpr const char* user_pass_basic = "Basic dXNlcjpwYXNz";

// Unsets the proxy variables for the test's duration and restores them afterwards.
class proxy_env_guard {
 public:
  proxy_env_guard() {
    for (const char* n : names) {
      if (const char* v = std::getenv(n)) saved_[n] = v;
      ::unsetenv(n);
    }
  }
  ~proxy_env_guard() {
    for (const char* n : names) {
      if (auto it = saved_.find(n); it != saved_.end())
        ::setenv(n, it->second.c_str(), 1);
      else
        ::unsetenv(n);
    }
  }
  proxy_env_guard(const proxy_env_guard&) = delete;
  proxy_env_guard& operator=(const proxy_env_guard&) = delete;

 private:
  static constexpr const char* names[] = {"http_proxy",    "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY",   "no_proxy",   "NO_PROXY",
                                          "REQUEST_METHOD"};
  std::map<std::string, std::string> saved_;
};

fanout::session_options via(std::string proxy) {
  auto o = trusting_test_ca();
  o.proxy = std::move(proxy);
  return o;
}

}  // namespace

TEST_CASE("proxy: parse_proxy_url", "[proxy]") {
  fd::proxy_endpoint p;
  std::string why;
  REQUIRE_FALSE(fd::parse_proxy_url("http://user:pass@127.0.0.1:3128", p, why));
  CHECK(p.host == "127.0.0.1");
  CHECK(p.port == 3128);
  CHECK(p.name == "127.0.0.1:3128");
  CHECK(p.authorization == user_pass_basic);

  // Percent-decoded userinfo: "us er" / "p@ss:w" -> base64("us er:p@ss:w").
  REQUIRE_FALSE(fd::parse_proxy_url("http://us%20er:p%40ss%3Aw@LocalHost:8080/", p, why));
  CHECK(p.host == "localhost");
  CHECK(p.authorization == "Basic dXMgZXI6cEBzczp3");
  CHECK(p.name == "localhost:8080");
  CHECK_FALSE(contains(p.name, "p@ss"));

  // No scheme: http://, port 80 by default; IPv6 in brackets.
  REQUIRE_FALSE(fd::parse_proxy_url("localhost:3128", p, why));
  CHECK(p.host == "localhost");
  CHECK(p.port == 3128);
  CHECK(p.authorization.empty());
  REQUIRE_FALSE(fd::parse_proxy_url("http://[::1]", p, why));
  CHECK(p.host == "::1");
  CHECK(p.port == 80);
  CHECK(p.name == "[::1]:80");

  // A user without a password.
  REQUIRE_FALSE(fd::parse_proxy_url("http://user@127.0.0.1:3128", p, why));
  CHECK(p.authorization == "Basic dXNlcjo=");  // "user:"

  CHECK(fd::parse_proxy_url("https://127.0.0.1:3128", p, why) == http_errc::invalid_url);
  CHECK(contains(why, "unsupported proxy scheme \"https\""));
  CHECK(fd::parse_proxy_url("socks5://127.0.0.1:1080", p, why) == http_errc::invalid_url);
  CHECK(contains(why, "socks5"));
  CHECK(fd::parse_proxy_url("http://", p, why) == http_errc::invalid_url);
}

TEST_CASE("proxy: no_proxy_matches", "[proxy]") {
  using fd::no_proxy_matches;
  CHECK_FALSE(no_proxy_matches("", "example.com", 80));
  CHECK(no_proxy_matches("*", "anything.test", 443));
  CHECK(no_proxy_matches(" foo.test , *", "anything.test", 443));
  // Names match themselves and their subdomains, with or without a leading dot.
  CHECK(no_proxy_matches("example.com", "example.com", 80));
  CHECK(no_proxy_matches("example.com", "api.example.com", 80));
  CHECK(no_proxy_matches(".example.com", "api.example.com", 80));
  CHECK(no_proxy_matches(".example.com", "example.com", 80));
  CHECK(no_proxy_matches("EXAMPLE.com", "a.b.example.com", 80));
  CHECK_FALSE(no_proxy_matches("example.com", "badexample.com", 80));
  CHECK_FALSE(no_proxy_matches("api.example.com", "example.com", 80));
  CHECK(no_proxy_matches("other.test,example.com", "example.com", 80));
  // localhost is not special.
  CHECK_FALSE(no_proxy_matches("example.com", "localhost", 80));
  CHECK(no_proxy_matches("localhost", "localhost", 80));
  // IP literals, exactly.
  CHECK(no_proxy_matches("127.0.0.1", "127.0.0.1", 8080));
  CHECK_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.10", 8080));
  CHECK_FALSE(no_proxy_matches("0.0.1", "127.0.0.1", 8080));
  CHECK(no_proxy_matches("::1", "::1", 443));
  CHECK(no_proxy_matches("[::1]", "::1", 443));
  // Ports.
  CHECK(no_proxy_matches("127.0.0.1:8080", "127.0.0.1", 8080));
  CHECK_FALSE(no_proxy_matches("127.0.0.1:8080", "127.0.0.1", 8081));
  CHECK(no_proxy_matches("example.com:443", "api.example.com", 443));
  CHECK_FALSE(no_proxy_matches("example.com:443", "api.example.com", 80));
  CHECK(no_proxy_matches("[::1]:443", "::1", 443));
  CHECK_FALSE(no_proxy_matches("[::1]:443", "::1", 80));
  CHECK_FALSE(no_proxy_matches("example.com:x", "example.com", 80));
  // Empty entries and lone dots are ignored.
  CHECK_FALSE(no_proxy_matches(",, . ,", "example.com", 80));
}

TEST_CASE("proxy: make_proxy_settings reads the environment only when trusted", "[proxy]") {
  std::map<std::string, std::string> env;
  auto getenv = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  env["http_proxy"] = "http://127.0.0.1:1001";
  env["HTTPS_PROXY"] = "127.0.0.1:1002";
  env["NO_PROXY"] = "internal.test";

  auto off = fd::make_proxy_settings("", "", false, getenv);
  CHECK_FALSE(off.any());

  auto on = fd::make_proxy_settings("", "", true, getenv);
  REQUIRE(on.http.proxy);
  CHECK(on.http.proxy->port == 1001);
  REQUIRE(on.https.proxy);
  CHECK(on.https.proxy->port == 1002);
  CHECK(on.no_proxy == "internal.test");
  fanout::url_parts w;
  std::string why;
  REQUIRE_FALSE(fanout::parse_url("https://api.internal.test/x", w, why));
  CHECK(on.select(w) == nullptr);
  REQUIRE_FALSE(fanout::parse_url("https://api.example.test/x", w, why));
  CHECK(on.select(w) == &on.https);

  // The lower-case form wins; HTTP_PROXY alone counts, except in a CGI program.
  env["HTTP_PROXY"] = "http://127.0.0.1:1003";
  CHECK(fd::make_proxy_settings("", "", true, getenv).http.proxy->port == 1001);
  env.erase("http_proxy");
  CHECK(fd::make_proxy_settings("", "", true, getenv).http.proxy->port == 1003);
  env["REQUEST_METHOD"] = "GET";
  CHECK_FALSE(fd::make_proxy_settings("", "", true, getenv).http.active());
  CHECK(fd::make_proxy_settings("", "", true, getenv).https.active());

  // The options win over the environment, each on its own.
  auto opt = fd::make_proxy_settings("http://127.0.0.1:2000", "", true, getenv);
  CHECK(opt.http.proxy->port == 2000);
  CHECK(opt.https.proxy->port == 2000);
  CHECK(opt.no_proxy == "internal.test");
  CHECK(fd::make_proxy_settings("", "mine.test", true, getenv).no_proxy == "mine.test");

  // An invalid URL is kept as an error naming its source, never its password.
  env["HTTPS_PROXY"] = "socks5://user:secret@127.0.0.1:1080";
  auto bad = fd::make_proxy_settings("", "", true, getenv);
  CHECK(bad.https.active());
  CHECK(contains(bad.https.error, "HTTPS_PROXY"));
  CHECK_FALSE(contains(bad.https.error, "secret"));
}

TEST_CASE("proxy: prepare_hop sets and removes the absolute target and credentials", "[proxy]") {
  fd::proxy_endpoint p;
  std::string why;
  REQUIRE_FALSE(fd::parse_proxy_url("http://user:pass@127.0.0.1:3128", p, why));
  fanout::url_parts plain, secure;
  REQUIRE_FALSE(fanout::parse_url("http://example.test:8080/a?b=1", plain, why));
  REQUIRE_FALSE(fanout::parse_url("https://example.test/s", secure, why));
  boost::beast::http::request<boost::beast::http::string_body> m;
  m.target(plain.target);
  fd::hop_state s;

  fd::prepare_hop(m, plain, &p, s);
  CHECK(m.target() == "http://example.test:8080/a?b=1");
  CHECK(m[boost::beast::http::field::proxy_authorization] == user_pass_basic);

  // https through the proxy: the credentials go in the CONNECT only, and a request's own
  // Proxy-Authorization does not go into the tunnel either.
  m.target(secure.target);
  m.set(boost::beast::http::field::proxy_authorization, "Basic mine");
  fd::prepare_hop(m, secure, &p, s);
  CHECK(m.target() == "/s");
  CHECK(m.find(boost::beast::http::field::proxy_authorization) == m.end());

  fd::prepare_hop(m, plain, &p, s);
  fd::prepare_hop(m, plain, nullptr, s);  // direct
  CHECK(m.target() == "/a?b=1");
  CHECK(m.find(boost::beast::http::field::proxy_authorization) == m.end());

  // Pool keys never collide with direct origins, and a tunnel belongs to its origin.
  CHECK(fd::proxied_pool_key(plain, p) != plain.origin);
  CHECK(fd::proxied_pool_key(secure, p) != secure.origin);
  fanout::url_parts other;
  REQUIRE_FALSE(fanout::parse_url("http://other.test/", other, why));
  CHECK(fd::proxied_pool_key(plain, p) == fd::proxied_pool_key(other, p));
  REQUIRE_FALSE(fanout::parse_url("https://other.test/", other, why));
  CHECK(fd::proxied_pool_key(secure, p) != fd::proxied_pool_key(other, p));
  CHECK(fd::make_tunnel_target(secure, p).authority == "example.test:443");
}

TEST_CASE("proxy: plain HTTP goes to the proxy in absolute form, with its credentials", "[proxy]") {
  test_server server;
  fake_proxy proxy;
  run_session(via(proxy.url("user:pass")), [&](fanout::session& s) -> asio::awaitable<void> {
    auto url = server.url("/echo");
    for (int i = 0; i < 3; ++i) {
      fanout::request req{.url = url};
      auto r = co_await s.try_request(req);
      REQUIRE(r.has_value());
      CHECK(r->status() == 200);
      CHECK(r->json()["target"] == "/echo");
      CHECK(r->json()["headers"]["host"] == "127.0.0.1:" + std::to_string(server.port()));
    }
    // Another target host reuses the proxy connection: the pool key is the proxy's.
    fanout::request other{.url = "http://localhost:" + std::to_string(server.port()) + "/hello"};
    auto r = co_await s.try_request(other);
    REQUIRE(r.has_value());
    CHECK(r->body() == "hello world");
    CHECK(s.stats().connections_opened == 1);
  });
  auto seen = proxy.requests();
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == server.url("/echo"));
  CHECK(seen[0].host == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(seen[0].proxy_authorization == std::optional<std::string>(user_pass_basic));
  CHECK(seen[3].target == "http://localhost:" + std::to_string(server.port()) + "/hello");
  CHECK(proxy.connections() == 1);
}

TEST_CASE("proxy: https through a CONNECT tunnel, verified against the origin", "[proxy]") {
  test_server server(tls_with());
  fake_proxy proxy;
  auto const authority = "localhost:" + std::to_string(server.port());
  run_session(via(proxy.url("user:pass")), [&](fanout::session& s) -> asio::awaitable<void> {
    auto url = "https://" + authority + "/echo";
    for (int i = 0; i < 3; ++i) {
      fanout::request req{.url = url, .headers = {{"Proxy-Authorization", "Basic mine"}}};
      auto r = co_await s.try_request(req);
      REQUIRE(r.has_value());
      CHECK(r->status() == 200);
      // The origin sees its own Host, an origin-form target, and never the proxy's credentials.
      CHECK(r->json()["target"] == "/echo");
      CHECK(r->json()["headers"]["host"] == authority);
      CHECK_FALSE(r->json()["headers"].contains("proxy-authorization"));
    }
    CHECK(s.stats().connections_opened == 1);  // the tunnel is kept alive and reused
  });
  CHECK(server.last_sni() == "localhost");
  auto seen = proxy.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "CONNECT");
  CHECK(seen[0].target == authority);
  CHECK(seen[0].host == authority);
  CHECK(seen[0].proxy_authorization == std::optional<std::string>(user_pass_basic));
}

TEST_CASE("proxy: verification stays on through a tunnel", "[proxy]") {
  test_server server(tls_with());
  fake_proxy proxy;
  fanout::session_options o;  // no ca_file: the system store does not know the test CA
  o.proxy = proxy.url();
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    auto url = "https://localhost:" + std::to_string(server.port()) + "/hello";
    fanout::request req{.url = url};
    auto r = co_await s.try_request(req);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == http_errc::tls);
    CHECK(contains(r.error().message(), "GET " + url + ": TLS handshake failed"));
  });
  REQUIRE(proxy.requests().size() == 1);
  CHECK(proxy.requests()[0].method == "CONNECT");
}

TEST_CASE("proxy: a refused CONNECT is http_errc::proxy naming the URL, proxy and status",
          "[proxy]") {
  test_server server(tls_with());
  fake_proxy proxy({.require_auth = user_pass_basic});
  run_session(via(proxy.url("user:wrong")), [&](fanout::session& s) -> asio::awaitable<void> {
    auto url = "https://localhost:" + std::to_string(server.port()) + "/hello";
    fanout::request req{.url = url};
    auto r = co_await s.try_request(req);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == http_errc::proxy);
    INFO(r.error().message());
    CHECK(r.error().message() == "GET " + url +
                                     ": proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                                     " refused CONNECT: HTTP 407 Proxy Authentication Required");
    CHECK_FALSE(contains(r.error().message(), "wrong"));
    CHECK(fanout::error_name(r.error().code()) == "proxy");
    // Plain HTTP gets the proxy's 407 as a response, as from any server.
    fanout::request plain{.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/hello"};
    auto p = co_await s.try_request(plain);
    REQUIRE(p.has_value());
    CHECK(p->status() == 407);
  });
  CHECK(server.connections() == 0);
}

TEST_CASE("proxy: an unreachable proxy says so", "[proxy]") {
  auto const port = closed_port();
  auto const name = "127.0.0.1:" + std::to_string(port);
  run_session(via("http://user:pass@" + name), [&](fanout::session& s) -> asio::awaitable<void> {
    std::vector<std::string> urls{"http://127.0.0.1:9/x", "https://localhost:9/x"};
    for (auto const& url : urls) {
      fanout::request req{.url = url};
      auto r = co_await s.try_request(req);
      REQUIRE_FALSE(r.has_value());
      INFO(r.error().message());
      CHECK(r.error().code() == boost::asio::error::connection_refused);
      CHECK(contains(r.error().message(), "GET " + url + ": "));
      CHECK(contains(r.error().message(), "(while connecting to proxy " + name + ")"));
      CHECK_FALSE(contains(r.error().message(), "pass"));
    }
  });
}

TEST_CASE("proxy: NO_PROXY, request::proxy and invalid proxy URLs", "[proxy]") {
  test_server server;
  fake_proxy proxy;
  auto o = via(proxy.url());
  o.no_proxy = "localhost, 127.0.0.1:" + std::to_string(server.port());
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    auto direct = co_await s.get(server.url("/hello"));  // 127.0.0.1:port is listed
    CHECK(direct.status() == 200);
    // A per-request proxy overrides the session's, NO_PROXY included.
    fanout::request forced{.url = server.url("/hello"), .proxy = proxy.url()};
    auto r = co_await s.try_request(forced);
    REQUIRE(r.has_value());
    CHECK(r->status() == 200);
    fanout::request none{.url = server.url("/hello"), .proxy = ""};
    auto n = co_await s.try_request(none);
    REQUIRE(n.has_value());
    fanout::request bad{.url = server.url("/hello"), .proxy = "socks5://user:pw@127.0.0.1:1"};
    auto b = co_await s.try_request(bad);
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().code() == http_errc::invalid_url);
    CHECK(contains(b.error().message(), "invalid proxy URL (request::proxy)"));
  });
  REQUIRE(proxy.requests().size() == 1);
  CHECK(proxy.requests()[0].target == server.url("/hello"));
}

TEST_CASE("proxy: redirects decide proxy or direct again for each hop", "[proxy]") {
  test_server direct_server, proxied_server;
  fake_proxy proxy;
  auto const direct_echo = direct_server.url("/echo");
  proxied_server.route("/away", [&](exchange& x) {
    x.res.result(boost::beast::http::status::found);
    x.res.set(boost::beast::http::field::location, direct_echo);
  });
  auto o = via(proxy.url("user:pass"));
  o.no_proxy = "127.0.0.1:" + std::to_string(direct_server.port());
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req{.url = proxied_server.url("/away")};
    auto r = co_await s.try_request(req);
    REQUIRE(r.has_value());
    CHECK(r->status() == 200);
    CHECK(r->redirects() == 1);
    // The direct hop: origin form, and no proxy credentials sent to the origin.
    CHECK(r->json()["target"] == "/echo");
    CHECK_FALSE(r->json()["headers"].contains("proxy-authorization"));
  });
  auto seen = proxy.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == proxied_server.url("/away"));
  CHECK(direct_server.connections() == 1);
}

TEST_CASE("proxy: trust_env reads http_proxy and no_proxy; without it they are ignored",
          "[proxy]") {
  proxy_env_guard guard;
  test_server server;
  fake_proxy proxy;
  ::setenv("http_proxy", proxy.url().c_str(), 1);
  ::setenv("NO_PROXY", "localhost", 1);
  auto get = [&](bool trust, std::string url) {
    fanout::session_options o;
    o.trust_env = trust;
    run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
      auto r = co_await s.get(url);
      CHECK(r.status() == 200);
    });
  };
  get(false, server.url("/hello"));
  CHECK(proxy.requests().empty());
  get(true, server.url("/hello"));
  CHECK(proxy.requests().size() == 1);
  get(true, "http://localhost:" + std::to_string(server.port()) + "/hello");  // NO_PROXY
  CHECK(proxy.requests().size() == 1);
  CHECK(server.requests() == 3);
}
