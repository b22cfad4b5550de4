#ifndef FANOUT_HTTP_REQUEST_HPP
#define FANOUT_HTTP_REQUEST_HPP

#include <fanout/config.hpp>
#include <fanout/core/retry.hpp>
#include <fanout/http/body.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fanout {

/// Request headers in the order they are sent: `{{"authorization", "Bearer x"}, ...}`.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// One HTTP request for `session::request`. An aggregate: fill it with designated initialisers
/// in declaration order, `fanout::request{.method = "POST", .url = u, .json = j}`.
struct request {
  /// The method token, sent as given ("GET", "POST", "PROPFIND"...).
  std::string method = "GET";
  /// An absolute `http://` or `https://` URL.
  std::string url{};
  /// Extra headers. They replace the defaults of the same name (`User-Agent`,
  /// `Accept-Encoding`, `Host`...). Names and values with CR, LF or NUL are rejected before I/O.
  header_list headers{};
  /// When set, the body is `json.dump()` and `Content-Type` defaults to `application/json`.
  std::optional<nlohmann::json> json{};
  /// Deadline for the whole request (pool wait, DNS, connect, TLS, every redirect, body), when
  /// set: 0 means none, as in `session_options`. Unset: the session's `request_timeout`. A
  /// negative one fails the request with `http_errc::invalid_request`.
  std::optional<std::chrono::milliseconds> timeout{};
  /// The raw body, used when `json` is empty.
  std::string body{};
  /// Overrides the session's `raise_for_status` for this request when set.
  std::optional<bool> raise_for_status{};
  /// Overrides the session's `retry_non_idempotent` for this request when set.
  std::optional<bool> retry_non_idempotent{};
  /// Overrides the session's `retry` policy for this request when set.
  std::optional<retry_policy> retry{};
  /// Overrides the session's proxies for this request (every redirect hop) when set: a proxy
  /// URL as for `session_options::proxy` (`no_proxy` does not apply), or empty for a direct
  /// request.
  std::optional<std::string> proxy{};
  /// Where the response body goes: kept in the response (the default), to a callback piece by
  /// piece, or to a file (`body_sink`; `session::download` is the short way to a file).
  body_sink sink{};
  /// A request body streamed from a file or a producer (`fanout::body::file`,
  /// `fanout::body::callback`), instead of `body`/`json`, which must then be empty.
  body_source upload{};
};

}  // namespace fanout

#endif
