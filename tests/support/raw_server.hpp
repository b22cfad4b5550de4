#ifndef FANOUT_TESTS_SUPPORT_RAW_SERVER_HPP
#define FANOUT_TESTS_SUPPORT_RAW_SERVER_HPP

// A loopback server that answers with scripted exact bytes, for the HTTP/1.1 conformance
// tests. It listens on 127.0.0.1 and an ephemeral port, on its own thread and io_context, and
// uses no HTTP library: it reads each request head (up to the blank line; the clients send no
// request body) and writes the reply the script has for that request, byte for byte. Plain TCP,
// or TLS when given a certificate.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace fanout::test {

/// What the server writes for one request.
struct raw_reply {
  std::string bytes;       ///< written in one write once the request head is read
  std::string after = {};  ///< then written in a second write, when not empty
  bool close = false;      ///< then the server closes the connection (TLS: no close_notify)
};

class raw_server {
 public:
  struct options {
    std::string cert_pem;  ///< TLS when set, with `key_pem`
    std::string key_pem;
  };

  /// Request number i (counted over all connections, from 0) gets `script[i]`; requests past
  /// the end of the script get the last reply.
  explicit raw_server(std::vector<raw_reply> script, const options& o = {})
      : script_(std::move(script)), acceptor_(io_) {
    if (!o.cert_pem.empty()) {
      ssl_.emplace(boost::asio::ssl::context::tls_server);
      ssl_->use_certificate_chain(boost::asio::buffer(o.cert_pem));
      ssl_->use_private_key(boost::asio::buffer(o.key_pem), boost::asio::ssl::context::pem);
    }
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen(boost::asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  raw_server(const raw_server&) = delete;
  raw_server& operator=(const raw_server&) = delete;
  ~raw_server() { stop(); }

  /// Closes the listener and every connection, and joins the thread.
  void stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto* s : sockets_) s->close(ec);
      work_.reset();
    });
    thread_.join();
  }

  /// "http://127.0.0.1:<port><path>" ("https" with TLS).
  std::string url(std::string_view path = "/") const {
    return std::string(ssl_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           std::string(path);
  }
  std::size_t connections() const noexcept { return accepted_.load(); }
  std::size_t requests() const noexcept { return requests_.load(); }
  /// How many `after` writes have completed: their bytes are then on their way to the client.
  std::size_t afters_sent() const noexcept { return afters_.load(); }
  /// The request heads received, in order.
  std::vector<std::string> request_heads() const {
    std::lock_guard lock(mutex_);
    return heads_;
  }

 private:
  using tcp = boost::asio::ip::tcp;
  template <class T>
  using awaitable = boost::asio::awaitable<T>;

  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto sock = co_await acceptor_.async_accept(
          boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) co_return;
      accepted_.fetch_add(1);
      boost::asio::co_spawn(io_, serve(std::move(sock)), boost::asio::detached);
    }
  }

  awaitable<void> serve(tcp::socket sock) {
    sockets_.insert(&sock);
    // Each write leaves at once (no Nagle delay): an `after` write is then on the client's
    // socket once afters_sent() counts it.
    boost::system::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    if (ssl_) {
      boost::asio::ssl::stream<tcp::socket&> tls(sock, *ssl_);
      boost::system::error_code ec;
      co_await tls.async_handshake(boost::asio::ssl::stream_base::server,
                                   boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (!ec) co_await answer(tls);
    } else {
      co_await answer(sock);
    }
    sockets_.erase(&sock);
    boost::system::error_code ec;
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
  }

  template <class Stream>
  static awaitable<bool> send(Stream& s, std::string_view data) {
    boost::system::error_code ec;
    co_await boost::asio::async_write(s, boost::asio::buffer(data),
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    co_return !ec;
  }

  template <class Stream>
  awaitable<void> answer(Stream& s) {
    std::string in;
    for (;;) {
      boost::system::error_code ec;
      auto n = co_await boost::asio::async_read_until(
          s, boost::asio::dynamic_buffer(in, 1 << 16), "\r\n\r\n",
          boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) co_return;
      raw_reply reply;
      {
        std::lock_guard lock(mutex_);
        heads_.push_back(in.substr(0, n));
        auto const i = requests_.fetch_add(1);
        if (!script_.empty()) reply = script_[std::min(i, script_.size() - 1)];
      }
      in.erase(0, n);
      if (!co_await send(s, reply.bytes)) co_return;
      if (!reply.after.empty()) {
        if (!co_await send(s, reply.after)) co_return;
        afters_.fetch_add(1);
      }
      if (reply.close) co_return;
    }
  }

  std::vector<raw_reply> script_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::optional<boost::asio::ssl::context> ssl_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::set<tcp::socket*> sockets_;  // touched on the server thread only
  mutable std::mutex mutex_;
  std::vector<std::string> heads_;
  std::atomic<std::size_t> accepted_{0}, requests_{0}, afters_{0};
};

}  // namespace fanout::test

#endif
