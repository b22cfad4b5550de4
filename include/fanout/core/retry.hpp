#ifndef FANOUT_CORE_RETRY_HPP
#define FANOUT_CORE_RETRY_HPP

#include <fanout/core/error.hpp>
#include <fanout/core/result.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fanout {

/// How often, and how patiently, to try again: exponential backoff with full jitter (the
/// attempt after the n-th failure waits a uniformly random time in
/// [0, min(max_backoff, initial_backoff * 2^(n-1))], scaled by `jitter`).
struct retry_policy {
  /// Attempts in all, the first included: 1 means no retry.
  std::size_t max_attempts = 1;
  /// The backoff ceiling after the first failure; it doubles with each further failure.
  std::chrono::milliseconds initial_backoff = std::chrono::milliseconds(100);
  /// No wait is longer, a server's `Retry-After` included.
  std::chrono::milliseconds max_backoff = std::chrono::seconds(10);
  /// 1 = full jitter (uniform in [0, ceiling]); 0 = no jitter (always the ceiling); in between,
  /// uniform in [(1 - jitter) * ceiling, ceiling].
  double jitter = 1.0;
};

/// Throws `std::invalid_argument` naming `name` (the option holding `policy`) when a backoff is
/// negative, `max_attempts` is 0 (1 means no retry) or `jitter` is outside [0, 1].
inline void validate(const retry_policy& policy, std::string_view name = "retry") {
  auto fail = [&](std::string_view member, const std::string& why) {
    throw std::invalid_argument(std::string(name) + "." + std::string(member) + " " + why);
  };
  if (policy.max_attempts == 0) fail("max_attempts", "is 0: 1 means one attempt, no retry");
  if (policy.initial_backoff.count() < 0) fail("initial_backoff", "is negative");
  if (policy.max_backoff.count() < 0) fail("max_backoff", "is negative");
  if (!(policy.jitter >= 0 && policy.jitter <= 1))  // NaN too
    fail("jitter", "is " + std::to_string(policy.jitter) + ", outside [0, 1]");
}

/// The wait before attempt `failures + 1`, after `failures` (>= 1) failed attempts.
template <class Random>
std::chrono::milliseconds backoff_delay(const retry_policy& policy, std::size_t failures,
                                        Random& random) {
  using ms = std::chrono::milliseconds;
  double ceiling = double(policy.initial_backoff.count());
  for (std::size_t i = 1; i < failures && ceiling < double(policy.max_backoff.count()); ++i)
    ceiling *= 2;
  ceiling = std::min(ceiling, double(policy.max_backoff.count()));
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> spread((1.0 - jitter) * ceiling, ceiling);
  return ms(static_cast<ms::rep>(jitter > 0 ? spread(random) : ceiling));
}

/// Calls `attempt()` (returning `awaitable<result<T>>`) until it succeeds, `decide` declines,
/// or `policy.max_attempts` attempts were made; completes with the last outcome.
///
/// `decide(const result<T>&, std::size_t attempts_so_far)` is called after every attempt, a
/// success included (an HTTP 503 answer is a successful exchange that may deserve a retry). It
/// returns `std::nullopt` to stop, or the wait it wants before the next attempt (e.g. a server's
/// `Retry-After`), capped by `max_backoff`; a zero duration means the policy's own backoff.
/// The wait is a timer on the caller's executor: cancelling the caller ends it at once and
/// completes with the last outcome.
template <class Attempt, class Decide>
auto with_retry(retry_policy policy, Attempt attempt, Decide decide) -> decltype(attempt()) {
  std::minstd_rand random(std::random_device{}());
  auto outcome = co_await attempt();
  for (std::size_t attempts = 1; attempts < policy.max_attempts; ++attempts) {
    std::optional<std::chrono::milliseconds> wait = decide(outcome, attempts);
    if (!wait) break;
    if (*wait <= std::chrono::milliseconds::zero()) wait = backoff_delay(policy, attempts, random);
    asio::steady_timer timer(co_await asio::this_coro::executor,
                             std::min(*wait, policy.max_backoff));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;  // cancelled while waiting: the last outcome stands
    outcome = co_await attempt();
  }
  co_return outcome;
}

}  // namespace fanout

#endif
