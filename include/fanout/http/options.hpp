#ifndef FANOUT_HTTP_OPTIONS_HPP
#define FANOUT_HTTP_OPTIONS_HPP

#include <fanout/config.hpp>
#include <fanout/core/rate_limiter.hpp>
#include <fanout/core/retry.hpp>
#include <fanout/version.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fanout {

class transport;  // <fanout/http/transport.hpp>

/// The transport a session carries its exchanges on (see <fanout/http/transport.hpp>): empty
/// for the default (pooled HTTP/1.1 and TLS over TCP), or a transport given by value
/// (`fanout::testing::mock_transport{handler}`) or shared (`std::shared_ptr` to it, to keep a
/// handle on it, or to share it between sessions).
class transport_ptr {
 public:
  transport_ptr() = default;
  template <std::derived_from<transport> T>
  transport_ptr(T t)  // NOLINT(google-explicit-constructor): `.transport = mock_transport{f}`
      : p_(std::make_shared<T>(std::move(t))) {}
  template <std::derived_from<transport> T>
  transport_ptr(std::shared_ptr<T> p) noexcept  // NOLINT(google-explicit-constructor)
      : p_(std::move(p)) {}

  explicit operator bool() const noexcept { return p_ != nullptr; }
  const std::shared_ptr<transport>& shared() const noexcept { return p_; }

 private:
  std::shared_ptr<transport> p_;
};

/// A host name's addresses, in the order to try them, or an error in `ec` (see
/// `session_options::resolve`).
using resolve_function = std::function<std::vector<boost::asio::ip::address>(
    const std::string& host, boost::system::error_code& ec)>;

/// Where connections for a (host, port) go instead of where DNS says: curl's
/// `--resolve HOST:PORT:ADDR[,ADDR]` (`addresses`) and `--connect-to HOST1:PORT1:HOST2:PORT2`
/// (`to_host`, `to_port`). Only the TCP destination changes: the Host header, TLS's server
/// name and certificate check, cookies and the pool's keys stay the URL's (through a proxy:
/// the proxy's name and port are what a rule matches).
struct connect_rule {
  std::string host;        ///< the name (or literal) a connection is for; "" or "*": any
  std::uint16_t port = 0;  ///< its port; 0: any
  /// Connect to these, in order, without asking DNS (the port: `to_port`, else the URL's).
  std::vector<boost::asio::ip::address> addresses{};
  std::string to_host{};      ///< else connect to this name or literal instead; "": the same
  std::uint16_t to_port = 0;  ///< and to this port; 0: the same
};

/// How a `fanout::session` connects, pools, limits and verifies. An aggregate: set what you
/// need with designated initialisers in declaration order, `{.max_connections_per_host = 8}`.
///
/// **Zero means "no limit"** for every timeout and cap here (as for `gather_options`), with
/// two members that are not limits: `max_redirects` counts redirects to follow (0 follows
/// none) and `dns_cache_ttl` is how long an answer is kept (0 keeps none). Negative durations
/// and impossible rates or retry policies are rejected: the session's constructor throws
/// `std::invalid_argument` naming the option (`validate` below).
struct session_options {
  /// Open connections (in use, idle or connecting) to one (scheme, host, port); requests beyond
  /// it wait, first come first served. 0 = no cap.
  std::size_t max_connections_per_host = 64;
  /// Open connections across all hosts; an idle connection to another host is closed to make
  /// room when needed. 0 = no cap.
  std::size_t max_connections = 256;
  /// DNS resolution (when not cached), TCP connect and TLS handshake of one connection; 0: no
  /// limit of its own (the request's deadline still applies).
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  /// Everything one request does, redirects included: waiting for a connection, connecting,
  /// sending, receiving; 0: no deadline. `request::timeout` overrides it.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  /// An idle pooled connection is closed after this long (below the 60 s of common load
  /// balancers, so we close first), or sooner when the server's `Keep-Alive: timeout=N` says so;
  /// 0: only the server's `Keep-Alive` limits it.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(50);
  /// Redirects (301, 302, 303, 307, 308) followed per request; 0 returns the 3xx response.
  std::size_t max_redirects = 10;
  /// Largest response body accepted, after decompression too; 0: no limit.
  std::size_t max_body_bytes = std::size_t(64) << 20;
  /// Largest body a callback or file sink takes (`request::sink`, `session::download`), as
  /// received and after decompression; 0 (the default): no limit.
  std::uint64_t max_download_bytes = 0;
  /// Verify the server's certificate chain and host name. `false` accepts any certificate.
  bool verify_tls = true;

  /// A PEM file of trusted CA certificates, used instead of the system trust store.
  std::string ca_file{};
  /// The `User-Agent` sent unless a request sets its own.
  std::string user_agent = "fanout/" FANOUT_VERSION_STRING;
  /// Make a status >= 400 an `http_errc::http_status` error (per request:
  /// `request::raise_for_status`).
  bool raise_for_status = false;
  /// Follow a redirect from https to http (refused with `http_errc::redirect_refused` by default).
  bool allow_https_downgrade = false;
  /// Largest response header block (status line and fields); 0: no limit (up to 4 GiB).
  std::size_t max_header_bytes = std::size_t(64) << 10;
  /// Reuse connections; `false` sends `Connection: close` and opens one per request.
  bool keep_alive = true;
  /// Send `Accept-Encoding: gzip, deflate` and inflate such bodies transparently.
  bool decompress = true;
  /// How long a resolved host's addresses are reused; 0: not at all (every new connection
  /// resolves again).
  std::chrono::milliseconds dns_cache_ttl = std::chrono::seconds(10);
  /// Resolves host names (never IP literals) instead of the system resolver (`getaddrinfo`):
  /// returns the addresses to try in order, or sets `ec` (an empty list means "host not
  /// found"). For a resolver of your own, pinned addresses (curl's `--resolve`) or tests whose
  /// names must not leave the machine. Called on fanout's DNS threads, so it may block; one call
  /// per (host, port) at a time, answers cached for `dns_cache_ttl` like the system's. A call
  /// that never returns still lets its requests fail on their deadline or be cancelled. An
  /// exception it throws fails the requests waiting for that name: with the code of a
  /// `boost::system::system_error`, else `errc::exception`.
  resolve_function resolve{};
  /// Destinations pinned per (host, port), consulted before DNS; the first rule that matches
  /// applies (see `connect_rule`). A rule with both `addresses` and `to_host` is refused.
  std::vector<connect_rule> connect_to{};
  /// Origins whose state the session keeps at most, for each kind of per-origin state: DNS
  /// answers, TLS sessions to resume, rate limiters (idle connections are bounded by the
  /// connection caps and `idle_timeout`). The least recently used goes first; state in use
  /// (a lookup in progress, a limiter with waiters or tokens still to refill) is never dropped.
  /// 0 = no limit.
  std::size_t max_cached_origins = 1024;
  /// Retries with exponential backoff and full jitter (`request::retry` overrides it). Off by
  /// default (`max_attempts = 1`). A request is repeated only when it is safe: an idempotent
  /// method (or `retry_non_idempotent`) that failed to connect, timed out, lost its connection,
  /// or was answered 429, 502, 503 or 504. A `Retry-After` (seconds or HTTP-date) replaces the
  /// backoff, capped by `max_backoff`. No retry starts that would end after the request's
  /// deadline; cancellation ends a backoff sleep at once.
  retry_policy retry{};
  /// Also retry methods that are not idempotent (POST, PATCH) under `retry`; they may then be
  /// executed twice by the server. `request::retry_non_idempotent` overrides it.
  bool retry_non_idempotent = false;
  /// Requests per second to one (scheme, host, port), shared by everything using this session;
  /// every request sent (each attempt and redirect hop) takes a token first. Unlimited when
  /// `requests_per_second` is 0.
  fanout::rate_limit rate_limit{};
  /// As `rate_limit`, but for the whole session, all hosts together.
  fanout::rate_limit session_rate_limit{};
  /// An HTTP proxy for every request, `http://[user:password@]host[:port]` (no scheme means
  /// http://; the port defaults to 80). Plain HTTP goes to it with the absolute URL as the
  /// target; https goes through a `CONNECT host:port` tunnel, TLS verified against the origin.
  /// The userinfo becomes `Proxy-Authorization: Basic ...`, sent to the proxy only. Empty = none
  /// (or, with `trust_env`, `http_proxy` / `https_proxy`). `request::proxy` overrides it.
  std::string proxy{};
  /// Hosts reached directly, not through the proxy: comma-separated names (each matches its
  /// subdomains too; a leading dot is allowed), IP literals, optional `:port`, or `*` for all.
  /// Empty = none (or, with `trust_env`, `no_proxy`).
  std::string no_proxy{};
  /// Take `proxy` and `no_proxy`, when left empty, from the environment, read once when the
  /// session is made: `http_proxy`, `https_proxy`, `no_proxy`, or their upper-case forms when the
  /// lower-case one is unset (`HTTP_PROXY` only outside CGI, i.e. when `REQUEST_METHOD` is
  /// unset, against "httpoxy"). Off by default: the environment changes nothing unless asked.
  bool trust_env = false;
  /// Requests of the whole session waiting for a connection (the caps reached) at most; one
  /// more fails at once with `http_errc::too_many_pending` instead of queueing without bound. 0:
  /// unbounded.
  std::size_t max_pending_requests = 100'000;
  /// What carries the exchanges: empty (the default) is fanout's pooled HTTP/1.1 + TLS over
  /// TCP, configured by the options above; `fanout::testing::mock_transport{handler}` answers
  /// from a function and opens no socket, for tests of code that uses a session. Everything
  /// above the transport runs the same: redirects, retries, rate limits, decompression,
  /// timeouts, `raise_for_status`. The connection, DNS, TLS and proxy-tunnel options apply to
  /// the default transport only.
  transport_ptr transport{};
};

/// Throws `std::invalid_argument` naming the first impossible option: a negative duration, a
/// rate (`rate_limit`, `session_rate_limit`) that is negative, not finite or too slow to
/// represent, or a `retry` policy `validate(const retry_policy&)` rejects. The session's
/// constructor calls it; call it yourself to check a configuration early.
inline void validate(const session_options& o) {
  auto non_negative = [](std::chrono::milliseconds d, std::string_view name) {
    if (d.count() < 0)
      throw std::invalid_argument("session_options::" + std::string(name) + " is negative (" +
                                  std::to_string(d.count()) + " ms); 0 means no limit");
  };
  non_negative(o.connect_timeout, "connect_timeout");
  non_negative(o.request_timeout, "request_timeout");
  non_negative(o.idle_timeout, "idle_timeout");
  non_negative(o.dns_cache_ttl, "dns_cache_ttl");
  validate(o.rate_limit, "session_options::rate_limit");
  validate(o.session_rate_limit, "session_options::session_rate_limit");
  validate(o.retry, "session_options::retry");
  for (auto const& rule : o.connect_to)
    if (!rule.addresses.empty() && !rule.to_host.empty())
      throw std::invalid_argument("session_options::connect_to: the rule for '" + rule.host +
                                  "' has both addresses and to_host: choose one");
}

}  // namespace fanout

#endif
