#ifndef FANOUT_HTTP_DETAIL_SANSIO_RETRY_DECISION_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_RETRY_DECISION_HPP

// The retry decision, without I/O: after an attempt's outcome, how long to wait before the next
// one, or no next one. Table-tested in tests/http/sansio_decisions_test.cpp.

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/error.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

namespace fanout::detail {

/// What an attempt ended with, as far as the retry decision cares: a response's status and
/// `Retry-After` value, or the error code of a failed attempt.
struct attempt_outcome {
  std::optional<int> status{};  ///< set: a response came back
  std::optional<std::string_view> retry_after{};
  boost::system::error_code error{};  ///< when no response came back
};

/// The wait before the next attempt, or nullopt for none (the outcome stands):
///
/// - a response is retried only with a status that means "later" (429, 502, 503, 504); an
///   error only when `is_retryable` (connection failures, timeouts; never bad input, TLS
///   verification, protocol or size errors, cancellation);
/// - the wait is the server's `Retry-After` (seconds or an HTTP-date, relative to `now`),
///   capped by `max_backoff` (the retry policy's), or else `backoff` (the policy's jittered backoff
///   for this attempt, drawn by the caller);
/// - no retry when the wait would reach `time_left` (the request's deadline): the last
///   outcome is more use than a timeout;
/// - never less than 1 ms (with_retry reads zero as "the policy's backoff").
inline std::optional<std::chrono::milliseconds> retry_wait(
    const attempt_outcome& outcome, std::chrono::milliseconds max_backoff,
    std::chrono::milliseconds backoff, std::chrono::system_clock::time_point now,
    std::optional<std::chrono::nanoseconds> time_left) {
  using ms = std::chrono::milliseconds;
  std::optional<ms> asked;
  if (outcome.status) {
    if (!is_retryable_status(*outcome.status)) return std::nullopt;
    if (outcome.retry_after) asked = parse_retry_after(*outcome.retry_after, now);
  } else if (!is_retryable(outcome.error)) {
    return std::nullopt;
  }
  ms const wait = asked ? std::min(*asked, max_backoff) : backoff;
  if (time_left && wait >= *time_left) return std::nullopt;
  return std::max(wait, ms(1));
}

}  // namespace fanout::detail

#endif
