#ifndef FANOUT_HTTP_ERROR_HPP
#define FANOUT_HTTP_ERROR_HPP

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <openssl/x509.h>

#include <string>
#include <string_view>

namespace fanout {

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
FANOUT_DECL bool is_stale_connection_error(const boost::system::error_code& ec) noexcept {
  namespace ae = boost::asio::error;
  return ec == ae::eof || ec == ae::connection_reset || ec == ae::broken_pipe ||
         ec == ae::connection_aborted || ec == ae::not_connected ||
         ec == boost::beast::http::error::end_of_stream ||
         ec == boost::asio::ssl::error::stream_truncated;
}

/// Where in a request an error happened, for the code and the message.
enum class stage { resolve, connect, tls, write, read, decode };

/// Turns a low-level code into what fanout reports: Beast's timeout becomes `errc::timeout`,
/// size limits `body_too_large`/`headers_too_large`, parse errors `protocol`, handshake
/// failures `tls`; socket codes such as `connection_refused` stay as they are. `what` gets a
/// human description.
FANOUT_DECL boost::system::error_code classify(boost::system::error_code ec, stage where,
                                               long verify_result, std::string& what) {
  namespace http = boost::beast::http;
  static constexpr const char* stage_names[] = {"resolving the host",   "connecting",
                                                "the TLS handshake",    "sending the request",
                                                "reading the response", "decoding the body"};
  const char* during = stage_names[static_cast<int>(where)];
  if (ec == boost::beast::error::timeout || ec == errc::timeout) {
    what = std::string("timed out while ") + during;
    return make_error_code(errc::timeout);
  }
  if (ec == boost::asio::error::operation_aborted || ec == errc::cancelled) {
    what = std::string("cancelled while ") + during;
    return make_error_code(errc::cancelled);
  }
  if (ec == http::error::body_limit) {
    what = "response body larger than max_body_bytes";
    return make_error_code(errc::body_too_large);
  }
  if (ec == http::error::header_limit) {
    what = "response headers larger than max_header_bytes";
    return make_error_code(errc::headers_too_large);
  }
  if (where == stage::tls) {
    what = "TLS handshake failed: " + ec.message();
    if (verify_result != X509_V_OK) {
      what += " (";
      what += X509_verify_cert_error_string(verify_result);
      what += ")";
    }
    return make_error_code(errc::tls);
  }
  if (ec.category() == boost::system::error_code(http::error::end_of_stream).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    what = "invalid HTTP response: " + ec.message();
    return make_error_code(errc::protocol);
  }
  if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) {
    what = std::string("connection closed by the server while ") + during;
    return ec;
  }
  if (ec == http::error::partial_message) {
    what = "connection closed by the server before the end of the response";
    return make_error_code(errc::protocol);
  }
  if (ec == boost::asio::ssl::error::stream_truncated) {
    what = std::string("TLS stream truncated while ") + during;
    return ec;
  }
  if (where == stage::resolve)
    what = "could not resolve host: " + ec.message();
  else
    what = ec.message() + " (while " + during + ")";
  return ec;
}

}  // namespace detail

FANOUT_DECL bool is_retryable(const boost::system::error_code& ec) noexcept {
  namespace ae = boost::asio::error;
  return ec == errc::timeout || ec == errc::connect || detail::is_stale_connection_error(ec) ||
         ec == ae::connection_refused || ec == ae::timed_out || ec == ae::host_unreachable ||
         ec == ae::network_unreachable || ec == ae::network_down || ec == ae::try_again ||
         ec == ae::host_not_found_try_again;
}

FANOUT_DECL bool is_idempotent(std::string_view m) noexcept {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" || m == "TRACE";
}

}  // namespace fanout

#endif
