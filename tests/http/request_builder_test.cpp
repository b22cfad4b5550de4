// The checks and the message building a request goes through before any I/O.
#include <fanout/http/detail/sansio/request_builder.hpp>
#include <fanout/http/detail/sansio/serialize.hpp>

#include <catch2/catch.hpp>

#include <string>

using fanout::errc;
using fanout::http_errc;

namespace {

struct built {
  boost::system::error_code ec;
  fanout::detail::request_message m;
  fanout::url_parts where;
  bool decompress = false;
  std::string what;
};

built build(fanout::request req, const fanout::session_options& options = {}) {
  built b;
  auto const method = req.method;
  auto const url = req.url;
  b.ec =
      fanout::detail::build_request(method, url, req, options, b.where, b.m, b.decompress, b.what);
  return b;
}

}  // namespace

TEST_CASE("request_builder: defaults, user headers and the body", "[request_builder]") {
  fanout::request req{.method = "POST",
                      .url = "http://127.0.0.1:8080/a?b=c",
                      .headers = {{"X-One", "1"}, {"User-Agent", "me"}},
                      .body = "hello"};
  auto b = build(req);
  REQUIRE_FALSE(b.ec);
  CHECK(b.m.method_string() == "POST");
  CHECK(b.m.target() == "/a?b=c");
  CHECK(b.m["host"] == "127.0.0.1:8080");
  CHECK(b.m["user-agent"] == "me");
  CHECK(b.m["x-one"] == "1");
  CHECK(b.m["accept-encoding"] == "gzip, deflate");
  CHECK(b.m["content-length"] == "5");
  CHECK(b.m.body() == "hello");
  CHECK(b.decompress);

  fanout::request own{.url = "http://127.0.0.1/", .headers = {{"accept-encoding", "br"}}};
  auto raw = build(own, {.keep_alive = false});
  REQUIRE_FALSE(raw.ec);
  CHECK_FALSE(raw.decompress);
  CHECK(raw.m["connection"] == "close");
}

TEST_CASE("request_builder: CR, LF and NUL never reach the wire", "[request_builder][security]") {
  auto const url = std::string("http://127.0.0.1/");
  CHECK(build({.method = "GE\nT", .url = url}).ec == http_errc::invalid_request);
  fanout::request name{.url = url, .headers = {{"a\r\nb", "v"}}};
  CHECK(build(name).ec == http_errc::invalid_request);
  fanout::request nul{.url = url, .headers = {{"a", std::string("x\0y", 3)}}};
  auto b = build(nul);
  CHECK(b.ec == http_errc::invalid_request);
  CHECK(b.what == "header \"a\" has a CR, LF or NUL in its value");
  CHECK(build({.url = url + "x\r\nHost: evil"}).ec == http_errc::invalid_url);
}

TEST_CASE("request_builder: a TRACE with a body is refused, not thrown",
          "[request_builder][security]") {
  // Found by tests/fuzz/request_fuzz.cpp (corpus/request/trace_with_body): Beast's
  // prepare_payload() threw std::invalid_argument.
  auto b = build({.method = "TRACE", .url = "http://127.0.0.1/", .body = "x"});
  CHECK(b.ec == http_errc::invalid_request);
  CHECK(b.what == "a TRACE request cannot have a body");
  CHECK_FALSE(build({.method = "TRACE", .url = "http://127.0.0.1/"}).ec);
}

TEST_CASE("request_builder: the bytes that go on the wire", "[request_builder]") {
  // serialize_message is what the connection writes: the head alone (the body then goes from
  // where it is) or the whole message.
  fanout::session_options o;
  o.user_agent = "";
  o.decompress = false;
  auto const bytes = [](const fanout::detail::request_message& m, bool head_only) {
    std::string out;
    boost::system::error_code ec;
    fanout::detail::serialize_message(m, out, head_only, ec);
    CHECK_FALSE(ec);
    return out;
  };

  auto get = build({.url = "http://127.0.0.1:8080/a?b=c"}, o);
  REQUIRE_FALSE(get.ec);
  CHECK(bytes(get.m, true) == "GET /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
  CHECK(bytes(get.m, false) == "GET /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");

  auto post = build({.method = "POST", .url = "http://127.0.0.1:8080/a", .body = "hello"}, o);
  REQUIRE_FALSE(post.ec);
  CHECK(bytes(post.m, true) ==
        "POST /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 5\r\n\r\n");
  CHECK(bytes(post.m, false) ==
        "POST /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 5\r\n\r\nhello");
}

TEST_CASE("request_builder: a caller's Transfer-Encoding: chunked body, without Content-Length",
          "[request_builder]") {
  // RFC 9112 6.2: "A sender MUST NOT send a Content-Length header field in any message that
  // contains a Transfer-Encoding header field." curl, given the same header, sends the body
  // in chunks and no Content-Length. Before this test, Beast's prepare_payload() replaced the
  // caller's header with a Content-Length: what they asked for was silently dropped.
  fanout::session_options o;
  o.user_agent = "";
  o.decompress = false;
  auto b = build({.method = "POST",
                  .url = "http://127.0.0.1:8080/a",
                  .headers = {{"Transfer-Encoding", "chunked"}},
                  .body = "hello"},
                 o);
  REQUIRE_FALSE(b.ec);
  CHECK(b.m.find(boost::beast::http::field::content_length) == b.m.end());
  std::string out;
  boost::system::error_code ec;
  fanout::detail::serialize_message(b.m, out, false, ec);
  CHECK_FALSE(ec);
  CHECK(out ==
        "POST /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\n");

  // RFC 9112 6.3: a request whose last transfer coding is not chunked has no length a server
  // can find: refused here rather than sent.
  auto gz = build({.method = "POST",
                   .url = "http://127.0.0.1:8080/a",
                   .headers = {{"Transfer-Encoding", "gzip"}},
                   .body = "hello"},
                  o);
  CHECK(gz.ec == http_errc::invalid_request);
  CHECK(gz.what == "a request's Transfer-Encoding must end with chunked (RFC 9112 6.3)");
}
