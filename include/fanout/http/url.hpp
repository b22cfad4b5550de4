#ifndef FANOUT_HTTP_URL_HPP
#define FANOUT_HTTP_URL_HPP

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>
#include <fanout/detail/http/ascii.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

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
};

/// Parses `text` as an absolute http(s) URL. On failure returns `errc::invalid_url` and sets
/// `why` to what is wrong ("unsupported scheme \"ftp\"", "empty host", ...). No I/O.
FANOUT_DECL boost::system::error_code parse_url(std::string_view text, url_parts& out,
                                                std::string& why);

/// Resolves a `Location` value against the URL it came from (RFC 3986 section 5, Boost.URL).
/// Returns `errc::invalid_url` when `location` is not a URI reference.
FANOUT_DECL boost::system::error_code resolve_location(std::string_view base,
                                                       std::string_view location, std::string& out);

// ---------------------------------------------------------------------------------------------

FANOUT_DECL boost::system::error_code parse_url(std::string_view text, url_parts& out,
                                                std::string& why) {
  auto const fail = [&](std::string reason) {
    why = std::move(reason);
    return make_error_code(errc::invalid_url);
  };
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return fail("not an absolute URL (" + parsed.error().message() + ")");
  boost::urls::url_view u = *parsed;
  auto const scheme = u.scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https)
    return fail("unsupported scheme \"" + std::string(u.scheme()) + "\"");
  out.https = scheme == boost::urls::scheme::https;
  if (!u.has_authority() || u.encoded_host().empty()) return fail("empty host");

  out.host.clear();
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4: out.host = u.host_address(); break;
    case boost::urls::host_type::ipv6: out.host = u.host_address(); break;  // without brackets
    case boost::urls::host_type::name: {
      // Percent-encoded or otherwise odd names cannot be resolved; refuse them up front.
      std::string_view name = u.encoded_host();
      for (char c : name) {
        if (c == '%') return fail("percent-encoded host name");
        out.host.push_back(detail::ascii_lower(c));
      }
      break;
    }
    default: return fail("unsupported host \"" + std::string(u.encoded_host()) + "\"");
  }

  std::uint16_t const default_port = out.https ? 443 : 80;
  if (u.has_port()) {
    if (u.port().empty()) {
      out.port = default_port;
    } else {
      auto const n = u.port_number();
      if (n == 0) return fail("invalid port \"" + std::string(u.port()) + "\"");
      out.port = n;
    }
  } else {
    out.port = default_port;
  }

  auto const bracketed =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + out.host + "]" : out.host;
  out.host_header = bracketed;
  if (out.port != default_port) {
    out.host_header += ':';
    out.host_header += std::to_string(out.port);
  }
  out.origin = out.https ? "https://" : "http://";
  out.origin += bracketed;
  out.origin += ':';
  out.origin += std::to_string(out.port);

  std::string_view path = u.encoded_path();
  out.target.assign(path.empty() ? "/" : path);
  if (path.size() && path.front() != '/') out.target.insert(out.target.begin(), '/');
  if (u.has_query()) {
    out.target += '?';
    out.target += u.encoded_query();
  }
  return {};
}

FANOUT_DECL boost::system::error_code resolve_location(std::string_view base,
                                                       std::string_view location,
                                                       std::string& out) {
  auto b = boost::urls::parse_uri(base);
  auto ref = boost::urls::parse_uri_reference(location);
  if (!b || !ref) return make_error_code(errc::invalid_url);
  boost::urls::url dest;
  if (auto r = boost::urls::resolve(*b, *ref, dest); !r) return make_error_code(errc::invalid_url);
  // A fragment never goes to the server.
  dest.remove_fragment();
  out.assign(dest.buffer());
  return {};
}

}  // namespace fanout

#endif
