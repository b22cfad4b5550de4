#ifndef FANOUT_HTTP_DETAIL_NET_TLS_HPP
#define FANOUT_HTTP_DETAIL_NET_TLS_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/lru_map.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/options.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <string>

namespace fanout::detail {

/// The TLS client configuration of one session: an `asio::ssl::context` that verifies peers
/// against the system trust store (or `ca_file`) unless `verify_tls` is false, plus a cache of
/// one TLS session per origin so that new connections resume instead of doing a full handshake.
///
/// Thread-safe: connections on different strands share it.
class tls_context {
 public:
  /// Throws `fanout::system_error` with `http_errc::tls` when `ca_file` cannot be loaded.
  explicit tls_context(const session_options& o)
      : ctx_(boost::asio::ssl::context::tls_client), sessions_(o.max_cached_origins) {
    ctx_.set_options(boost::asio::ssl::context::default_workarounds |
                     boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                     boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (!o.ca_file.empty()) {
      ctx_.load_verify_file(o.ca_file, ec);
      if (ec)
        throw system_error(
            error(http_errc::tls, "cannot load ca_file \"" + o.ca_file + "\": " + ec.message()));
    } else {
      ctx_.set_default_verify_paths(ec);  // no trust store: every verification fails, clearly
    }
    ctx_.set_verify_mode(o.verify_tls ? boost::asio::ssl::verify_peer
                                      : boost::asio::ssl::verify_none);
    SSL_CTX* native = ctx_.native_handle();
    SSL_CTX_set_ex_data(native, ctx_index(), this);
    SSL_CTX_set_session_cache_mode(native,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(native, &tls_context::on_new_session);
  }

  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  boost::asio::ssl::context& native() noexcept { return ctx_; }

  /// Prepares a client `ssl` for `host` before its handshake: SNI (for names, not addresses),
  /// the session to resume, and where to store the next one. `key` must outlive `ssl`.
  void prepare(SSL* ssl, const std::string& host, const std::string& key) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set_ex_data(ssl, ssl_index(), const_cast<std::string*>(&key));
    std::lock_guard lock(mutex_);
    if (auto* kept = sessions_.find(key)) {
      if (expired(kept->get()))
        sessions_.erase(key);
      else
        SSL_set_session(ssl, kept->get());  // takes its own reference
    }
  }

  /// The number of TLS sessions cached: one per origin at most, `max_cached_origins` at most.
  std::size_t cached_sessions() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

 private:
  static int ctx_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
  }
  static int ssl_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
  }

  // OpenSSL calls this when the server issues a session (for TLS 1.3 after the handshake,
  // during a read). Returning 1 keeps the reference.
  static int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<tls_context*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index()));
    auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, ssl_index()));
    if (!self || !key) return 0;
    std::lock_guard lock(self->mutex_);
    self->sessions_.try_emplace(*key).first->reset(session);
    self->sessions_.trim([](const session_ptr&) { return true; },
                         [](const session_ptr& s) { return expired(s.get()); });
    return 1;
  }

  // A session past the lifetime the server gave it cannot be resumed.
  static bool expired(const SSL_SESSION* s) {
    return SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) <= std::time(nullptr);
  }

  struct session_free {
    void operator()(SSL_SESSION* s) const noexcept { SSL_SESSION_free(s); }
  };
  using session_ptr = std::unique_ptr<SSL_SESSION, session_free>;

  boost::asio::ssl::context ctx_;
  mutable std::mutex mutex_;
  lru_map<session_ptr> sessions_;  // the last session per origin, under `mutex_`
};

/// The peer verification callback: Asio's RFC 6125 `host_name_verification`, recording a
/// mismatch as `X509_V_ERR_HOSTNAME_MISMATCH` so the error message can say so.
class verify_host {
 public:
  explicit verify_host(const std::string& host) : check_(host) {}
  bool operator()(bool preverified, boost::asio::ssl::verify_context& ctx) {
    bool const ok = check_(preverified, ctx);
    if (!ok && preverified)
      X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
    return ok;
  }

 private:
  boost::asio::ssl::host_name_verification check_;
};

}  // namespace fanout::detail

#endif
