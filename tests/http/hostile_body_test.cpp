// Bodies a server can make hostile or broken: the memory a header alone reserves, and content
// codings that do not decode whole, end to end against a loopback server that replies with
// exact bytes.
#include <fanout/http/detail/http1/response_reader.hpp>
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/zlib_reference.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <zlib.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fanout::test;
using fanout::errc;
using fanout::http_errc;
using tcp = boost::asio::ip::tcp;

/// Answers each connection's first request with `reply`, then closes it. One thread, loopback,
/// an ephemeral port; stops when destroyed.
class canned_server {
 public:
  explicit canned_server(std::string reply) : reply_(std::move(reply)) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({boost::asio::ip::address_v4::loopback(), 0});
    acceptor_.listen();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~canned_server() {
    boost::asio::post(io_, [this] { acceptor_.close(); });
    io_.stop();
    thread_.join();
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
           std::string(path);
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      auto buf = std::make_shared<std::string>();
      boost::asio::async_read_until(*sock, boost::asio::dynamic_buffer(*buf), "\r\n\r\n",
                                    [this, sock, buf](boost::system::error_code rec, std::size_t) {
                                      if (rec) return;
                                      boost::asio::async_write(
                                          *sock, boost::asio::buffer(reply_),
                                          [sock](boost::system::error_code, std::size_t) {
                                            boost::system::error_code ignored;
                                            sock->shutdown(tcp::socket::shutdown_both, ignored);
                                          });
                                    });
      accept();
    });
  }

  std::string reply_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

std::string gzip(std::string_view in) {
  return compress(in, zwrap::gzip);
}
std::string zlib_wrapped(std::string_view in) {
  return compress(in, zwrap::zlib);
}

std::string reply(std::string_view coding, std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Encoding: " + std::string(coding) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         std::string(body);
}

fanout::session::result_type fetch(const std::string& bytes) {
  canned_server server(bytes);
  fanout::session::result_type out{boost::system::in_place_error,
                                   fanout::error(make_error_code(errc::cancelled), "not run")};
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request r;
    r.url = server.url("/x");
    out = co_await s.try_request(r);
  });
  return out;
}

}  // namespace

TEST_CASE("hostile body: a Content-Length alone reserves at most the first reservation",
          "[hostile]") {
  fanout::detail::response_builder builder;
  builder.begin("http://127.0.0.1/", "GET", std::size_t(64) << 20);
  fanout::detail::response_reader reader(builder, {.header = 8192, .body = std::size_t(64) << 20});
  std::string const head = "HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\nabc";
  boost::system::error_code ec;
  reader.eager(true);
  auto const used = reader.put(boost::asio::buffer(head), ec);
  CHECK(used == head.size());
  CHECK_FALSE(ec);
  CHECK(builder.body_capacity() == fanout::detail::response_builder::initial_body_reserve);
  // It grows as bytes arrive, never past the announced length.
  std::string const mib(std::size_t(1) << 20, 'x');
  for (int i = 0; i < 40; ++i) reader.put(boost::asio::buffer(mib), ec);
  CHECK(builder.body_capacity() >= (std::size_t(40) << 20) + 3);
  CHECK(builder.body_capacity() <= std::size_t(64) << 20);
}

TEST_CASE("hostile body: content codings decode whole or fail, end to end", "[hostile][codings]") {
  std::string const a(70000, 'a'), b = "and the second member";
  SECTION("two gzip members are one body") {
    auto r = fetch(reply("gzip", gzip(a) + gzip(b)));
    REQUIRE(r);
    CHECK(r->body() == a + b);
    CHECK_FALSE(r->header("content-encoding"));
  }
  SECTION("deflate, identity, gzip is undone gzip first") {
    auto r = fetch(reply("deflate, identity, gzip", gzip(zlib_wrapped(a))));
    REQUIRE(r);
    CHECK(r->body() == a);
  }
  SECTION("raw deflate") {
    auto r = fetch(reply("deflate", compress(a, zwrap::raw)));
    REQUIRE(r);
    CHECK(r->body() == a);
  }
  SECTION("none is identity") {
    auto r = fetch(reply("none", "plain"));
    REQUIRE(r);
    CHECK(r->body() == "plain");
  }
  SECTION("an unknown coding is left as it came, with its header") {
    auto r = fetch(reply("br", "\x0b\x02\x80hi\x03"));
    REQUIRE(r);
    CHECK(r->body() == "\x0b\x02\x80hi\x03");
    CHECK(r->header("content-encoding") == std::optional<std::string_view>("br"));
  }
  SECTION("a truncated gzip body is an error") {
    auto const gz = gzip(a);
    auto r = fetch(reply("gzip", gz.substr(0, gz.size() - 6)));
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == http_errc::decompression);
    CHECK(contains(r.error().message(), "cannot decode the gzip body"));
  }
  SECTION("garbage after the gzip stream is an error") {
    auto r = fetch(reply("gzip", gzip(a) + "trailing garbage"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == http_errc::decompression);
  }
}
