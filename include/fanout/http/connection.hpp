#ifndef FANOUT_HTTP_CONNECTION_HPP
#define FANOUT_HTTP_CONNECTION_HPP

#include <fanout/config.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/response.hpp>
#include <fanout/http/tls.hpp>
#include <fanout/http/url.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/socket.h>
#include <cerrno>
#endif

namespace fanout::detail {

/// One HTTP/1.1 connection (plain or TLS) to one origin, with its own strand.
///
/// Every operation on it runs as a coroutine on `strand()`: the session `co_spawn`s there, so
/// Beast's timer (which closes the socket when a deadline passes) never races the socket. One
/// request at a time: the pool hands a connection to one request only. The read buffer and the
/// verify callback are set up once per connection and reused by every request on it.
class connection : public std::enable_shared_from_this<connection> {
 public:
  using clock = std::chrono::steady_clock;
  using strand_type = boost::asio::strand<boost::asio::any_io_executor>;
  using message = boost::beast::http::response<boost::beast::http::string_body>;
  using request_message = boost::beast::http::request<boost::beast::http::string_body>;

  /// What a step reports besides its error code.
  struct outcome {
    boost::system::error_code ec;   ///< classified (see `detail::classify`)
    boost::system::error_code raw;  ///< as the socket or parser reported it
    std::string what;               ///< human description when `ec` is set
    stage where = stage::connect;
    bool got_response_bytes = false;  ///< for the stale-connection retry rule
  };

  connection(const boost::asio::any_io_executor& ex, const url_parts& where)
      : strand_(boost::asio::make_strand(ex)),
        origin_(where.origin),
        host_(where.host),
        https_(where.https) {
    tcp_.emplace(strand_);
  }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { mark_clean_shutdown(); }

  strand_type& strand() noexcept { return strand_; }
  const std::string& origin() const noexcept { return origin_; }
  /// Requests completed on this connection.
  std::size_t requests() const noexcept { return requests_; }
  /// Set from the server's `Keep-Alive: timeout=N`: the idle deadline must not pass this.
  std::optional<clock::duration> server_idle_timeout;

  /// Connects to the first reachable endpoint, then (for https) does the TLS handshake with
  /// SNI, peer and host name verification, and session resumption. Runs on `strand()`.
  boost::asio::awaitable<outcome> connect(
      const boost::asio::ip::tcp::resolver::results_type& endpoints, tls_context* tls, bool verify,
      clock::time_point deadline, fanout::timings& t) {
    namespace asio = boost::asio;
    outcome o;
    boost::system::error_code ec;
    auto t0 = clock::now();
    tcp_->expires_at(deadline);
    co_await tcp_->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    auto t1 = clock::now();
    t.connect += t1 - t0;
    if (ec) {
      o.where = stage::connect;
      o.ec = classify(ec, stage::connect, X509_V_OK, o.what);
      co_return o;
    }
    tcp_->socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if (!https_) co_return o;

    tls_.emplace(std::move(*tcp_), tls->native());
    tcp_.reset();
    SSL* ssl = tls_->native_handle();
    tls->prepare(ssl, host_, origin_);
    if (verify) tls_->set_verify_callback(verify_host(host_));
    co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                   asio::redirect_error(asio::use_awaitable, ec));
    t.tls += clock::now() - t1;
    if (ec) {
      o.where = stage::tls;
      o.ec = classify(ec, stage::tls, SSL_get_verify_result(ssl), o.what);
      co_return o;
    }
    tls_resumed_ = SSL_session_reused(ssl) == 1;
    tls_clean_ = true;
    co_return o;
  }

  /// Sends `req` and reads the whole response into `out` (body bounded by `max_body`, header
  /// block by `max_header`), all before `deadline`. Runs on `strand()`.
  boost::asio::awaitable<outcome> exchange(const request_message& req, bool head,
                                           std::size_t max_header, std::size_t max_body,
                                           clock::time_point deadline, message& out,
                                           fanout::timings& t) {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    outcome o;
    boost::system::error_code ec;
    stream().expires_at(deadline);
    auto const sent = clock::now();
    if (tls_)
      co_await http::async_write(*tls_, req, asio::redirect_error(asio::use_awaitable, ec));
    else
      co_await http::async_write(*tcp_, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      o.where = stage::write;
      o.ec = classify(ec, stage::write, X509_V_OK, o.what);
      o.raw = ec;
      tls_clean_ = false;
      co_return o;
    }
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(max_header, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(max_body);
    if (head) parser_->skip(true);
    if (tls_)
      co_await http::async_read_header(*tls_, buffer_, *parser_,
                                       asio::redirect_error(asio::use_awaitable, ec));
    else
      co_await http::async_read_header(*tcp_, buffer_, *parser_,
                                       asio::redirect_error(asio::use_awaitable, ec));
    t.ttfb = clock::now() - sent;
    if (!ec && !parser_->is_done()) {
      if (tls_)
        co_await http::async_read(*tls_, buffer_, *parser_,
                                  asio::redirect_error(asio::use_awaitable, ec));
      else
        co_await http::async_read(*tcp_, buffer_, *parser_,
                                  asio::redirect_error(asio::use_awaitable, ec));
    }
    o.got_response_bytes = parser_->got_some();
    if (ec) {
      o.where = stage::read;
      o.ec = classify(ec, stage::read, X509_V_OK, o.what);
      o.raw = ec;
      parser_.reset();
      tls_clean_ = false;
      co_return o;
    }
    out = parser_->release();
    parser_.reset();
    stream().expires_never();
    ++requests_;
    co_return o;
  }

  /// True when nothing is left unread: a response was consumed exactly, so the connection can
  /// carry the next request.
  bool clean() const noexcept { return buffer_.size() == 0; }

  /// Whether an idle pooled connection still looks usable: false when the server has closed it
  /// (or, over plain HTTP, sent bytes nobody asked for). A non-blocking peek, no I/O wait.
  bool alive() {
    auto& sock = stream().socket();
    if (!sock.is_open()) return false;
#if defined(__unix__) || defined(__APPLE__)
    char c;
    auto n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    // TLS may legitimately have a late session ticket pending; a close_notify there fails the
    // request before any response byte, and the stale-connection retry covers it.
    return tls_.has_value();
#else
    boost::system::error_code ec;
    return sock.available(ec) == 0 && !ec;
#endif
  }

  bool tls_resumed() const noexcept {
    return tls_resumed_;
  }

  /// Closes the socket at once (no TLS close_notify: like browsers, we do not wait for the
  /// peer). Cancels whatever is pending. Call on `strand()`.
  void close() noexcept {
    mark_clean_shutdown();
    boost::system::error_code ec;
    auto& sock = stream().socket();
    sock.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    sock.close(ec);
  }

  /// Cancels pending operations (they complete with `operation_aborted`). Call on `strand()`.
  void cancel() noexcept {
    stream().cancel();
  }

  boost::beast::tcp_stream& stream() noexcept {
    return tls_ ? tls_->next_layer() : *tcp_;
  }

 private:
  // OpenSSL marks the TLS session of an SSL freed without a shutdown as not resumable. We close
  // without close_notify (as browsers do), so a connection that ended well says so, and its
  // session stays in the resumption cache; one that failed does not.
  void mark_clean_shutdown() noexcept {
    if (tls_ && tls_clean_) SSL_set_shutdown(tls_->native_handle(), SSL_SENT_SHUTDOWN);
  }

  strand_type strand_;
  std::string origin_;
  std::string host_;
  bool https_;
  bool tls_resumed_ = false;
  bool tls_clean_ = false;
  std::size_t requests_ = 0;
  std::optional<boost::beast::tcp_stream> tcp_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;

 public:
  // Intrusive list of the session's open connections, so close() can reach each one.
  connection* prev_ = nullptr;
  connection* next_ = nullptr;
};

}  // namespace fanout::detail

#endif
