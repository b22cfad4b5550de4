// Redirects and URL userinfo. The pure decisions first, as tables (resolving a Location, hiding a
// password, the Basic credentials); then end to end against a loopback server that records the
// exact request target and Authorization of every hop.
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/test_server.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace fanout::test;
using fanout::errc;
using fanout::http_errc;

// --- pure decisions -------------------------------------------------------------------------

TEST_CASE("redirect: Location values resolve, lose dot segments and get percent-encoded",
          "[redirect][url]") {
  struct row {
    const char* base;
    const char* location;
    const char* expected;
  };
  // RFC 3986 section 5.4's examples (base "http://a/b/c/d;p?q"), then what servers send.
  static const row rows[] = {
      {"http://a/b/c/d;p?q", "g", "http://a/b/c/g"},
      {"http://a/b/c/d;p?q", "./g", "http://a/b/c/g"},
      {"http://a/b/c/d;p?q", "g/", "http://a/b/c/g/"},
      {"http://a/b/c/d;p?q", "/g", "http://a/g"},
      {"http://a/b/c/d;p?q", "//g", "http://g"},
      {"http://a/b/c/d;p?q", "?y", "http://a/b/c/d;p?y"},
      {"http://a/b/c/d;p?q", "g?y", "http://a/b/c/g?y"},
      {"http://a/b/c/d;p?q", "#s", "http://a/b/c/d;p?q#s"},
      {"http://a/b/c/d;p?q", "g#s", "http://a/b/c/g#s"},
      {"http://a/b/c/d;p?q", ";x", "http://a/b/c/;x"},
      {"http://a/b/c/d;p?q", "", "http://a/b/c/d;p?q"},
      {"http://a/b/c/d;p?q", ".", "http://a/b/c/"},
      {"http://a/b/c/d;p?q", "..", "http://a/b/"},
      {"http://a/b/c/d;p?q", "../g", "http://a/b/g"},
      {"http://a/b/c/d;p?q", "../..", "http://a/"},
      {"http://a/b/c/d;p?q", "../../g", "http://a/g"},
      // 5.4.2: more ".." than segments, and dot segments in absolute paths.
      {"http://a/b/c/d;p?q", "../../../g", "http://a/g"},
      {"http://a/b/c/d;p?q", "../../../../g", "http://a/g"},
      {"http://a/b/c/d;p?q", "/./g", "http://a/g"},
      {"http://a/b/c/d;p?q", "/../g", "http://a/g"},
      {"http://a/b/c/d;p?q", "g.", "http://a/b/c/g."},
      {"http://a/b/c/d;p?q", "..g", "http://a/b/c/..g"},
      {"http://a/b/c/d;p?q", "./../g", "http://a/b/g"},
      {"http://a/b/c/d;p?q", "g/../h", "http://a/b/c/h"},
      {"http://a/b/c/d;p?q", "g;x=1/../y", "http://a/b/c/y"},
      // The issue's cases: above the root from "/relative", a raw space, raw UTF-8.
      {"http://h:8/relative", "../ok/8", "http://h:8/ok/8"},
      {"http://h:8/relative", "/..", "http://h:8/"},
      {"http://h:8/relative", "http://o/../../x/", "http://o/x/"},
      {"http://h/relative", "../moo.html/?name=d a niel", "http://h/moo.html/?name=d%20a%20niel"},
      {"http://h/", "/caf\xc3\xa9", "http://h/caf%C3%A9"},
      // Existing escapes are kept; a '%' that starts none is escaped itself; so are the
      // characters RFC 3986 allows nowhere, and a second '#'.
      {"http://h/", "/a%20b c%zz", "http://h/a%20b%20c%25zz"},
      {"http://h/", "/p\"<>\\^`{|}\t", "http://h/p%22%3C%3E%5C%5E%60%7B%7C%7D%09"},
      {"http://h/", "/x#a#b c", "http://h/x#a%23b%20c"},
      // RFC 9110 10.2.2: a Location without a fragment inherits the request's.
      {"http://h/a#top", "/b", "http://h/b#top"},
      {"http://h/a#top", "/b#end", "http://h/b#end"},
      {"http://h/a#top", "?q", "http://h/a?q#top"},
      {"http://h/a", "/b", "http://h/b"},
      // The userinfo goes with the authority: kept by a relative reference, not by another host.
      {"http://u:p@h/a", "b", "http://u:p@h/b"},
      {"http://u:p@h/a", "//o/b", "http://o/b"},
      {"https://h/a", "http://elsewhere/", "http://elsewhere/"},
  };
  for (auto const& r : rows) {
    INFO(r.base << " + " << r.location);
    std::string out;
    REQUIRE_FALSE(fanout::resolve_location(r.base, r.location, out));
    CHECK(out == r.expected);
  }
  // Not a URI reference even once escaped.
  std::string out;
  CHECK(fanout::resolve_location("http://127.0.0.1/", "http://[::1/", out) ==
        http_errc::invalid_url);
  CHECK(fanout::resolve_location("not a base", "/x", out) == http_errc::invalid_url);
}

// BEGIN new API
TEST_CASE("redirect: redact hides the password of a URL, and only that", "[redirect][url]") {
  struct row {
    const char* url;
    const char* shown;
  };
  static const row rows[] = {
      {"http://user:pass@host/", "http://user:***@host/"},
      {"https://user:p%40ss:w@host:8443/a?b#c", "https://user:***@host:8443/a?b#c"},
      {"http://user:@host/", "http://user:@host/"},  // no password (RFC 3986 3.2.1)
      {"http://user@host/", "http://user@host/"},    // a user name is no secret
      {"http://host/a@b?c=d@e", "http://host/a@b?c=d@e"},
      {"http://host/", "http://host/"},
      {"//user:pass@host/x", "//user:***@host/x"},
      {"/just/a/path", "/just/a/path"},
      // Not a URL at all (a space): the authority's password is hidden all the same.
      {"http://user:pass word@host/a b", "http://user:***@host/a b"},
      {"http://us:er@p:ass@host", "http://us:***@host"},
      {"http://user:@host/a b", "http://user:@host/a b"},
      {"/a b//user:pass@host", "/a b//user:pass@host"},  // a path, no authority
      {"not a url", "not a url"},
      {"", ""},
  };
  for (auto const& r : rows) {
    INFO(r.url);
    CHECK(fanout::redact(r.url) == r.shown);
  }
}

TEST_CASE("redirect: URL userinfo becomes Basic credentials", "[redirect][url]") {
  struct row {
    const char* url;
    const char* authorization;  // "" = none
  };
  static const row rows[] = {
      {"http://h/", ""},
      {"http://Aladdin:open%20sesame@h/", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},  // RFC 7617
      {"http://user:pa%20ss@h/", "Basic dXNlcjpwYSBzcw=="},
      {"https://u:p%3Aq%40r@h:1/", "Basic dTpwOnFAcg=="},  // "u:p:q@r", decoded
      {"http://user@h/", "Basic dXNlcjo="},                // "user:", as curl sends it
      {"http://@h/", "Basic Og=="},                        // ":", as curl sends it
  };
  for (auto const& r : rows) {
    INFO(r.url);
    fanout::url_parts u;
    std::string why;
    REQUIRE_FALSE(fanout::parse_url(r.url, u, why));
    CHECK(u.authorization == r.authorization);
    CHECK(u.target == "/");
    CHECK(u.origin.find('@') == std::string::npos);
  }
}
// END new API

// --- end to end -----------------------------------------------------------------------------

namespace {

// What the server got for one request.
struct hop {
  std::string target;
  std::vector<std::string> authorization;  // every Authorization field, in order
  bool operator==(const hop&) const = default;
};

std::ostream& operator<<(std::ostream& os, const hop& h) {
  os << h.target;
  for (auto const& a : h.authorization) os << " [" << a << "]";
  return os;
}

// A loopback server that answers given targets with given raw heads and every other target
// with 200 "at <target>", and records each request.
class hop_server {
 public:
  hop_server() {
    server_.route("/*", [this](exchange& x) {
      hop h{std::string(x.req.target()), {}};
      for (auto const& f : x.req)
        if (f.name() == http::field::authorization) h.authorization.emplace_back(f.value());
      std::lock_guard lock(mutex_);
      hops_.push_back(h);
      if (auto it = heads_.find(h.target); it != heads_.end()) {
        x.raw = it->second;
        return;
      }
      x.res.body() = "at " + h.target;
    });
  }

  // `target` is answered with exactly `head` (status line and fields) and an empty body.
  void on(const std::string& target, const std::string& head, const std::string& body = "") {
    std::lock_guard lock(mutex_);
    heads_[target] = head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  void redirect(const std::string& target, const std::string& location, int status = 302) {
    on(target, "HTTP/1.1 " + std::to_string(status) + " Moved\r\nLocation: " + location + "\r\n");
  }

  // The requests received since the last call.
  std::vector<hop> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(hops_, {});
  }

  std::string url(std::string_view path) const { return server_.url(path); }
  // The same URL with `userinfo@` before the host.
  std::string url(std::string_view userinfo, std::string_view path) const {
    auto u = server_.url(path);
    return u.insert(u.find("//") + 2, std::string(userinfo) + "@");
  }
  std::uint16_t port() const { return server_.port(); }

 private:
  test_server server_;
  std::mutex mutex_;
  std::map<std::string, std::string> heads_;
  std::vector<hop> hops_;
};

using hops = std::vector<hop>;

}  // namespace

TEST_CASE("redirect: ../ above the root is removed before sending (RFC 3986 5.2.4)", "[redirect]") {
  hop_server server;
  server.redirect("/relative", "../ok/8");
  server.redirect("/deep/er", "../../../up?x=1", 301);
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/relative"));
    CHECK(r.status() == 200);
    CHECK(r.body() == "at /ok/8");
    CHECK(r.url() == server.url("/ok/8"));
    CHECK(r.redirects() == 1);
    CHECK(server.take() == hops{{"/relative", {}}, {"/ok/8", {}}});

    auto up = co_await s.get(server.url("/deep/er"));
    CHECK(up.body() == "at /up?x=1");
    CHECK(server.take() == hops{{"/deep/er", {}}, {"/up?x=1", {}}});
  });
}

TEST_CASE("redirect: a Location with a raw space or UTF-8 is percent-encoded and followed",
          "[redirect]") {
  hop_server server;
  server.redirect("/relative", "../moo.html/?name=d a niel");
  server.redirect("/utf8", "/caf\xc3\xa9");
  server.redirect("/escapes", "/a%20b c%zz");
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(server.url("/relative"));
    CHECK(r.status() == 200);
    CHECK(r.body() == "at /moo.html/?name=d%20a%20niel");
    CHECK(r.url() == server.url("/moo.html/?name=d%20a%20niel"));

    auto cafe = co_await s.get(server.url("/utf8"));
    CHECK(cafe.body() == "at /caf%C3%A9");
    CHECK(cafe.url() == server.url("/caf%C3%A9"));

    auto escapes = co_await s.get(server.url("/escapes"));
    CHECK(escapes.body() == "at /a%20b%20c%25zz");
    CHECK(server.take() == hops{{"/relative", {}},
                                {"/moo.html/?name=d%20a%20niel", {}},
                                {"/utf8", {}},
                                {"/caf%C3%A9", {}},
                                {"/escapes", {}},
                                {"/a%20b%20c%25zz", {}}});
  });
}

TEST_CASE("redirect: a 3xx with a blank Location, or none, is the final response", "[redirect]") {
  hop_server server;
  server.on("/blank", "HTTP/1.1 302 Found\r\nLocation:\r\n", "moved");
  server.on("/spaces", "HTTP/1.1 307 Temporary Redirect\r\nLocation:   \r\n", "moved");
  server.on("/none", "HTTP/1.1 301 Moved Permanently\r\n", "moved");
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    for (std::string path : {"/blank", "/spaces", "/none"}) {
      INFO(path);
      fanout::request req{.url = server.url(path)};
      auto r = co_await s.try_request(req);
      REQUIRE(r);
      CHECK(r->status() == (path == "/blank" ? 302 : path == "/spaces" ? 307 : 301));
      CHECK(r->body() == "moved");
      CHECK(r->redirects() == 0);
      CHECK(r->url() == server.url(path));
      CHECK(server.take() == hops{{path, {}}});
    }
  });
}

TEST_CASE("redirect: a fragment is never sent, and a Location without one inherits it",
          "[redirect]") {
  hop_server server;
  server.redirect("/a", "/b");
  server.redirect("/c", "d#end");
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto plain = co_await s.get(server.url("/plain?q=1#top"));
    CHECK(plain.url() == server.url("/plain?q=1#top"));
    auto inherited = co_await s.get(server.url("/a#top"));
    CHECK(inherited.url() == server.url("/b#top"));
    auto own = co_await s.get(server.url("/c#top"));
    CHECK(own.url() == server.url("/d#end"));
    CHECK(server.take() ==
          hops{{"/plain?q=1", {}}, {"/a", {}}, {"/b", {}}, {"/c", {}}, {"/d", {}}});
  });
}

TEST_CASE("redirect: URL userinfo is sent as Basic, never to another origin, never shown",
          "[redirect][security]") {
  hop_server a, b;
  std::string const basic = "Basic dXNlcjpwYSBzcw==";  // "user:pa ss"
  a.redirect("/same", "/landing");
  a.redirect("/absolute", a.url("/landing"));  // same origin, without the userinfo
  a.redirect("/away", b.url("/landing"));
  a.redirect("/away-with-own", b.url("other:pw2", "/landing"));
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.get(a.url("user:pa%20ss", "/same"));
    CHECK(r.body() == "at /landing");
    CHECK(r.url() == a.url("user:***", "/landing"));
    CHECK(a.take() == hops{{"/same", {basic}}, {"/landing", {basic}}});

    co_await s.get(a.url("user:pa%20ss", "/absolute"));
    CHECK(a.take() == hops{{"/absolute", {basic}}, {"/landing", {basic}}});

    // Across origins the credentials stay behind, as curl does; even those of the Location.
    auto away = co_await s.get(a.url("user:pa%20ss", "/away"));
    CHECK(away.url() == b.url("/landing"));
    CHECK(a.take() == hops{{"/away", {basic}}});
    CHECK(b.take() == hops{{"/landing", {}}});
    auto own = co_await s.get(a.url("user:pa%20ss", "/away-with-own"));
    CHECK(own.url() == b.url("other:***", "/landing"));
    CHECK(a.take() == hops{{"/away-with-own", {basic}}});
    CHECK(b.take() == hops{{"/landing", {}}});

    // The request's own Authorization wins, and is the only one.
    fanout::header_list const own_authorization{{"authorization", "Bearer t"}};
    co_await s.get(a.url("user:pa%20ss", "/x"), own_authorization);
    CHECK(a.take() == hops{{"/x", {"Bearer t"}}});
  });
}

TEST_CASE("redirect: an error never shows the password of its URL", "[redirect][security]") {
  hop_server server;
  server.on("/fail", "HTTP/1.1 500 Internal Server Error\r\n");
  server.redirect("/to-ftp", "ftp://u:locsecret@127.0.0.1/");
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request refused{.url = "http://user:s3cret@127.0.0.1:1/x"};
    auto r1 = co_await s.try_request(refused);
    REQUIRE_FALSE(r1);
    CHECK(fanout::error_name(r1.error().code()) == "connection_refused");
    CHECK(r1.error().message().rfind("GET http://user:***@127.0.0.1:1/x: ", 0) == 0);

    fanout::request invalid{.url = "http://user:s3cret@127.0.0.1:0/x"};
    auto r2 = co_await s.try_request(invalid);
    REQUIRE_FALSE(r2);
    CHECK(r2.error().code() == http_errc::invalid_url);
    CHECK(r2.error().message().rfind("GET http://user:***@127.0.0.1:0/x: invalid URL", 0) == 0);

    fanout::request status{.url = server.url("user:s3cret", "/fail"), .raise_for_status = true};
    auto r3 = co_await s.try_request(status);
    REQUIRE_FALSE(r3);
    CHECK(r3.error().code() == http_errc::http_status);
    CHECK(r3.error().message() ==
          "GET " + server.url("user:***", "/fail") + ": HTTP 500 Internal Server Error");

    fanout::request ftp{.url = server.url("user:s3cret", "/to-ftp")};
    auto r4 = co_await s.try_request(ftp);
    REQUIRE_FALSE(r4);
    CHECK(r4.error().code() == http_errc::redirect_refused);
    CHECK(r4.error().message() == "GET " + server.url("user:***", "/to-ftp") +
                                      ": redirect to ftp://u:***@127.0.0.1/ refused: "
                                      "unsupported scheme \"ftp\"");
    for (auto const& m :
         {r1.error().message(), r2.error().message(), r3.error().message(), r4.error().message()})
      CHECK(m.find("secret") == std::string::npos);
  });
}
