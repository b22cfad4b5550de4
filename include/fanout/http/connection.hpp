#ifndef FANOUT_HTTP_CONNECTION_HPP
#define FANOUT_HTTP_CONNECTION_HPP

#include <fanout/config.hpp>
#include <fanout/detail/http/proxy.hpp>
#include <fanout/detail/http/request_builder.hpp>
#include <fanout/detail/http/strand_executor.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/response.hpp>
#include <fanout/http/tls.hpp>
#include <fanout/http/url.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <memory_resource>
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
  // I/O objects typed on the strand itself (see strand_executor for why not any_io_executor).
  using strand_type = strand_executor;
  using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, strand_type>;
  using tls_stream_type = boost::asio::ssl::stream<socket_type>;
  using timer_type =
      boost::asio::basic_waitable_timer<clock, boost::asio::wait_traits<clock>, strand_type>;
  template <class T>
  using awaitable = boost::asio::awaitable<T, strand_type>;
  static constexpr boost::asio::use_awaitable_t<strand_type> use_strand{};
  using message = response::message_type;
  using request_fields = ::fanout::detail::request_fields;
  using request_message = ::fanout::detail::request_message;

  /// What a step reports besides its error code.
  struct outcome {
    boost::system::error_code ec;   ///< classified (see `detail::classify`)
    boost::system::error_code raw;  ///< as the socket or parser reported it
    std::string what;               ///< human description when `ec` is set
    stage where = stage::connect;
    bool got_response_bytes = false;  ///< for the stale-connection retry rule
  };

  connection(const boost::asio::any_io_executor& ex, const url_parts& where)
      : strand_(ex),
        origin_(where.origin),
        host_(where.host),
        https_(where.https),
        watchdog_(strand_) {
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
  /// Set before `connect()` for https through a proxy: the endpoints are the proxy's, and a
  /// CONNECT tunnel is opened before the TLS handshake (which still verifies the origin).
  std::optional<tunnel_target> tunnel;

  /// Connects to the first reachable endpoint, then (for https) does the TLS handshake with
  /// SNI, peer and host name verification, and session resumption. Runs on `strand()`.
  awaitable<outcome> connect(const boost::asio::ip::tcp::resolver::results_type& endpoints,
                             tls_context* tls, bool verify, clock::time_point deadline,
                             fanout::timings& t) {
    namespace asio = boost::asio;
    outcome o;
    boost::system::error_code ec;
    auto t0 = clock::now();
    arm(deadline);
    co_await asio::async_connect(*tcp_, endpoints, asio::redirect_error(use_strand, ec));
    auto t1 = clock::now();
    t.connect += t1 - t0;
    if (ec) {
      disarm();
      o.where = stage::connect;
      o.ec = classify(timed_out(ec), stage::connect, X509_V_OK, o.what);
      co_return o;
    }
    tcp_->set_option(asio::ip::tcp::no_delay(true), ec);
    if (tunnel) {
      auto const tunnel_ec =
          co_await async_open_tunnel(*tcp_, buffer_, *tunnel, std::size_t(64) << 10, o.what);
      if (tunnel_ec) {
        disarm();
        o.where = stage::connect;
        o.raw = timed_out(tunnel_ec);
        o.ec = tunnel_ec == errc::proxy ? tunnel_ec
                                        : classify(o.raw, stage::connect, X509_V_OK, o.what);
        co_return o;
      }
      t.connect += clock::now() - t1;
      t1 = clock::now();
    }
    if (!https_) {
      disarm();
      co_return o;
    }

    tls_.emplace(std::move(*tcp_), tls->native());
    tcp_.reset();
    SSL* ssl = tls_->native_handle();
    tls->prepare(ssl, host_, origin_);
    if (verify) tls_->set_verify_callback(verify_host(host_));
    co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                   asio::redirect_error(use_strand, ec));
    disarm();
    t.tls += clock::now() - t1;
    if (ec) {
      o.where = stage::tls;
      o.ec = classify(timed_out(ec), stage::tls, SSL_get_verify_result(ssl), o.what);
      co_return o;
    }
    tls_resumed_ = SSL_session_reused(ssl) == 1;
    tls_clean_ = true;
    co_return o;
  }

  /// Sends `req` and reads the whole response into `out` (body bounded by `max_body`, header
  /// block by `max_header`), all before `deadline`. Runs on `strand()`.
  awaitable<outcome> exchange(const request_message& req, bool head, std::size_t max_header,
                              std::size_t max_body, clock::time_point deadline, message& out,
                              fanout::timings& t) {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    outcome o;
    boost::system::error_code ec;
    arm(deadline);
    auto const sent = clock::now();
    // In the coroutine frame (recycled by Asio), not heap-allocated per write as the message
    // overload of async_write does.
    http::request_serializer<http::string_body, request_fields> sr(req);
    if (tls_)
      co_await http::async_write(*tls_, sr, asio::redirect_error(use_strand, ec));
    else
      co_await http::async_write(*tcp_, sr, asio::redirect_error(use_strand, ec));
    if (ec) {
      disarm();
      o.where = stage::write;
      o.raw = timed_out(ec);
      o.ec = classify(o.raw, stage::write, X509_V_OK, o.what);
      tls_clean_ = false;
      co_return o;
    }
    // Sized from the previous response's headers on this connection, plus a margin.
    parser_.emplace(std::piecewise_construct, std::make_tuple(),
                    std::make_tuple(header_allocator<char>::with_arena(header_bytes_ + 64)));
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(max_header, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(max_body);
    if (head) parser_->skip(true);
    if (tls_)
      co_await http::async_read_header(*tls_, buffer_, *parser_,
                                       asio::redirect_error(use_strand, ec));
    else
      co_await http::async_read_header(*tcp_, buffer_, *parser_,
                                       asio::redirect_error(use_strand, ec));
    t.ttfb = clock::now() - sent;
    if (!ec && !parser_->is_done()) {
      if (tls_)
        co_await http::async_read(*tls_, buffer_, *parser_, asio::redirect_error(use_strand, ec));
      else
        co_await http::async_read(*tcp_, buffer_, *parser_, asio::redirect_error(use_strand, ec));
    }
    disarm();
    o.got_response_bytes = parser_->got_some();
    if (ec) {
      o.where = stage::read;
      o.raw = timed_out(ec);
      o.ec = classify(o.raw, stage::read, X509_V_OK, o.what);
      parser_.reset();
      tls_clean_ = false;
      co_return o;
    }
    // A body delimited by the end of the connection leaves nothing to reuse.
    reusable_ = !parser_->need_eof();
    out = parser_->release();
    header_bytes_ = std::clamp<std::size_t>(out.get_allocator().bytes_used(), 256, 16 << 10);
    parser_.reset();
    ++requests_;
    co_return o;
  }

  /// True when nothing is left unread: a response was consumed exactly, so the connection can
  /// carry the next request.
  bool clean() const noexcept { return reusable_ && buffer_.size() == 0; }

  /// Whether an idle pooled connection still looks usable: false when the server has closed it
  /// (or, over plain HTTP, sent bytes nobody asked for). A non-blocking peek, no I/O wait.
  bool alive() {
    auto& sock = socket();
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
    auto& sock = socket();
    sock.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    sock.close(ec);
    watchdog_.cancel();
  }

  socket_type& socket() noexcept {
    return tls_ ? tls_->next_layer() : *tcp_;
  }

 private:
  // The deadline of the operations in flight: when it passes, the socket's operations are
  // cancelled and report `error::timeout`. Runs on the strand, like the operations.
  void arm(clock::time_point deadline) {
    timed_out_ = false;
    if (deadline == clock::time_point::max()) return;
    watchdog_.expires_at(deadline);
    watchdog_.async_wait(
        [self = weak_from_this(), gen = ++generation_](boost::system::error_code ec) {
          auto c = self.lock();
          if (ec || !c || c->generation_ != gen) return;
          c->timed_out_ = true;
          boost::system::error_code ignored;
          c->socket().cancel(ignored);
        });
  }
  void disarm() noexcept {
    ++generation_;
    watchdog_.cancel();
  }
  boost::system::error_code timed_out(boost::system::error_code ec) const noexcept {
    if (timed_out_ && ec) return boost::beast::error::timeout;
    return ec;
  }

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
  bool reusable_ = true;
  std::size_t requests_ = 0;
  std::optional<socket_type> tcp_;
  std::optional<tls_stream_type> tls_;
  timer_type watchdog_;
  std::uint64_t generation_ = 0;
  bool timed_out_ = false;
  std::size_t header_bytes_ = 768;  // what the last response's header fields took
  boost::beast::flat_buffer buffer_;
  std::optional<
      boost::beast::http::response_parser<boost::beast::http::string_body, header_allocator<char>>>
      parser_;

 public:
  // Intrusive list of the session's open connections, so close() can reach each one.
  connection* prev_ = nullptr;
  connection* next_ = nullptr;
};

}  // namespace fanout::detail

#endif
