#ifndef FANOUT_HTTP_DETAIL_SANSIO_REQUEST_BUILDER_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_REQUEST_BUILDER_HPP

// The checks a request passes before any I/O, and the message built from it: pure functions, so
// that a fuzzer and unit tests reach exactly what the session sends.

#include <fanout/config.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/options.hpp>
#include <fanout/http/request.hpp>
#include <fanout/http/url.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory_resource>
#include <string>
#include <string_view>

namespace fanout::detail {

// RFC 9110 token characters, for methods and header names.
inline bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c >= '0' && c <= '9') continue;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') continue;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '%':
      case '&':
      case '\'':
      case '*':
      case '+':
      case '-':
      case '.':
      case '^':
      case '_':
      case '`':
      case '|':
      case '~': continue;
      default: return false;
    }
  }
  return true;
}

inline bool is_safe_value(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The fields allocate from an arena in the sending coroutine's frame (see session_impl::run_once).
using request_fields = boost::beast::http::basic_fields<std::pmr::polymorphic_allocator<char>>;
using request_message =
    boost::beast::http::request<boost::beast::http::string_body, request_fields>;

/// Validates `method`, the headers of `req` and `url`, then builds the message to send into `m`
/// (the body is moved out of `req`). On failure returns `http_errc::invalid_request` or
/// `http_errc::invalid_url` and says why in `what`; `m` is not to be sent then. `decompress` tells
/// whether the response is to be inflated (the session asked for gzip/deflate itself).
inline boost::system::error_code build_request(const std::string& method, std::string_view url,
                                               fanout::request& req, const session_options& options,
                                               url_parts& where, request_message& m,
                                               bool& decompress, std::string& what) {
  namespace http = boost::beast::http;
  if (!is_token(method)) {
    what = "invalid method \"" + method + "\"";
    return make_error_code(http_errc::invalid_request);
  }
  for (auto const& [name, value] : req.headers) {
    if (!is_token(name)) {
      what = "invalid header name \"" + name + "\"";
      return make_error_code(http_errc::invalid_request);
    }
    if (!is_safe_value(value)) {
      what = "header \"" + name + "\" has a CR, LF or NUL in its value";
      return make_error_code(http_errc::invalid_request);
    }
  }
  {
    std::string why;
    if (parse_url(url, where, why)) {
      what = "invalid URL: " + why;
      return make_error_code(http_errc::invalid_url);
    }
  }

  m.method_string(method);
  m.target(where.target);
  m.version(11);
  bool user_host = false, user_agent = false, user_encoding = false, user_authorization = false;
  for (auto const& [name, value] : req.headers) {
    user_host |= boost::beast::iequals(name, "host");
    user_agent |= boost::beast::iequals(name, "user-agent");
    user_encoding |= boost::beast::iequals(name, "accept-encoding");
    user_authorization |= boost::beast::iequals(name, "authorization");
  }
  if (!user_host) m.set(http::field::host, where.host_header);
  // The URL's userinfo, unless the request says its own Authorization (as curl does).
  if (!user_authorization && !where.authorization.empty())
    m.set(http::field::authorization, where.authorization);
  if (!user_agent && !options.user_agent.empty())
    m.set(http::field::user_agent, options.user_agent);
  decompress = options.decompress && !user_encoding;
  if (decompress) m.set(http::field::accept_encoding, "gzip, deflate");
  if (!options.keep_alive) m.set(http::field::connection, "close");
  for (auto const& [name, value] : req.headers) m.insert(name, value);
  if (req.json) {
    m.body() = req.json->dump();
    if (m.find(http::field::content_type) == m.end())
      m.set(http::field::content_type, "application/json");
  } else {
    m.body() = std::move(req.body);
  }
  // Beast's prepare_payload() throws on this one (RFC 9110 9.3.8); say it as an error instead.
  if (m.method() == http::verb::trace && !m.body().empty()) {
    what = "a TRACE request cannot have a body";
    return make_error_code(http_errc::invalid_request);
  }
  if (m.find(http::field::transfer_encoding) == m.end()) {
    m.prepare_payload();
    return {};
  }
  // The caller's own Transfer-Encoding is kept, as curl keeps it (prepare_payload would replace
  // it with a Content-Length). It must end with chunked, or a server cannot find the body's
  // end (RFC 9112 6.3), and it excludes a Content-Length (RFC 9112 6.2: "A sender MUST NOT
  // send a Content-Length header field in any message that contains a Transfer-Encoding").
  if (!m.chunked()) {
    what = "a request's Transfer-Encoding must end with chunked (RFC 9112 6.3)";
    return make_error_code(http_errc::invalid_request);
  }
  m.erase(http::field::content_length);
  return {};
}

}  // namespace fanout::detail

#endif
