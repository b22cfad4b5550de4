#ifndef FANOUT_HTTP_IMPL_URL_IPP
#define FANOUT_HTTP_IMPL_URL_IPP

// The definitions of fanout/http/url.hpp: included by it (header-only), or once by
// <fanout/src.hpp> (FANOUT_SEPARATE_COMPILATION).

#include <fanout/http/url.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/grammar/hexdig_chars.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/gen_delim_chars.hpp>
#include <boost/url/rfc/sub_delim_chars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/evp.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace fanout {

namespace detail {

// `part` percent-encoded, except for `allowed` and the `%XX` escapes it already has.
inline void append_encoded(std::string& out, std::string_view part,
                           const boost::urls::grammar::lut_chars& allowed) {
  namespace urls = boost::urls;
  auto const escape_at = [&](std::size_t i) {
    return part[i] == '%' && i + 2 < part.size() && urls::grammar::hexdig_chars(part[i + 1]) &&
           urls::grammar::hexdig_chars(part[i + 2]);
  };
  for (;;) {
    std::size_t i = 0;
    while (i < part.size() && !escape_at(i)) ++i;
    out += urls::encode(part.substr(0, i), allowed);
    if (i == part.size()) return;
    out.append(part.substr(i, 3));
    part.remove_prefix(i + 3);
  }
}

// `text` with what RFC 3986 allows nowhere percent-encoded (a space, CTLs, UTF-8, `"<>\^`{|}`,
// a '%' that starts no escape, a second '#'), as browsers and curl do with a Location.
inline std::string encode_uri_reference(std::string_view text) {
  namespace urls = boost::urls;
  static constexpr urls::grammar::lut_chars uri_chars =
      urls::unreserved_chars + urls::gen_delim_chars + urls::sub_delim_chars;
  static constexpr urls::grammar::lut_chars fragment_chars =
      urls::unreserved_chars + urls::sub_delim_chars + ":@/?";
  std::string out;
  auto const hash = text.find('#');
  append_encoded(out, text.substr(0, hash), uri_chars);
  if (hash != std::string_view::npos) {
    out += '#';
    append_encoded(out, text.substr(hash + 1), fragment_chars);
  }
  return out;
}

}  // namespace detail

FANOUT_DECL boost::system::error_code parse_url(std::string_view text, url_parts& out,
                                                std::string& why) {
  auto const fail = [&](std::string reason) {
    why = std::move(reason);
    return make_error_code(http_errc::invalid_url);
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
        out.host.push_back(boost::urls::grammar::to_lower(c));
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
  // Any userinfo, even "user" or "" alone, means credentials (curl sends "user:" and ":").
  if (u.has_userinfo())
    out.authorization = detail::basic_authorization(u.user(), u.password());
  else
    out.authorization.clear();
  return {};
}

FANOUT_DECL boost::system::error_code resolve_location(std::string_view base,
                                                       std::string_view location,
                                                       std::string& out) {
  auto b = boost::urls::parse_uri(base);
  if (!b) return make_error_code(http_errc::invalid_url);
  std::string encoded;
  auto ref = boost::urls::parse_uri_reference(location);
  if (!ref) {
    encoded = detail::encode_uri_reference(location);
    ref = boost::urls::parse_uri_reference(encoded);
    if (!ref) return make_error_code(http_errc::invalid_url);
  }
  boost::urls::url dest;
  if (auto r = boost::urls::resolve(*b, *ref, dest); !r)
    return make_error_code(http_errc::invalid_url);
  // Boost.URL keeps the ".." segments that would climb above the root ("/../ok/8"); RFC 3986
  // section 5.2.4 drops them ("/ok/8"), as every browser and curl do.
  if (dest.is_path_absolute()) {
    std::string_view path = dest.encoded_path();
    bool const climbs = path == "/.." || path.starts_with("/../");
    while (path == "/.." || path.starts_with("/../")) path.remove_prefix(3);
    if (climbs) {
      dest.set_encoded_path(std::string(path));
      if (path.empty()) dest.set_path_absolute(true);  // "/" itself would come out as "/./"
    }
  }
  // RFC 9110 section 10.2.2: without a fragment of its own, the Location inherits the request's.
  // The fragment is shown in response::url(), never sent (parse_url leaves it out of `target`).
  if (!ref->has_fragment()) {
    if (b->has_fragment())
      dest.set_encoded_fragment(b->encoded_fragment());
    else
      dest.remove_fragment();
  }
  out.assign(dest.buffer());
  return {};
}

FANOUT_DECL std::string redact(std::string_view url) {
  std::string out(url);
  if (auto ref = boost::urls::parse_uri_reference(url)) {
    // RFC 3986 3.2.1: no clear text after the userinfo's colon, "unless the data after the
    // colon is the empty string (indicating no password)".
    if (ref->encoded_password().empty()) return out;
    boost::urls::url u(*ref);
    u.set_password("***");
    out = u.buffer();
  }
  // Boost.URL reads the userinfo up to the first '@' and refuses a raw space: a password with
  // those would still show (part of) it. Hide up to the authority's last '@', as curl reads it.
  auto const start = out.find("//");
  if (start == std::string::npos || (start != 0 && out[start - 1] != ':')) return out;
  auto const end = std::min(out.find_first_of("/?#", start + 2), out.size());
  auto const at = out.rfind('@', end);
  if (at == std::string::npos || at < start + 2) return out;
  auto const colon = out.find(':', start + 2);
  if (colon + 1 >= at) return out;
  out.replace(colon + 1, at - colon - 1, "***");
  return out;
}

namespace detail {

FANOUT_DECL std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string credentials;
  credentials.reserve(user.size() + 1 + password.size());
  credentials.append(user).append(":").append(password);
  std::string out = "Basic ";
  auto const prefix = out.size();
  out.resize(prefix + 4 * ((credentials.size() + 2) / 3) + 1);  // EVP_EncodeBlock adds a NUL
  int const n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + prefix),
                                reinterpret_cast<const unsigned char*>(credentials.data()),
                                static_cast<int>(credentials.size()));
  out.resize(prefix + static_cast<std::size_t>(n));
  return out;
}

}  // namespace detail

}  // namespace fanout

#endif
