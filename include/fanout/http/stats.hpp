#ifndef FANOUT_HTTP_STATS_HPP
#define FANOUT_HTTP_STATS_HPP

#include <fanout/config.hpp>

#include <cstddef>

namespace fanout {

/// Counters of one session, for tests, logs and benchmarks.
struct session_stats {
  std::size_t requests = 0;            ///< requests started (each redirect hop counts)
  std::size_t connections_opened = 0;  ///< TCP connections opened (connected, not attempted)
  std::size_t connections_reused = 0;  ///< requests served by a pooled connection
  std::size_t stale_detected = 0;      ///< pooled connections found closed before use
  std::size_t stale_retries = 0;       ///< requests re-sent after a reused connection failed
  std::size_t retries = 0;             ///< attempts repeated under the retry policy
  std::size_t dns_lookups = 0;         ///< lookups sent to the system resolver
  std::size_t tls_resumed = 0;         ///< TLS handshakes that resumed a session
  std::size_t open_connections = 0;    ///< open now (in use, idle or connecting)
  std::size_t idle_connections = 0;    ///< idle in the pool now
  // The per-origin caches, each bounded by `session_options::max_cached_origins`:
  std::size_t dns_cached = 0;     ///< (host, port) answers and lookups in progress, held now
  std::size_t tls_cached = 0;     ///< TLS sessions to resume, held now
  std::size_t rate_limiters = 0;  ///< per-origin rate limiters, held now
};

}  // namespace fanout

#endif
