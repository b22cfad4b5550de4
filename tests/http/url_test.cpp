// URL parsing and redirect resolution (Boost.URL), before any I/O.
#include <fanout/http/url.hpp>

#include <catch2/catch.hpp>

TEST_CASE("url: absolute http and https URLs", "[url]") {
  fanout::url_parts u;
  std::string why;
  REQUIRE_FALSE(fanout::parse_url("http://Example.COM/a/b?x=1#frag", u, why));
  CHECK_FALSE(u.https);
  CHECK(u.host == "example.com");
  CHECK(u.port == 80);
  CHECK(u.host_header == "example.com");
  CHECK(u.target == "/a/b?x=1");
  CHECK(u.origin == "http://example.com:80");

  REQUIRE_FALSE(fanout::parse_url("https://127.0.0.1:8443", u, why));
  CHECK(u.https);
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 8443);
  CHECK(u.host_header == "127.0.0.1:8443");
  CHECK(u.target == "/");

  REQUIRE_FALSE(fanout::parse_url("http://[::1]:8080/x", u, why));
  CHECK(u.host == "::1");
  CHECK(u.host_header == "[::1]:8080");
  CHECK(u.origin == "http://[::1]:8080");

  REQUIRE_FALSE(fanout::parse_url("https://h:443/", u, why));
  CHECK(u.host_header == "h");
}

TEST_CASE("url: bad URLs are invalid_url with a reason", "[url]") {
  fanout::url_parts u;
  std::string why;
  CHECK(fanout::parse_url("not a url", u, why) == fanout::http_errc::invalid_url);
  CHECK(fanout::parse_url("ftp://example.com/", u, why) == fanout::http_errc::invalid_url);
  CHECK(why.find("unsupported scheme \"ftp\"") != std::string::npos);
  CHECK(fanout::parse_url("http:///path", u, why) == fanout::http_errc::invalid_url);
  CHECK(why == "empty host");
  CHECK(fanout::parse_url("http://", u, why) == fanout::http_errc::invalid_url);
  CHECK(fanout::parse_url("http://a b/", u, why) == fanout::http_errc::invalid_url);
  CHECK(fanout::parse_url("http://example.com/a\r\nX: y", u, why) ==
        fanout::http_errc::invalid_url);
  CHECK(fanout::parse_url("http://example.com:0/", u, why) == fanout::http_errc::invalid_url);
  CHECK(fanout::parse_url("/relative", u, why) == fanout::http_errc::invalid_url);
  CHECK(fanout::parse_url("", u, why) == fanout::http_errc::invalid_url);
}

TEST_CASE("url: Location values resolve against the request URL", "[url]") {
  std::string out;
  REQUIRE_FALSE(fanout::resolve_location("http://h/a/b/c?q", "../d", out));
  CHECK(out == "http://h/a/d");
  REQUIRE_FALSE(fanout::resolve_location("http://h/a/b", "/x?y=1#f", out));
  CHECK(out == "http://h/x?y=1#f");  // kept for response::url(); never sent
  REQUIRE_FALSE(fanout::resolve_location("https://h/a", "//other:81/z", out));
  CHECK(out == "https://other:81/z");
  REQUIRE_FALSE(fanout::resolve_location("https://h/a", "http://elsewhere/", out));
  CHECK(out == "http://elsewhere/");
  // A raw space is percent-encoded, as browsers do; the host is then refused by parse_url.
  REQUIRE_FALSE(fanout::resolve_location("https://h/a", "http://bad host/", out));
  CHECK(out == "http://bad%20host/");
  fanout::url_parts u;
  std::string why;
  CHECK(fanout::parse_url(out, u, why) == fanout::http_errc::invalid_url);
  CHECK(fanout::resolve_location("https://h/a", "http://[::1/", out));
}
