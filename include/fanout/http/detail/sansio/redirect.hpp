#ifndef FANOUT_HTTP_DETAIL_SANSIO_REDIRECT_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_REDIRECT_HPP

// The redirect decision, without I/O: given a response's status and Location, follow (where to,
// with which method, what to strip), stop (the response is the answer) or refuse (an error).
// Table-tested in tests/http/sansio_decisions_test.cpp.

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/detail/sansio/request_builder.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/url.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fanout::detail {

/// What the session's options say about redirects.
struct redirect_policy {
  std::size_t max_redirects = 10;      ///< 0: never follow
  bool allow_https_downgrade = false;  ///< follow https -> http
};

/// What to do after one hop's response.
struct hop_decision {
  enum kind { stop, follow, refuse };
  kind action = stop;
  /// refuse: `too_many_redirects` or `redirect_refused`, and why (a URL in it is redacted).
  http_errc error{};
  std::string why{};
  /// follow: the next URL and its parts.
  std::string url{};
  url_parts where{};
  bool to_get = false;        ///< follow: the method becomes GET and the body is dropped
  bool cross_origin = false;  ///< follow: credentials are dropped and Host changes
};

/// True for the statuses fanout follows: 301, 302, 303, 307, 308 (RFC 9110 §15.4; 300 and 305
/// name no single target, 304 is no redirect).
inline bool is_redirect_status(int status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/// The decision after a `status` response to `method current` (parsed: `where`) with the
/// `location` header (if any), `redirects` hops having been followed already.
///
/// - Not a redirect status, no Location or a blank one (RFC 9110 §10.2.2 defines no other
///   meaning), or `max_redirects == 0`: stop, the response is the answer.
/// - More hops than `max_redirects`: refuse with `too_many_redirects`.
/// - A Location that resolves to no URL, to a scheme other than http(s), or from https to http
///   without `allow_https_downgrade`: refuse with `redirect_refused`.
/// - Otherwise follow. 303 turns any method but HEAD into GET; 301 and 302 turn POST into GET
///   (RFC 9110 §15.4.2/3 allow it, every browser and curl do it); 307 and 308 keep the method
///   and body. Another origin (scheme, host or port) gets no credentials (curl neither sends
///   a Location's own userinfo there).
inline hop_decision next_hop(int status, std::optional<std::string_view> location,
                             std::string_view method, std::string_view current,
                             const url_parts& where, std::size_t redirects,
                             const redirect_policy& policy) {
  // Every return names `d`, so that it is built in place: this runs for every response.
  hop_decision d;
  if (!is_redirect_status(status) || policy.max_redirects == 0) return d;
  if (!location || is_blank(*location)) return d;
  auto const refuse = [&d](http_errc code, std::string why) {
    d.action = hop_decision::refuse;
    d.error = code;
    d.why = std::move(why);
  };
  std::string next;
  std::string why;
  if (redirects >= policy.max_redirects)
    refuse(http_errc::too_many_redirects,
           "more than " + std::to_string(policy.max_redirects) + " redirects");
  else if (resolve_location(current, *location, next))
    refuse(http_errc::redirect_refused,
           "redirect to an invalid Location \"" + redact(*location) + "\"");
  else if (parse_url(next, d.where, why))
    refuse(http_errc::redirect_refused, "redirect to " + redact(next) + " refused: " + why);
  else if (where.https && !d.where.https && !policy.allow_https_downgrade)
    refuse(http_errc::redirect_refused, "redirect from https to http (" + redact(next) +
                                            ") refused; set allow_https_downgrade to follow it");
  if (d.action == hop_decision::refuse) return d;
  d.action = hop_decision::follow;
  d.to_get =
      (status == 303 && method != "HEAD") || ((status == 301 || status == 302) && method == "POST");
  d.cross_origin = d.where.origin != where.origin;
  d.url = std::move(next);
  return d;
}

/// Adjusts the request message `m` (and `method`) for a followed hop `d`.
inline void apply_hop(const hop_decision& d, request_message& m, std::string& method) {
  namespace http = boost::beast::http;
  if (d.to_get) {
    method = "GET";
    m.method(http::verb::get);
    m.body().clear();
    m.erase(http::field::content_type);
    m.erase(http::field::content_length);
    m.erase(http::field::transfer_encoding);
  }
  if (d.cross_origin) {
    m.erase(http::field::authorization);
    m.erase(http::field::cookie);
    m.erase(http::field::proxy_authorization);
    m.set(http::field::host, d.where.host_header);
  }
  m.target(d.where.target);
  m.prepare_payload();
}

}  // namespace fanout::detail

#endif
