#ifndef FANOUT_HTTP_URL_HPP
#define FANOUT_HTTP_URL_HPP

#include <fanout/config.hpp>
#include <fanout/http/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace fanout {

/// What the client needs from an absolute `http` or `https` URL, parsed by Boost.URL.
struct url_parts {
  bool https = false;
  std::string host;         ///< for DNS, SNI and certificate checks: lower case, no brackets
  std::uint16_t port = 0;   ///< explicit, or 80 / 443
  std::string host_header;  ///< the `Host` value: host, plus ":port" when not the default
  std::string target;       ///< origin-form request target: "/path?query" (never empty)
  std::string origin;       ///< "scheme://host:port", the connection pool's key
  /// "Basic base64(user:password)" from the URL's userinfo (percent-decoded), sent as the
  /// `Authorization` to this origin only; empty when the URL has no userinfo.
  std::string authorization;
};

/// Parses `text` as an absolute http(s) URL. On failure returns `http_errc::invalid_url` and sets
/// `why` to what is wrong ("unsupported scheme \"ftp\"", "empty host", ...). No I/O.
FANOUT_DECL boost::system::error_code parse_url(std::string_view text, url_parts& out,
                                                std::string& why);

/// Resolves a `Location` value against the URL it came from (RFC 3986 section 5, Boost.URL),
/// as browsers and curl do: characters a URI cannot hold (a raw space, UTF-8, ...) are
/// percent-encoded first, existing `%XX` kept; dot segments above the root are removed (RFC 3986
/// section 5.2.4); a Location without a fragment inherits the one of `base` (RFC 9110 section
/// 10.2.2). Returns `http_errc::invalid_url` when `location` is still no URI reference. No I/O.
FANOUT_DECL boost::system::error_code resolve_location(std::string_view base,
                                                       std::string_view location, std::string& out);

/// `url` with its password replaced by `***` (`http://user:***@host/`), for messages and logs;
/// unchanged when it has none. Text that is no URL has the password of what looks like its
/// authority hidden all the same.
FANOUT_DECL std::string redact(std::string_view url);

namespace detail {
/// The `Authorization` value for `user` and `password` (RFC 7617): "Basic base64(user:password)".
FANOUT_DECL std::string basic_authorization(std::string_view user, std::string_view password);
}  // namespace detail

}  // namespace fanout

#ifndef FANOUT_SEPARATE_COMPILATION
#include <fanout/http/impl/url.ipp>
#endif

#endif
