#ifndef FANOUT_HTTP_DETAIL_SANSIO_HEADER_VALUES_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_HEADER_VALUES_HPP

// Response header values the session acts on, parsed as pure functions (table-tested in
// tests/http/session_retry_test.cpp, fuzzed in tests/fuzz/response_fuzz.cpp).

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/ascii.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace fanout::detail {

// The `timeout=N` of a `Keep-Alive` header, if any.
inline std::optional<std::chrono::seconds> keep_alive_timeout(std::string_view v) {
  for (std::size_t i = 0; i + 8 <= v.size(); ++i) {
    if (!iequals(v.substr(i, 8), "timeout=")) continue;
    std::size_t j = i + 8;
    long n = 0;
    bool digits = false;
    while (j < v.size() && v[j] >= '0' && v[j] <= '9' && n < 1'000'000) {
      n = n * 10 + (v[j++] - '0');
      digits = true;
    }
    if (digits) return std::chrono::seconds(n);
    return std::nullopt;
  }
  return std::nullopt;
}

// The wait a `Retry-After` value asks for: delta-seconds or an HTTP-date (IMF-fixdate, or the
// obsolete RFC 850 and asctime forms RFC 9110 still requires us to accept), relative to `now`.
// A date in the past means no wait (zero); an unparsable value, nullopt.
inline std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view v, std::chrono::system_clock::time_point now) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::chrono::hours(24 * 365);  // far beyond any max_backoff
    long n = 0;
    for (char c : v) n = n * 10 + (c - '0');
    return std::chrono::seconds(n);
  }
  static constexpr const char* formats[] = {"%a, %d %b %Y %H:%M:%S GMT",
                                            "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"};
  for (const char* format : formats) {
    std::tm tm{};
    std::istringstream in{std::string(v)};
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, format);
    if (in.fail()) continue;
#ifdef _WIN32
    std::time_t t = _mkgmtime(&tm);
#else
    std::time_t t = timegm(&tm);
#endif
    if (t == std::time_t(-1)) continue;
    // In seconds first: system_clock's nanoseconds overflow before the year 2262 or 1678.
    auto const now_s = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
    if (t < now_s) return std::chrono::milliseconds::zero();
    if (t - now_s > 365L * 24 * 3600) return std::chrono::hours(24 * 365);
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(
        std::chrono::system_clock::from_time_t(t) - now);
    return std::max(wait, std::chrono::milliseconds::zero());
  }
  return std::nullopt;
}

// A field value of nothing but spaces and tabs.
inline bool is_blank(std::string_view v) noexcept {
  return v.find_first_not_of(" \t") == std::string_view::npos;
}

// Statuses a server uses to say "not now, later".
inline bool is_retryable_status(int status) noexcept {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

}  // namespace fanout::detail

#endif
