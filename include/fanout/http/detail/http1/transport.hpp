#ifndef FANOUT_HTTP_DETAIL_HTTP1_TRANSPORT_HPP
#define FANOUT_HTTP_DETAIL_HTTP1_TRANSPORT_HPP

// The default transport: HTTP/1.1 over pooled TCP connections, TLS for https, CONNECT tunnels
// through proxies. It owns the connection pool, the DNS cache and the TLS context of a session.

#include <fanout/config.hpp>
#include <fanout/core/detail/deadline_guard.hpp>
#include <fanout/http/detail/http1/connection.hpp>
#include <fanout/http/detail/http1/connection_pool.hpp>
#include <fanout/http/detail/net/classify.hpp>
#include <fanout/http/detail/net/resolver_cache.hpp>
#include <fanout/http/detail/net/tls.hpp>
#include <fanout/http/detail/sansio/connect_rules.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/detail/sansio/proxy.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/options.hpp>
#include <fanout/http/stats.hpp>
#include <fanout/http/transport.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace fanout::detail {

/// `fanout::transport` over HTTP/1.1: one exchange at a time per connection, connections pooled
/// per origin (`connection_pool`) under the session's caps. Thread-safe: the pool and the
/// caches lock, each connection does its I/O on its own strand.
class http1_transport final : public transport {
 public:
  using clock = std::chrono::steady_clock;

  /// Throws `fanout::system_error` (`http_errc::tls`) when `o.ca_file` cannot be loaded.
  http1_transport(boost::asio::any_io_executor ex, const session_options& o)
      : options_(o),
        tls_(options_),
        pool_(std::make_shared<connection_pool>(ex, options_)),
        dns_(std::make_shared<resolver_cache>(ex, options_.dns_cache_ttl,
                                              options_.max_cached_origins, options_.resolve)) {}

  http1_transport(const http1_transport&) = delete;
  http1_transport& operator=(const http1_transport&) = delete;

  ~http1_transport() override {
    pool_->close();
    dns_->close();
  }

  void close() noexcept override {
    closed_.store(true);
    pool_->close();
    dns_->close();  // requests waiting for an address stop at once (a lookup may hang)
  }

  void add_stats(session_stats& s) const override {
    s.connections_opened = pool_->connections_opened();
    s.connections_reused = pool_->connections_reused();
    s.stale_detected = pool_->stale_detected();
    s.stale_retries = stale_retries_.load();
    s.dns_lookups = dns_->lookups();
    s.tls_resumed = tls_resumed_.load();
    s.open_connections = pool_->open_connections();
    s.idle_connections = pool_->idle_connections();
    s.dns_cached = dns_->size();
    s.tls_cached = tls_.cached_sessions();
  }

  /// One hop over the pool: checks a connection to `*x.dial` out, sends `*x.message` and reads
  /// the response into `*x.out`, then gives the connection back for as long as both sides allow
  /// (see `transport::async_exchange` for completion, cancellation and lifetimes).
  ///
  /// A kept-alive connection the server had already closed is replaced by a fresh one once,
  /// transparently, for an idempotent request that got no byte back (RFC 9112 §9.3.1: the
  /// server may close an idle connection at any time). A connection that cannot be opened for
  /// want of file descriptors waits for one of this session's to close instead of failing.
  boost::asio::awaitable<exchange_result> async_exchange(exchange_request x) override {
    auto& t = *x.t;
    connection::exchange_args const args{.req = x.message,
                                         .head = x.method == "HEAD",
                                         .max_header = x.max_header,
                                         .max_body = x.max_body,
                                         .deadline = x.deadline,
                                         .url = x.shown,
                                         .method = x.method,
                                         .out = x.out,
                                         .t = x.t,
                                         .sink = x.sink,
                                         .max_sink_body = x.max_sink_body,
                                         .upload = x.upload};
    auto const& dial = *x.dial;
    auto const& where = *x.where;
    int sent = 0;
    bool fresh_only = false;
    pooled_connection conn;
    connection::outcome o;
    for (;;) {
      ++sent;
      auto step = pool_->try_acquire(dial, fresh_only, args.deadline);
      connection_pool::acquired got;
      if (step.got)
        got = std::move(*step.got);
      else
        got = co_await pool_->acquire(std::move(step.queued), dial, fresh_only, args.deadline,
                                      t.pool_wait);
      if (got.ec == errc::timeout)
        co_return exchange_result{got.ec, "timed out waiting for a connection to " + where.origin,
                                  sent};
      if (got.ec == http_errc::too_many_pending)
        co_return exchange_result{got.ec,
                                  "more than max_pending_requests (" +
                                      std::to_string(options_.max_pending_requests) +
                                      ") requests waiting for a connection",
                                  sent};
      if (got.ec)
        co_return exchange_result{got.ec, closed_.load() ? "the session is closed" : "cancelled",
                                  sent};
      conn = std::move(got.conn);
      t.reused = !conn.fresh();
      *args.out = {};
      if (conn.fresh()) {
        o = co_await asio::co_spawn(conn->strand(), attempt(conn.get(), where, x.via, args),
                                    asio::use_awaitable);
      } else {  // kept alive: straight to the exchange, deferred (no frame of its own)
        o = co_await conn->async_exchange(args, asio::deferred);
      }
      if (o.ec && conn.fresh() && o.where == stage::connect && is_out_of_descriptors(o.ec) &&
          conn.out_of_descriptors()) {
        // Nothing was sent: the request waits for a connection of this session to close
        // (or to come back to the pool), within its deadline, instead of failing.
        --sent;
        continue;
      }
      if (!o.ec) break;
      bool const resend = !conn.fresh() && !fresh_only && !o.got_response_bytes &&
                          (o.where == stage::write || o.where == stage::read) &&
                          is_stale_connection_error(o.raw) && is_idempotent(args.method) &&
                          !closed_.load();
      conn.reset();
      if (!resend) {
        if (closed_.load() && o.ec == errc::cancelled)
          co_return exchange_result{o.ec, "the session is closed", sent};
        co_return exchange_result{o.ec, std::move(o.what), sent};
      }
      // A streamed body goes again from its start, when its source can give it again.
      if (x.upload && !x.upload->rewind())
        co_return exchange_result{
            o.ec, std::move(o.what) + " (the request body cannot be sent again)", sent};
      stale_retries_.fetch_add(1, std::memory_order_relaxed);
      fresh_only = true;
    }
    t.tls_resumed = conn->tls_resumed();
    bool keep = options_.keep_alive && o.keep_alive && conn->clean();
    auto const idle = pool_idle_time(options_.idle_timeout, (*args.out)->find("keep-alive"));
    conn.release(keep && idle > clock::duration::zero(), idle);
    co_return exchange_result{{}, {}, sent, o.received};
  }

 private:
  // A request on a new connection, on the connection's strand: connect (to the proxy `via`
  // when set), then exchange. What `args` points to outlives the coroutine (the caller awaits
  // it).
  connection::awaitable<connection::outcome> attempt(std::shared_ptr<connection> conn,
                                                     const url_parts& where,
                                                     const proxy_endpoint* via,
                                                     connection::exchange_args args) {
    auto& t = *args.t;
    auto const connect_deadline =
        std::min(args.deadline, deadline_after(clock::now(), options_.connect_timeout));
    boost::system::error_code ec;
    auto const dial =
        dial_for(options_.connect_to, via ? via->host : where.host, via ? via->port : where.port);
    std::string const host(dial.host);
    auto const port = dial.port;
    resolver_cache::results_type endpoints;
    if (dial.addresses) {
      endpoints = pinned(*dial.addresses, host, port);
    } else if (auto literal = resolver_cache::literal(host, port)) {
      endpoints = std::move(*literal);
    } else if (auto kept = dns_->cached(host, port)) {
      endpoints = std::move(*kept);
    } else {
      auto const t0 = clock::now();
      endpoints = co_await resolve(host, port, connect_deadline, ec);
      t.dns += clock::now() - t0;
    }
    if (!ec && closed_.load()) ec = asio::error::operation_aborted;  // closed while resolving
    if (ec) {
      connection::outcome o;
      o.where = stage::resolve;
      o.ec = classify(ec, stage::resolve, X509_V_OK, o.what);
      if (via) note_proxy(o.what, *via);
      co_return o;
    }
    if (via && where.https) conn->tunnel = make_tunnel_target(where, *via);
    auto o = co_await conn->connect(endpoints, &tls_, options_.verify_tls, connect_deadline, t);
    if (!o.ec || o.where == stage::tls) pool_->connected();  // the TCP connection opened
    if (o.ec && via && o.where == stage::connect && o.ec != http_errc::proxy)
      note_proxy(o.what, *via);
    if (!o.ec && closed_.load()) {  // closed while connecting: nothing may be sent any more
      o.where = stage::connect;
      o.ec = classify(asio::error::operation_aborted, stage::connect, X509_V_OK, o.what);
    }
    if (o.ec) co_return o;
    if (conn->tls_resumed()) tls_resumed_.fetch_add(1, std::memory_order_relaxed);
    co_return co_await conn->async_exchange(args, connection::use_strand);
  }

  // A connect_rule's addresses, as a resolver's answer for `host:port`.
  static resolver_cache::results_type pinned(const std::vector<asio::ip::address>& addresses,
                                             const std::string& host, std::uint16_t port) {
    std::vector<asio::ip::tcp::endpoint> endpoints;
    endpoints.reserve(addresses.size());
    for (auto const& a : addresses) endpoints.emplace_back(a, port);
    return resolver_cache::results_type::create(endpoints.begin(), endpoints.end(), host,
                                                std::to_string(port));
  }

  // The addresses of `host:port` (a name), waiting at most until `deadline`; `ec` says why
  // not (Beast's timeout when the deadline passed). A lookup that hangs only keeps a DNS
  // thread: this request stops waiting on its deadline, or when cancelled or closed.
  connection::awaitable<resolver_cache::results_type> resolve(const std::string& host,
                                                              std::uint16_t port,
                                                              clock::time_point deadline,
                                                              boost::system::error_code& ec) {
    if (deadline == clock::time_point::max()) {
      auto [e, results] =
          co_await dns_->async_resolve(host, port, asio::as_tuple(connection::use_strand));
      ec = e;
      co_return results;
    }
    // One co_await per statement: GCC 12 mishandles temporaries in some (see session.hpp).
    auto const ex = co_await asio::this_coro::executor;
    auto const cancellation = co_await asio::this_coro::cancellation_state;
    deadline_guard<connection::strand_type> guard(ex, deadline, cancellation);
    auto [e, results] = co_await dns_->async_resolve(
        host, port, guard.bind(asio::as_tuple(connection::use_strand)));
    guard.done();
    if (e && guard.expired()) {  // an answer that came as the deadline passed is still taken
      ec = boost::beast::error::timeout;
      co_return resolver_cache::results_type{};
    }
    ec = e;
    co_return results;
  }

  session_options const options_;
  tls_context tls_;
  std::shared_ptr<connection_pool> pool_;
  std::shared_ptr<resolver_cache> dns_;
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> stale_retries_{0}, tls_resumed_{0};
};

}  // namespace fanout::detail

#endif
