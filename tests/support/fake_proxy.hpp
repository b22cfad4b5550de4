#ifndef FANOUT_TESTS_SUPPORT_FAKE_PROXY_HPP
#define FANOUT_TESTS_SUPPORT_FAKE_PROXY_HPP

// An in-process HTTP proxy on 127.0.0.1 and an ephemeral port, for tests: it records the head
// of every request it receives, answers CONNECT with 200 and then splices bytes both ways to the
// target, and forwards absolute-form requests (rewritten to origin form, Proxy-Authorization
// removed) to their target. With `require_auth` set, a request without exactly that
// Proxy-Authorization value gets a 407 and the connection is closed. Loopback targets only.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fanout::test {

class fake_proxy {
 public:
  struct options {
    /// The Proxy-Authorization value every request must carry; empty = no authentication.
    std::string require_auth{};
  };

  /// The head of one request the proxy received.
  struct seen {
    std::string method, target, host;
    std::optional<std::string> proxy_authorization;
  };

  fake_proxy() : fake_proxy(options{}) {}
  explicit fake_proxy(options o) : opts_(std::move(o)), acceptor_(io_) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(boost::asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~fake_proxy() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto* s : sockets_) s->close(ec);
    });
    boost::asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }

  std::uint16_t port() const noexcept { return port_; }
  /// "http://127.0.0.1:<port>"
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// The same with credentials: "http://user:password@127.0.0.1:<port>"
  std::string url(std::string_view userinfo) const {
    return "http://" + std::string(userinfo) + "@127.0.0.1:" + std::to_string(port_);
  }
  std::size_t connections() const noexcept { return accepted_.load(); }
  std::vector<seen> requests() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  using socket = boost::asio::ip::tcp::socket;
  using socket_ptr = std::shared_ptr<socket>;

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto s = co_await acceptor_.async_accept(
          boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) co_return;
      accepted_.fetch_add(1);
      boost::asio::co_spawn(io_, serve(track(std::move(s))), boost::asio::detached);
    }
  }

  socket_ptr track(socket s) {
    auto p = std::shared_ptr<socket>(new socket(std::move(s)), [this](socket* raw) {
      sockets_.erase(raw);  // on the proxy's thread: every coroutine runs there
      delete raw;
    });
    sockets_.insert(p.get());
    return p;
  }

  // Connects to "host:port" or an absolute URL's authority (loopback literals only).
  boost::asio::awaitable<socket_ptr> dial(std::string_view host, std::string_view port) {
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) co_return nullptr;
    boost::asio::ip::tcp::endpoint ep(addr,
                                      static_cast<std::uint16_t>(std::stoul(std::string(port))));
    auto s = track(socket(io_));
    co_await s->async_connect(ep, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) co_return nullptr;
    co_return s;
  }

  static boost::asio::awaitable<void> pump(socket_ptr from, socket_ptr to) {
    char data[16384];
    for (;;) {
      boost::system::error_code ec;
      auto n = co_await from->async_read_some(
          boost::asio::buffer(data), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) break;
      co_await boost::asio::async_write(
          *to, boost::asio::buffer(data, n),
          boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) break;
    }
    boost::system::error_code ignored;
    from->close(ignored);
    to->close(ignored);
  }

  boost::asio::awaitable<void> serve(socket_ptr client) {
    namespace http = boost::beast::http;
    using boost::asio::redirect_error;
    using boost::asio::use_awaitable;
    boost::beast::flat_buffer buffer;
    socket_ptr upstream;
    std::string upstream_authority;
    for (;;) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> parser;
      co_await http::async_read(*client, buffer, parser, redirect_error(use_awaitable, ec));
      if (ec) co_return;
      auto req = parser.release();
      seen s{std::string(req.method_string()), std::string(req.target()),
             std::string(req[http::field::host]), std::nullopt};
      if (auto f = req.find(http::field::proxy_authorization); f != req.end())
        s.proxy_authorization = std::string(f->value());
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(s);
      }
      if (!opts_.require_auth.empty() && s.proxy_authorization != opts_.require_auth) {
        std::string_view const answer =
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
            "realm=\"fake\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        co_await boost::asio::async_write(*client, boost::asio::buffer(answer),
                                          redirect_error(use_awaitable, ec));
        co_return;
      }
      if (req.method() == http::verb::connect) {
        std::string_view authority = req.target();
        auto const colon = authority.rfind(':');
        auto host = authority.substr(0, colon);
        if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
        auto target = co_await dial(host, authority.substr(colon + 1));
        std::string_view const answer =
            target ? "HTTP/1.1 200 Connection established\r\n\r\n"
                   : "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        co_await boost::asio::async_write(*client, boost::asio::buffer(answer),
                                          redirect_error(use_awaitable, ec));
        if (ec || !target) co_return;
        auto ex = co_await boost::asio::this_coro::executor;
        boost::asio::co_spawn(ex, pump(target, client), boost::asio::detached);
        co_await pump(client, target);
        co_return;
      }
      // Absolute form: forward to the target in origin form.
      auto u = boost::urls::parse_uri(req.target());
      if (!u) co_return;
      std::string authority(u->encoded_host_and_port());
      if (!upstream || authority != upstream_authority) {
        upstream = co_await dial(
            u->host(), u->has_port() ? std::string_view(u->port()) : std::string_view("80"));
        upstream_authority = authority;
        if (!upstream) co_return;
      }
      std::string target(u->encoded_path().empty() ? "/" : u->encoded_path());
      if (u->has_query()) target += "?" + std::string(u->encoded_query());
      req.target(target);
      req.erase(http::field::proxy_authorization);
      co_await http::async_write(*upstream, req, redirect_error(use_awaitable, ec));
      if (ec) co_return;
      boost::beast::flat_buffer upstream_buffer;
      http::response_parser<http::string_body> rp;
      rp.body_limit(64 << 20);
      if (req.method() == http::verb::head) rp.skip(true);
      co_await http::async_read(*upstream, upstream_buffer, rp, redirect_error(use_awaitable, ec));
      if (ec) co_return;
      auto res = rp.release();
      bool const keep = res.keep_alive() && req.keep_alive();
      res.keep_alive(keep);
      if (!keep) upstream.reset();
      co_await http::async_write(*client, res, redirect_error(use_awaitable, ec));
      if (ec || !keep) co_return;
    }
  }

  options opts_;
  std::set<socket*> sockets_;  // touched only on the proxy's thread; outlives io_
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<seen> seen_;
  std::atomic<std::size_t> accepted_{0};
};

}  // namespace fanout::test

#endif
