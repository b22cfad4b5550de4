#ifndef FANOUT_HTTP_DETAIL_NET_CLASSIFY_HPP
#define FANOUT_HTTP_DETAIL_NET_CLASSIFY_HPP

// What a failed step of an exchange reports: the low-level code of Asio, Beast or OpenSSL turned
// into fanout's code and a message that names the step.

#include <fanout/config.hpp>
#include <fanout/http/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <openssl/x509.h>

#include <string>

namespace fanout::detail {

/// Where in a request an error happened, for the code and the message.
enum class stage { resolve, connect, tls, write, read, decode };

/// Turns a low-level code into what fanout reports: Beast's timeout becomes `errc::timeout`,
/// size limits `body_too_large`/`headers_too_large`, parse errors `protocol`, handshake
/// failures `tls`; socket codes such as `connection_refused` stay as they are. `what` gets a
/// human description.
inline boost::system::error_code classify(boost::system::error_code ec, stage where,
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
    return make_error_code(http_errc::body_too_large);
  }
  if (ec == http::error::header_limit) {
    what = "response headers larger than max_header_bytes";
    return make_error_code(http_errc::headers_too_large);
  }
  if (where == stage::tls) {
    what = "TLS handshake failed: " + ec.message();
    if (verify_result != X509_V_OK) {
      what += " (";
      what += X509_verify_cert_error_string(verify_result);
      what += ")";
    }
    return make_error_code(http_errc::tls);
  }
  if (ec.category() == boost::system::error_code(http::error::end_of_stream).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    what = "invalid HTTP response: " + ec.message();
    return make_error_code(http_errc::protocol);
  }
  if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) {
    what = std::string("connection closed by the server while ") + during;
    return ec;
  }
  if (ec == http::error::partial_message) {
    what = "connection closed by the server before the end of the response";
    return make_error_code(http_errc::protocol);
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

}  // namespace fanout::detail

#endif
