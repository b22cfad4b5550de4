#ifndef FANOUT_HTTP_TRANSPORT_HPP
#define FANOUT_HTTP_TRANSPORT_HPP

// The seam between a session's request policy and the wire.
//
// Above it, `fanout::session` (http/impl/session.ipp) decides everything that is the same
// whatever carries the bytes: building and validating the request, proxies, rate-limit tokens,
// the redirect hops, retries and their waits, decompression, `raise_for_status`, deadlines and
// cancellation. Below it, a transport runs one exchange: it sends one hop's request and hands
// back that hop's response, or why not. The session never sees a connection: a transport
// grants capacity as it can (the HTTP/1.1 transport checks a pooled connection out per
// exchange; an HTTP/2 one would open a stream on a shared connection), and it alone decides
// when its connections are reusable.
//
// Transports: the pooled HTTP/1.1 + TLS one (http/detail/http1/transport.hpp, the default) and
// `fanout::testing::mock_transport` (<fanout/testing/mock_transport.hpp>), which answers from a
// function and opens no socket.

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/proxy.hpp>
#include <fanout/http/detail/sansio/request_builder.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/response.hpp>
#include <fanout/http/stats.hpp>
#include <fanout/http/url.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace fanout {

/// Where a response body goes as it arrives, instead of into the response: a download's file,
/// a caller's callback (`request::sink`). The session implements it, a transport feeds it.
class exchange_sink {
 public:
  /// The final response's head arrived (`head`: status and fields, no body yet). True: its
  /// body goes to `async_write`, piece by piece, and `*exchange_request::out` receives the head
  /// with an empty body. False: the body goes into `*out`, as without a sink (a redirect the
  /// session will follow, a status it will retry). Must not throw.
  virtual bool take(const detail::response_block& head) = 0;
  /// One piece of the body as received: de-chunked, still content-coded; valid until `done`.
  /// The transport reads no further until `done(ec)` is called (back-pressure); a code ends the
  /// exchange with it as its error, and the connection is not reused. `done` is never called
  /// inside `async_write` itself, and always through its associated executor (dispatch).
  virtual void async_write(
      std::string_view piece,
      boost::asio::any_completion_handler<void(boost::system::error_code)> done) = 0;
  /// The exchange was cancelled or timed out while a piece is in progress: end it soon (its
  /// `done` with an error). Called on the transport's executor; must not throw.
  virtual void cancel() noexcept {}

 protected:
  ~exchange_sink() = default;
};

/// Where a request body comes from when the session streams it (`request::upload`). The
/// session implements it, a transport reads it; the message's head already says its framing
/// (Content-Length, or Transfer-Encoding: chunked, which the transport then applies).
class exchange_source {
 public:
  /// The next bytes of the body into `into` (not empty); `n` == 0: the body is complete.
  /// `done` is never called inside `async_read` itself, always through its associated
  /// executor; `into` stays valid until then. A code fails the exchange with it.
  virtual void async_read(
      std::span<char> into,
      boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)> done) = 0;
  /// Back to the first byte, for the body to be sent again (a stale connection's resend);
  /// false when it cannot be (a one-shot producer that gave bytes already).
  virtual bool rewind() = 0;
  /// As `exchange_sink::cancel`, for a read in progress.
  virtual void cancel() noexcept {}

 protected:
  ~exchange_source() = default;
};

/// One exchange, as the session hands it to a transport: one hop's request, where it goes, its
/// limits and deadline, and where its response goes. Everything it points to outlives the
/// exchange (the session's coroutine awaits it).
struct exchange_request {
  /// The request to send: method, target (absolute-form through a plain-HTTP proxy), fields
  /// (Host, User-Agent, Accept-Encoding and the caller's), body with its Content-Length.
  const detail::request_message* message = nullptr;
  const url_parts* where = nullptr;             ///< this hop's origin and target, parsed
  const detail::proxy_endpoint* via = nullptr;  ///< the proxy to go through, or null
  /// What connections are keyed by: `*where`, or its proxied form when `via` is set.
  const url_parts* dial = nullptr;
  std::string_view url{};      ///< this hop's URL (with its password, if any)
  std::string_view shown{};    ///< the same as messages and `response::url()` show it (no password)
  std::string_view method{};   ///< as sent
  std::size_t max_header = 0;  ///< the response's header block limit, in bytes
  std::size_t max_body = 0;    ///< the response's body limit, in bytes (as received)
  std::chrono::steady_clock::time_point deadline;  ///< for the whole exchange; max(): none
  detail::block_ptr* out = nullptr;                ///< receives the response: head and whole body
  /// Where the final response's body goes when it `take`s it; null: into `*out`. The limit
  /// of a body it takes is `max_sink_body`, not `max_body`.
  exchange_sink* sink = nullptr;
  std::uint64_t max_sink_body = 0;  ///< bytes (as received); only with `sink`
  /// The request's body when streamed (the message's own body is then empty); null: none.
  exchange_source* upload = nullptr;
  /// The transport fills what it measures: pool_wait, dns, connect, tls, ttfb, body, reused,
  /// tls_resumed (the session sets `total`).
  timings* t = nullptr;
};

/// How an exchange ended.
struct exchange_result {
  /// Empty: `*out` holds the response. Otherwise fanout's classification: `errc::timeout`
  /// (the deadline passed), `errc::cancelled`, `http_errc::connect`, `tls`, `protocol`,
  /// `body_too_large`, ..., or the system's own code (`connection_refused`).
  boost::system::error_code ec;
  /// When `ec` is set: what failed, for the request's message ("connection refused (while
  /// connecting)"); the session prefixes the method and URL.
  std::string what;
  /// Requests this exchange sent, or began to: usually 1, 2 after a transparent re-send on a
  /// fresh connection, 0 when none left the client. Counted in `session_stats::requests` and
  /// `response::attempts()`.
  int sent = 0;
  /// The final response's body bytes as received (de-chunked, still content-coded), whether
  /// they went to `*out` or to the sink.
  std::uint64_t received = 0;
};

/// A way to carry a session's exchanges. Implementations are fanout's (see the top of this
/// file); the interface may still change before 1.0.
///
/// Thread safety: a session calls `async_exchange` from any thread of its executor, for many
/// exchanges at once; an implementation synchronises its own state.
class transport {
 public:
  virtual ~transport() = default;

  /// Runs one exchange of `x`.
  ///
  /// - Completion: when the response is read whole into `*x.out`, or the exchange failed
  ///   (`exchange_result::ec`). It never throws for an I/O failure; it may throw for a bug,
  ///   `std::bad_alloc`, or what a mock's handler threw, which the session reports as the
  ///   request's error.
  /// - Executor: the awaiting coroutine's; the transport may run its I/O elsewhere (the
  ///   HTTP/1.1 transport uses each connection's strand) and resumes the caller on its own.
  /// - Deadline: `x.deadline` bounds the whole exchange; passing it completes with
  ///   `errc::timeout`.
  /// - Cancellation: the awaiting coroutine's cancellation slot (terminal) ends the exchange
  ///   with `errc::cancelled`; a connection cancelled mid-exchange is not reused.
  /// - Lifetimes: `x` and what it points to stay valid until completion; the transport must
  ///   outlive every exchange it runs (the session holds it).
  virtual boost::asio::awaitable<exchange_result> async_exchange(exchange_request x) = 0;

  /// The owning session was closed: exchanges waiting for capacity fail with
  /// `errc::cancelled`, idle connections close. Called only on a transport the session made
  /// itself (the default one), never on one given in `session_options::transport`.
  virtual void close() noexcept {}

  /// Adds what the transport counts to `s` (connections, stale detections, DNS, TLS). The
  /// session asks only a transport it made itself.
  virtual void add_stats(session_stats& s) const { (void)s; }
};

namespace detail {

/// `now + limit`, where a limit of 0 (or one too long to matter) is none (`time_point::max()`).
inline std::chrono::steady_clock::time_point deadline_after(
    std::chrono::steady_clock::time_point now, std::chrono::milliseconds limit) {
  if (limit.count() <= 0 || limit >= std::chrono::hours(24 * 365))
    return std::chrono::steady_clock::time_point::max();
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
}

}  // namespace detail

}  // namespace fanout

#endif
