#ifndef FANOUT_DETAIL_HTTP_RESOLVER_CACHE_HPP
#define FANOUT_DETAIL_HTTP_RESOLVER_CACHE_HPP

#include <fanout/config.hpp>
#include <fanout/detail/http/complete.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace fanout::detail {

/// Asynchronous DNS with a short cache per (host, port): concurrent misses for one host share
/// one lookup, and later requests reuse its addresses until `ttl` passes. Thread-safe.
class resolver_cache : public std::enable_shared_from_this<resolver_cache> {
 public:
  using clock = std::chrono::steady_clock;
  using results_type = boost::asio::ip::tcp::resolver::results_type;
  using signature = void(boost::system::error_code, results_type);

  resolver_cache(boost::asio::any_io_executor ex, clock::duration ttl)
      : strand_(boost::asio::make_strand(ex)), ttl_(ttl) {}

  /// Resolves `host:port`, completing with the addresses or the resolver's error (Beast's
  /// `error::timeout` when `timeout` passes first). The handler runs on its associated executor.
  /// Cancellation of one caller is not supported: the lookup is bounded by `timeout` instead.
  template <class Token>
  auto async_resolve(const std::string& host, std::uint16_t port, clock::duration timeout,
                     Token&& token) {
    return boost::asio::async_initiate<Token, signature>(
        [this](auto handler, const std::string& host, std::uint16_t port, clock::duration timeout) {
          start(boost::asio::any_completion_handler<signature>(std::move(handler)), host, port,
                timeout);
        },
        token, host, port, timeout);
  }

  /// The address itself when `host` is an IP literal ("127.0.0.1", "::1"): nothing to look up,
  /// so no round through the resolver's thread (as curl and browsers do).
  static std::optional<results_type> literal(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto const address = boost::asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    return results_type::create(boost::asio::ip::tcp::endpoint(address, port), host,
                                std::to_string(port));
  }

  /// Lookups actually sent to the system resolver.
  std::size_t lookups() const noexcept { return lookups_.load(std::memory_order_relaxed); }

 private:
  struct entry {
    results_type results;
    clock::time_point expires{};
    bool pending = false;
    std::vector<boost::asio::any_completion_handler<signature>> waiters;
  };

  void start(boost::asio::any_completion_handler<signature> handler, const std::string& host,
             std::uint16_t port, clock::duration timeout) {
    std::string key = host + ':' + std::to_string(port);
    std::unique_lock lock(mutex_);
    auto& e = entries_[key];
    if (!e.pending && e.expires > clock::now()) {
      auto results = e.results;
      lock.unlock();
      complete_later(strand_, std::move(handler), boost::system::error_code{}, std::move(results));
      return;
    }
    e.waiters.push_back(std::move(handler));
    if (e.pending) return;
    e.pending = true;
    lookups_.fetch_add(1, std::memory_order_relaxed);
    lock.unlock();

    struct op_state {
      boost::asio::ip::tcp::resolver resolver;
      boost::asio::steady_timer timer;
      bool timed_out = false;
    };
    auto op = std::make_shared<op_state>(op_state{boost::asio::ip::tcp::resolver(strand_),
                                                  boost::asio::steady_timer(strand_), false});
    op->timer.expires_after(timeout);
    op->timer.async_wait([op](boost::system::error_code ec) {
      if (ec) return;
      op->timed_out = true;
      op->resolver.cancel();
    });
    op->resolver.async_resolve(
        host, std::to_string(port),
        [self = shared_from_this(), op, key = std::move(key)](boost::system::error_code ec,
                                                              results_type results) {
          op->timer.cancel();
          if (ec && op->timed_out) ec = boost::beast::error::timeout;
          std::vector<boost::asio::any_completion_handler<signature>> waiters;
          {
            std::lock_guard lock(self->mutex_);
            auto it = self->entries_.find(key);
            waiters = std::move(it->second.waiters);
            if (ec) {
              self->entries_.erase(it);
            } else {
              it->second.pending = false;
              it->second.results = results;
              it->second.expires = clock::now() + self->ttl_;
            }
          }
          for (auto& w : waiters) complete_later(self->strand_, std::move(w), ec, results);
        });
  }

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  clock::duration ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
  std::atomic<std::size_t> lookups_{0};
};

}  // namespace fanout::detail

#endif
