#ifndef FANOUT_HTTP_DETAIL_SANSIO_PROXY_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_PROXY_HPP

// HTTP proxies: which proxy (if any) a URL goes through, decided without I/O (the proxy URL,
// NO_PROXY, the environment, the pool key of a proxied connection, the request adjustments, the
// CONNECT target). The CONNECT exchange itself is I/O: net/tunnel.hpp.

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/url.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace fanout::detail {

/// A parsed `http://[user:password@]host[:port]` proxy URL.
struct proxy_endpoint {
  std::string host;           ///< for DNS: lower case, no brackets
  std::uint16_t port = 0;     ///< explicit, or 80
  std::string name;           ///< "host:port" (IPv6 in brackets): for messages, never a password
  std::string authorization;  ///< "Basic base64(user:password)", or empty without userinfo
  std::string key;            ///< the proxy's identity in pool keys: name and credentials
};

/// Parses a proxy URL. A URL without a scheme ("127.0.0.1:3128", common in HTTP_PROXY) is
/// taken as http://. Only http:// proxies are supported: https:// (TLS to the proxy) and
/// socks*:// are refused with `http_errc::invalid_url` and `why` set. The userinfo is
/// percent-decoded (Boost.URL) into a Basic `Proxy-Authorization` value.
inline boost::system::error_code parse_proxy_url(std::string_view text, proxy_endpoint& out,
                                                 std::string& why);

/// True when the NO_PROXY-style list `no_proxy` says `host`:`port` is reached directly: entries
/// separated by commas (spaces ignored); `*` matches every host; a name matches itself and its
/// subdomains, with or without a leading dot (`example.com` and `.example.com` both match
/// `api.example.com`); an IP literal (IPv6 with or without brackets) matches itself; an entry
/// with `:port` matches that port only. Case-insensitive. `localhost` is not special.
inline bool no_proxy_matches(std::string_view no_proxy, std::string_view host,
                             std::uint16_t port) noexcept;

/// The proxy (or the error of an invalid proxy URL) used for one scheme.
struct proxy_rule {
  std::optional<proxy_endpoint> proxy;
  std::string error;  ///< non-empty: the configured URL is invalid, requests fail with it
  bool active() const noexcept { return proxy.has_value() || !error.empty(); }
};

/// A session's (or one request's) proxies: one rule per scheme and the NO_PROXY list.
struct proxy_settings {
  proxy_rule http, https;
  std::string no_proxy;

  bool any() const noexcept { return http.active() || https.active(); }
  /// The rule for `where`, or null when it is reached directly.
  const proxy_rule* select(const url_parts& where) const noexcept {
    const proxy_rule& r = where.https ? https : http;
    if (!r.active()) return nullptr;
    if (!no_proxy.empty() && no_proxy_matches(no_proxy, where.host, where.port)) return nullptr;
    return &r;
  }
};

/// The rule for one proxy URL (none when `url` is empty); `source` names where the URL came
/// from in the error of an invalid one ("HTTPS_PROXY", "request::proxy").
inline proxy_rule make_proxy_rule(const std::string& url, const char* source);

/// Reads an environment variable; null when unset.
using getenv_function = std::function<const char*(const char*)>;

/// The proxies a session uses. `proxy` (for both schemes) and `no_proxy` come from
/// `session_options`; each one left empty is taken from the environment when `trust_env`:
/// `http_proxy`, `https_proxy`, `no_proxy`, or their upper-case forms when the lower-case one is
/// unset. `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (a CGI program, where a client's
/// `Proxy:` header arrives as HTTP_PROXY: "httpoxy"), as Go's net/http does.
inline proxy_settings make_proxy_settings(const std::string& proxy, const std::string& no_proxy,
                                          bool trust_env,
                                          const getenv_function& getenv = &std::getenv);

/// The pool key of connections to `where` through `p`. Plain-HTTP requests through a proxy
/// share its connections whatever their target; a CONNECT tunnel belongs to one origin. Never
/// equal to a direct origin ("http://..." or "https://...").
inline std::string proxied_pool_key(const url_parts& where, const proxy_endpoint& p);

/// What the pool and the connection see of `where` reached through `p`: the origin replaced by
/// `proxied_pool_key`, the host kept for SNI and certificate checks.
inline url_parts proxied_parts(const url_parts& where, const proxy_endpoint& p) {
  url_parts out = where;
  out.origin = proxied_pool_key(where, p);
  return out;
}

/// What `prepare_hop` changed in the request, to undo when a later hop goes elsewhere.
struct hop_state {
  bool absolute = false;    ///< the target is in absolute form
  bool added_auth = false;  ///< we set Proxy-Authorization
};

/// Adjusts the request `m` for a hop to `where` through `p` (null: direct). Plain HTTP through a
/// proxy gets the absolute-form target and the proxy's `Proxy-Authorization`; direct requests
/// and https (CONNECT: the credentials go in the CONNECT request only) get neither, and https
/// through a proxy loses a `Proxy-Authorization` the request set itself. Nothing is touched
/// for a request that never used a proxy.
template <class Message>
void prepare_hop(Message& m, const url_parts& where, const proxy_endpoint* p, hop_state& s) {
  namespace http = boost::beast::http;
  bool const plain = p && !where.https;
  if (plain) {
    std::string target = "http://";
    target.append(where.host_header).append(where.target);
    m.target(target);
    s.absolute = true;
  } else if (s.absolute) {
    m.target(where.target);
    s.absolute = false;
  }
  if (plain && !p->authorization.empty()) {
    m.set(http::field::proxy_authorization, p->authorization);
    s.added_auth = true;
  } else if (s.added_auth) {
    m.erase(http::field::proxy_authorization);
    s.added_auth = false;
  }
  // Inside a tunnel the origin is the next hop: a Proxy-Authorization header of the request
  // would reach it, so it is not sent (the CONNECT carries the proxy URL's credentials).
  if (p && where.https) m.erase(http::field::proxy_authorization);
}

/// How one hop reaches `where`: directly (`via` null), or through the proxy `via`, and then
/// `proxied` is what the pool and the connection see. `error` is set when the proxy URL that
/// applies is invalid (the request fails with it).
struct hop_route {
  const proxy_endpoint* via = nullptr;
  std::optional<url_parts> proxied{};
  const std::string* error = nullptr;  ///< the rule's, which outlives the route

  const url_parts& dial(const url_parts& where) const noexcept { return via ? *proxied : where; }
};

/// Chooses the route of a hop to `where` among `proxies` (decided again for every hop: a
/// redirect may leave NO_PROXY's hosts) and adjusts the request `m` for it (`prepare_hop`).
template <class Message>
hop_route route_hop(const proxy_settings& proxies, const url_parts& where, Message& m,
                    hop_state& s) {
  hop_route r;
  if (!proxies.any()) return r;
  if (auto rule = proxies.select(where)) {
    if (!rule->error.empty()) {
      r.error = &rule->error;
      return r;
    }
    r.via = &*rule->proxy;
    r.proxied = proxied_parts(where, *r.via);
  }
  prepare_hop(m, where, r.via, s);
  return r;
}

/// Notes the proxy in the description of an error met while resolving or connecting to it:
/// "Connection refused (while connecting to proxy 127.0.0.1:3128)".
inline void note_proxy(std::string& what, const proxy_endpoint& p) {
  static constexpr std::string_view connecting = "while connecting";
  if (auto at = what.find(connecting); at != std::string::npos)
    what.insert(at + connecting.size(), " to proxy " + p.name);
  else
    what += " (proxy " + p.name + ")";
}

/// What `async_open_tunnel` needs: the CONNECT target and the proxy's credentials.
struct tunnel_target {
  std::string authority;      ///< "host:port" of the origin (IPv6 in brackets)
  std::string authorization;  ///< Proxy-Authorization value, or empty
  std::string proxy_name;     ///< for messages
};

inline tunnel_target make_tunnel_target(const url_parts& where, const proxy_endpoint& p) {
  tunnel_target t;
  // The origin is "https://" + authority (always with the port).
  t.authority = where.origin.substr(where.origin.find("://") + 3);
  t.authorization = p.authorization;
  t.proxy_name = p.name;
  return t;
}

// ---------------------------------------------------------------------------------------------

inline boost::system::error_code parse_proxy_url(std::string_view text, proxy_endpoint& out,
                                                 std::string& why) {
  std::string with_scheme;
  if (text.find("://") == std::string_view::npos) {
    with_scheme = "http://";
    with_scheme += text;
    text = with_scheme;
  }
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    why = "not a URL (" + parsed.error().message() + ")";
    return make_error_code(http_errc::invalid_url);
  }
  boost::urls::url_view u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::http) {
    why = "unsupported proxy scheme \"" + std::string(u.scheme()) + "\" (only http:// proxies)";
    return make_error_code(http_errc::invalid_url);
  }
  url_parts parts;
  if (auto ec = parse_url(text, parts, why)) return ec;
  out.host = parts.host;
  out.port = parts.port;
  out.name = parts.origin.substr(parts.origin.find("://") + 3);
  out.authorization.clear();
  out.key = out.name;
  if (!parts.authorization.empty()) {  // "Basic base64(user:password)" of the userinfo
    out.authorization = parts.authorization;
    out.key += " " + parts.authorization.substr(std::string_view("Basic ").size());
  }
  return {};
}

inline bool no_proxy_matches(std::string_view list, std::string_view host,
                             std::uint16_t port) noexcept {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // "example.com." is the same
  // IP literals match exactly, never as a suffix ("0.0.1" must not match 127.0.0.1).
  bool const ip_host = host.find(':') != std::string_view::npos ||
                       host.find_first_not_of("0123456789.") == std::string_view::npos;
  auto const matches = [&](std::string_view entry) {
    if (entry == "*") return true;
    // An optional port: "[v6]:port", "name:port", "v4:port"; a bare IPv6 has several colons.
    std::string_view name = entry;
    std::string_view port_text;
    if (name.front() == '[') {
      auto const close = name.find(']');
      if (close == std::string_view::npos) return false;
      if (close + 1 < name.size() && name[close + 1] == ':') port_text = name.substr(close + 2);
      name = name.substr(1, close - 1);
    } else if (auto const colon = name.find(':');
               colon != std::string_view::npos && name.find(':', colon + 1) == name.npos) {
      port_text = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    if (!port_text.empty()) {
      unsigned long n = 0;
      bool digits = port_text.size() <= 5;
      for (char c : port_text) {
        digits = digits && c >= '0' && c <= '9';
        n = n * 10 + static_cast<unsigned long>(c - '0');
      }
      if (!digits || n != port) return false;
    }
    while (!name.empty() && name.front() == '.') name.remove_prefix(1);
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty()) return false;
    if (boost::beast::iequals(name, host)) return true;
    // A suffix on a label boundary: "example.com" matches "api.example.com", not "badexample.com".
    if (!ip_host && host.size() > name.size() && host[host.size() - name.size() - 1] == '.' &&
        boost::beast::iequals(host.substr(host.size() - name.size()), name))
      return true;
    return false;
  };
  bool found = false;
  for_each_list_element(list, [&](std::string_view entry) { found = found || matches(entry); });
  return found;
}

inline proxy_rule make_proxy_rule(const std::string& url, const char* source) {
  proxy_rule rule;
  if (url.empty()) return rule;
  proxy_endpoint p;
  std::string why;
  if (parse_proxy_url(url, p, why))
    rule.error = "invalid proxy URL (" + std::string(source) + "): " + why;
  else
    rule.proxy = std::move(p);
  return rule;
}

inline proxy_settings make_proxy_settings(const std::string& proxy, const std::string& no_proxy,
                                          bool trust_env, const getenv_function& getenv) {
  proxy_settings s;
  auto env = [&](const char* lower, const char* upper) -> std::pair<std::string, const char*> {
    if (const char* v = getenv(lower)) return {v, lower};
    if (upper) {
      if (const char* v = getenv(upper)) return {v, upper};
    }
    return {{}, nullptr};
  };
  if (!proxy.empty()) {
    s.http = make_proxy_rule(proxy, "session_options::proxy");
    s.https = s.http;
  } else if (trust_env) {
    bool const cgi = getenv("REQUEST_METHOD") != nullptr;
    auto [http_url, http_source] = env("http_proxy", cgi ? nullptr : "HTTP_PROXY");
    s.http = make_proxy_rule(http_url, http_source);
    auto [https_url, https_source] = env("https_proxy", "HTTPS_PROXY");
    s.https = make_proxy_rule(https_url, https_source);
  }
  s.no_proxy = no_proxy;
  if (s.no_proxy.empty() && trust_env) s.no_proxy = env("no_proxy", "NO_PROXY").first;
  return s;
}

inline std::string proxied_pool_key(const url_parts& where, const proxy_endpoint& p) {
  if (!where.https) return "proxy " + p.key;
  return where.origin + " via proxy " + p.key;
}

}  // namespace fanout::detail

#endif
