#ifndef FANOUT_HTTP_RESPONSE_HPP
#define FANOUT_HTTP_RESPONSE_HPP

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>
#include <fanout/detail/http/header_arena.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace fanout {

namespace detail {
struct response_access;
}

/// Where the time of one request went. Durations of steps that did not happen (DNS on a reused
/// connection, TLS over http) are zero; with redirects they add up over every hop.
struct timings {
  using duration = std::chrono::steady_clock::duration;
  duration pool_wait{};      ///< waiting for a connection slot (caps reached)
  duration dns{};            ///< resolving the host (zero when cached)
  duration connect{};        ///< TCP connect
  duration tls{};            ///< TLS handshake
  duration ttfb{};           ///< from sending the request to the first response byte (last hop)
  duration total{};          ///< the whole request
  bool reused = false;       ///< the final hop ran on a pooled keep-alive connection
  bool tls_resumed = false;  ///< the final hop's TLS session was resumed (abbreviated handshake)
};

/// A response's header fields: Beast's `basic_fields`, with the fields of one response
/// allocated together (one allocation for a typical header block, not one per field).
using header_fields = boost::beast::http::basic_fields<detail::header_allocator<char>>;

/// A complete HTTP response: status, headers and the (decompressed) body in memory.
class response {
 public:
  using message_type = boost::beast::http::response<boost::beast::http::string_body, header_fields>;

  response() = default;

  /// The status code, e.g. 200.
  int status() const noexcept { return static_cast<int>(msg_.result_int()); }
  /// True for 2xx.
  bool ok() const noexcept { return status() >= 200 && status() < 300; }
  /// The reason phrase the server sent ("OK").
  std::string_view reason() const { return msg_.reason(); }

  /// The value of the first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const {
    auto it = msg_.find(name);
    if (it == msg_.end()) return std::nullopt;
    return std::string_view(it->value());
  }
  /// Every header, in the order received.
  const header_fields& headers() const noexcept { return msg_.base(); }

  /// The body, decompressed when the server sent gzip or deflate.
  const std::string& body() const& noexcept { return msg_.body(); }
  std::string body() && noexcept { return std::move(msg_.body()); }

  /// The body parsed as JSON. Throws `fanout::system_error` with `errc::json`, naming the URL,
  /// when it is not JSON.
  nlohmann::json json() const;
  /// The body decoded into `T` through nlohmann's `from_json`; errors as for `json()`.
  template <class T>
  T json() const;

  /// The final URL, after redirects.
  const std::string& url() const noexcept { return url_; }
  /// The method of the final request (a 303 turns POST into GET).
  const std::string& method() const noexcept { return method_; }
  /// Where the time went.
  const fanout::timings& timings() const noexcept { return timings_; }
  /// Requests sent for this response: 1, plus redirects followed, plus a transparent retry
  /// after a stale keep-alive connection, plus the requests of earlier attempts under the
  /// retry policy (429 twice, then 200: 3).
  int attempts() const noexcept { return attempts_; }
  /// Redirects followed.
  int redirects() const noexcept { return redirects_; }

  /// The Beast message, for what the accessors above do not cover.
  const message_type& message() const noexcept { return msg_; }
  message_type& message() noexcept { return msg_; }

 private:
  friend struct detail::response_access;
  message_type msg_;
  std::string url_;
  std::string method_;
  fanout::timings timings_;
  int attempts_ = 0;
  int redirects_ = 0;
};

// ---------------------------------------------------------------------------------------------

namespace detail {

struct response_access {
  static response::message_type& msg(response& r) noexcept { return r.msg_; }
  static std::string& url(response& r) noexcept { return r.url_; }
  static std::string& method(response& r) noexcept { return r.method_; }
  static fanout::timings& timings(response& r) noexcept { return r.timings_; }
  static int& attempts(response& r) noexcept { return r.attempts_; }
  static int& redirects(response& r) noexcept { return r.redirects_; }
};

}  // namespace detail

inline nlohmann::json response::json() const {
  try {
    return nlohmann::json::parse(msg_.body());
  } catch (const nlohmann::json::exception& e) {
    throw system_error(error(errc::json, method_ + " " + url_ + ": invalid JSON: " + e.what()));
  }
}

template <class T>
T response::json() const {
  try {
    return nlohmann::json::parse(msg_.body()).template get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw system_error(error(errc::json, method_ + " " + url_ + ": invalid JSON: " + e.what()));
  }
}

}  // namespace fanout

#endif
