#ifndef FANOUT_HTTP_ERROR_HPP
#define FANOUT_HTTP_ERROR_HPP

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>

#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>

namespace fanout {

/// The error codes of the HTTP layer, in the category named "fanout.http".
///
/// As with `fanout::errc`, a code Asio, OpenSSL or Beast already has is kept as it is; these name
/// what has no code of its own. Timeouts and cancellation stay `fanout::errc::timeout` and
/// `fanout::errc::cancelled`, whichever layer saw them.
enum class http_errc {
  invalid_url = 1,     ///< the URL cannot be parsed, has no host, or an unsupported scheme
  invalid_request,     ///< a header name or value with CR, LF or NUL, or a bad method
  connect,             ///< no connection could be made to any address of the host
  tls,                 ///< the TLS handshake or certificate verification failed
  protocol,            ///< the server broke HTTP/1.1 (bad status line, bad chunk, ...)
  too_many_redirects,  ///< more redirects than `max_redirects`
  redirect_refused,    ///< a redirect the options forbid (https -> http, unknown scheme)
  body_too_large,      ///< the (decompressed) body is larger than `max_body_bytes`
  headers_too_large,   ///< the response header block is larger than the limit
  decompression,       ///< the body could not be decompressed
  json,                ///< the body is not the JSON the caller asked for
  http_status,         ///< the server answered >= 400 and `raise_for_status` was set
  proxy,               ///< the proxy refused to open a CONNECT tunnel (407, 403, 502...)
  too_many_pending,    ///< `max_pending_requests` were already waiting for a connection
  resume_failed,       ///< a download cannot continue its `.part` (416, or the file changed)
};

}  // namespace fanout

template <>
struct boost::system::is_error_code_enum<fanout::http_errc> : std::true_type {};

namespace fanout {

namespace detail {

/// `fanout::http_errc`'s names and messages, in the enum's order.
inline constexpr code_text http_codes[] = {
    {"invalid_url", "invalid URL"},
    {"invalid_request", "invalid request"},
    {"connect", "could not connect"},
    {"tls", "TLS handshake or certificate verification failed"},
    {"protocol", "HTTP protocol error"},
    {"too_many_redirects", "too many redirects"},
    {"redirect_refused", "redirect refused"},
    {"body_too_large", "response body too large"},
    {"headers_too_large", "response headers too large"},
    {"decompression", "response body could not be decompressed"},
    {"json", "invalid JSON"},
    {"http_status", "HTTP error status"},
    {"proxy", "the proxy refused the connection"},
    {"too_many_pending", "too many requests waiting for a connection"},
    {"resume_failed", "the download cannot be resumed"},
};

}  // namespace detail

/// The category of `fanout::http_errc`, named "fanout.http".
FANOUT_DECL const boost::system::error_category& http_category() noexcept;

inline boost::system::error_code make_error_code(http_errc e) noexcept {
  return {static_cast<int>(e), http_category()};
}

/// True when sending the request again may succeed: connection failures and resets, timeouts,
/// a server that closed the connection. False for bad input, TLS verification, protocol and size
/// errors, cancellation. Says nothing about whether the method is safe to repeat.
FANOUT_DECL bool is_retryable(const boost::system::error_code& ec) noexcept;

/// True for the methods RFC 9110 calls idempotent: GET, HEAD, PUT, DELETE, OPTIONS, TRACE.
FANOUT_DECL bool is_idempotent(std::string_view method) noexcept;

// ---------------------------------------------------------------------------------------------

namespace detail {

/// True when a reused keep-alive connection failed in a way that means "the server had already
/// closed it": the request never reached a live peer, so an idempotent one may be re-sent.
FANOUT_DECL bool is_stale_connection_error(const boost::system::error_code& ec) noexcept;

}  // namespace detail

}  // namespace fanout

#ifndef FANOUT_SEPARATE_COMPILATION
#include <fanout/http/impl/error.ipp>
#endif

#endif
