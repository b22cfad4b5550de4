#ifndef FANOUT_TESTS_SUPPORT_TEST_SERVER_HPP
#define FANOUT_TESTS_SUPPORT_TEST_SERVER_HPP

// An in-process HTTP/1.1 (and HTTPS) server on 127.0.0.1 and an ephemeral port, for tests.
// It runs on its own thread and io_context, counts the TCP connections it accepts, and answers
// through routes (exact path, or prefix when the route ends with '*'). Built-in routes cover
// what the client tests need; `route()` adds more, and `exchange` lets a route delay, close,
// drop the connection or write raw bytes (for fault injection).

#include <fanout/http/detail/sansio/content_coding.hpp>

#include "zlib_reference.hpp"

#include <zlib.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace fanout::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

/// One request as a route sees it, and what it answers.
struct exchange {
  const http::request<http::string_body>& req;
  http::response<http::string_body> res{http::status::ok, 11};
  std::chrono::milliseconds delay{0};   ///< sleep before answering
  bool close = false;                   ///< answer with `Connection: close`, then close
  bool drop = false;                    ///< close the connection without answering
  std::string raw{};                    ///< when set, written instead of `res`
  std::size_t connection_requests = 0;  ///< requests served on this connection before this one
};

using route_handler = std::function<void(exchange&)>;

class test_server {
 public:
  struct options {
    /// Serve HTTPS with this certificate and key (PEM); plain HTTP when empty.
    std::string cert_pem{};
    std::string key_pem{};
    /// Close each connection (without `Connection: close`) after this many responses; 0 = never.
    std::size_t close_after = 0;
    /// Close a keep-alive connection that stays idle this long; 0 = never.
    std::chrono::milliseconds idle_close{0};
    /// The loopback address to listen on ("::1" for IPv6).
    std::string address = "127.0.0.1";
  };

  test_server() : test_server(options{}) {}

  explicit test_server(options o) : opts_(std::move(o)), acceptor_(io_) {
    if (!opts_.cert_pem.empty()) {
      ssl_.emplace(asio::ssl::context::tls_server);
      ssl_->use_certificate_chain(asio::buffer(opts_.cert_pem));
      ssl_->use_private_key(asio::buffer(opts_.key_pem), asio::ssl::context::pem);
    }
    asio::ip::tcp::endpoint ep(asio::ip::make_address(opts_.address), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
    add_default_routes();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  ~test_server() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto* s : sockets_) s->close(ec);
    });
    // Let connection coroutines unwind, then stop.
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }

  /// Adds or replaces a route. `path` matches the target without its query; a trailing '*'
  /// makes it a prefix.
  void route(std::string path, route_handler h) {
    std::lock_guard lock(mutex_);
    routes_[std::move(path)] = std::move(h);
  }

  std::uint16_t port() const noexcept { return port_; }
  bool tls() const noexcept { return ssl_.has_value(); }
  /// "http://127.0.0.1:<port><path>" (https when serving TLS; "[::1]" on IPv6).
  std::string url(std::string_view path = "/") const {
    std::string host =
        opts_.address.find(':') != std::string::npos ? "[" + opts_.address + "]" : opts_.address;
    return std::string(tls() ? "https" : "http") + "://" + host + ":" + std::to_string(port_) +
           std::string(path);
  }

  std::size_t connections() const noexcept { return accepted_.load(); }  ///< TCP accepted
  std::size_t requests() const noexcept { return requests_.load(); }
  std::size_t open_connections() const noexcept { return open_.load(); }
  std::size_t peak_connections() const noexcept { return peak_.load(); }
  std::size_t handshakes_resumed() const noexcept { return resumed_.load(); }

  /// The server name (SNI) the last TLS client sent, empty when none.
  std::string last_sni() const {
    std::lock_guard lock(mutex_);
    return last_sni_;
  }

  /// The last request received, as the server parsed it.
  http::request<http::string_body> last_request() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      accepted_.fetch_add(1);
      asio::co_spawn(io_, serve(std::move(sock)), asio::detached);
    }
  }

  asio::awaitable<void> serve(asio::ip::tcp::socket s) {
    auto n = open_.fetch_add(1) + 1;
    for (auto p = peak_.load(); n > p && !peak_.compare_exchange_weak(p, n);) {
    }
    auto holder = std::make_shared<asio::ip::tcp::socket>(std::move(s));
    auto& sock = *holder;
    sockets_.insert(&sock);
    if (ssl_) {
      asio::ssl::stream<asio::ip::tcp::socket&> tls(sock, *ssl_);
      boost::system::error_code ec;
      co_await tls.async_handshake(asio::ssl::stream_base::server,
                                   asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        if (SSL_session_reused(tls.native_handle())) resumed_.fetch_add(1);
        const char* sni = SSL_get_servername(tls.native_handle(), TLSEXT_NAMETYPE_host_name);
        {
          std::lock_guard lock(mutex_);
          last_sni_ = sni ? sni : "";
        }
        co_await session(tls, holder);
      }
    } else {
      co_await session(sock, holder);
    }
    boost::system::error_code ec;
    sock.shutdown(asio::socket_base::shutdown_both, ec);
    sock.close(ec);
    sockets_.erase(&sock);
    open_.fetch_sub(1);
  }

  template <class Stream>
  asio::awaitable<void> session(Stream& stream, std::shared_ptr<asio::ip::tcp::socket> holder) {
    auto& sock = *holder;
    std::weak_ptr<asio::ip::tcp::socket> weak = holder;
    beast::flat_buffer buffer;
    asio::steady_timer timer(io_);
    for (std::size_t served = 0;; ++served) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(256 << 20);  // uploads of 100 MiB (download_test.cpp)
      boost::system::error_code ec;
      if (opts_.idle_close.count() > 0) {
        timer.expires_after(opts_.idle_close);
        timer.async_wait([weak](boost::system::error_code e) {
          if (auto s = weak.lock(); s && !e) s->close(e);
        });
      }
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      timer.cancel();
      if (ec) co_return;
      requests_.fetch_add(1);
      auto req = parser.release();
      exchange x{req};
      x.connection_requests = served;
      x.res.set(http::field::server, "fanout-test");
      dispatch(x);
      if (x.drop) co_return;
      if (x.delay.count() > 0) {
        timer.expires_after(x.delay);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!sock.is_open()) co_return;
      }
      if (!x.raw.empty()) {
        co_await asio::async_write(stream, asio::buffer(x.raw),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec || x.close) co_return;
        continue;
      }
      bool const keep = !x.close && req.keep_alive();
      x.res.keep_alive(keep);
      if (!x.res.chunked() && x.res.find(http::field::content_length) == x.res.end())
        x.res.prepare_payload();
      if (req.method() == http::verb::head) {
        http::response_serializer<http::string_body> sr(x.res);
        sr.split(true);
        co_await http::async_write_header(stream, sr,
                                          asio::redirect_error(asio::use_awaitable, ec));
      } else {
        co_await http::async_write(stream, x.res, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec || !keep) co_return;
      if (opts_.close_after && served + 1 >= opts_.close_after) co_return;
    }
  }

  void dispatch(exchange& x) {
    std::string_view target = x.req.target();
    auto path = target.substr(0, target.find('?'));
    route_handler h;
    {
      std::lock_guard lock(mutex_);
      last_ = x.req;
      if (auto it = routes_.find(std::string(path)); it != routes_.end()) {
        h = it->second;
      } else {
        // The longest matching prefix route.
        std::size_t best = 0;
        for (auto& [p, r] : routes_)
          if (!p.empty() && p.back() == '*' &&
              path.substr(0, p.size() - 1) == p.substr(0, p.size() - 1) && p.size() > best) {
            best = p.size();
            h = r;
          }
      }
    }
    if (!h) {
      x.res.result(http::status::not_found);
      x.res.body() = "no route for " + std::string(path);
      return;
    }
    h(x);
  }

  static std::string tail(const exchange& x, std::string_view prefix) {
    std::string_view t = x.req.target();
    t = t.substr(0, t.find('?'));
    return std::string(t.substr(std::min(prefix.size(), t.size())));
  }

  void add_default_routes() {
    routes_["/hello"] = [](exchange& x) {
      x.res.set(http::field::content_type, "text/plain");
      x.res.body() = "hello world";
    };
    routes_["/json"] = [](exchange& x) {
      x.res.set(http::field::content_type, "application/json");
      x.res.body() = R"({"id": 42, "name": "widget", "tags": ["a", "b"]})";
    };
    routes_["/echo"] = [](exchange& x) {
      nlohmann::json headers = nlohmann::json::object();
      for (auto const& f : x.req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        headers[name] = std::string(f.value());
      }
      nlohmann::json j{{"method", std::string(x.req.method_string())},
                       {"target", std::string(x.req.target())},
                       {"headers", headers},
                       {"body", x.req.body()}};
      x.res.set(http::field::content_type, "application/json");
      x.res.body() = j.dump();
    };
    routes_["/chunked"] = [](exchange& x) {
      x.res.chunked(true);
      // Built in place: GCC 12 -O3 reports a false -Warray-bounds on string(5000, 'c') + "end".
      x.res.body().assign(5000, 'c').append("end");
    };
    routes_["/bytes/*"] = [](exchange& x) {
      x.res.body() = std::string(std::stoul(tail(x, "/bytes/")), 'x');
    };
    routes_["/delay/*"] = [](exchange& x) {
      x.delay = std::chrono::milliseconds(std::stol(tail(x, "/delay/")));
      x.res.body() = "late";
    };
    routes_["/status/*"] = [](exchange& x) {
      x.res.result(static_cast<unsigned>(std::stoul(tail(x, "/status/"))));
      if (x.res.result_int() != 204 && x.res.result_int() != 304)
        x.res.body() = "status " + tail(x, "/status/");
    };
    routes_["/redirect/*"] = [](exchange& x) {
      auto n = std::stol(tail(x, "/redirect/"));
      x.res.result(http::status::found);
      x.res.set(http::field::location, n <= 1 ? "/hello" : "/redirect/" + std::to_string(n - 1));
    };
    routes_["/loop"] = [](exchange& x) {
      x.res.result(http::status::found);
      x.res.set(http::field::location, "/loop");
    };
    routes_["/gzip"] = [](exchange& x) {
      std::string text;
      for (int i = 0; i < 200; ++i) text += "hello gzip ";
      x.res.set(http::field::content_encoding, "gzip");
      x.res.body() = compress(text, zwrap::gzip, Z_BEST_SPEED);
    };
    routes_["/deflate"] = [](exchange& x) {
      x.res.set(http::field::content_encoding, "deflate");
      x.res.body() = compress("hello deflate", zwrap::zlib, Z_BEST_SPEED);
    };
    routes_["/bomb"] = [](exchange& x) {
      static const std::string bomb =
          compress(std::string(20 << 20, '\0'), zwrap::gzip, Z_BEST_SPEED);
      x.res.set(http::field::content_encoding, "gzip");
      x.res.body() = bomb;
    };
    routes_["/close"] = [](exchange& x) {
      x.close = true;
      x.res.body() = "closing";
    };
    routes_["/keepalive/*"] = [](exchange& x) {
      x.res.set(http::field::keep_alive, "timeout=" + tail(x, "/keepalive/"));
      x.res.body() = "ka";
    };
    routes_["/bigheader"] = [](exchange& x) {
      // Beast caps one field's size; many fields make the block large.
      for (int i = 0; i < 40; ++i)
        x.res.insert("x-big-" + std::to_string(i), std::string(2000, 'h'));
      x.res.body() = "big header";
    };
    routes_["/garbage"] = [](exchange& x) { x.raw = "HTTP/1.1 abc nonsense\r\n\r\n"; };
    routes_["/drop"] = [](exchange& x) { x.drop = true; };
  }

  options opts_;
  asio::io_context io_;
  std::optional<asio::ssl::context> ssl_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::set<asio::ip::tcp::socket*> sockets_;  // touched only on the server thread
  mutable std::mutex mutex_;
  std::map<std::string, route_handler> routes_;
  http::request<http::string_body> last_;
  std::string last_sni_;
  std::atomic<std::size_t> accepted_{0}, requests_{0}, open_{0}, peak_{0}, resumed_{0};
};

}  // namespace fanout::test

#endif
