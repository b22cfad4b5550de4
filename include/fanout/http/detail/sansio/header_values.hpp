#ifndef FANOUT_HTTP_DETAIL_SANSIO_HEADER_VALUES_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_HEADER_VALUES_HPP

// Response header values the session acts on, parsed as pure functions (table-tested in
// tests/http/session_retry_test.cpp and tests/http/sansio_decisions_test.cpp, fuzzed in
// tests/fuzz/response_fuzz.cpp).

#include <fanout/config.hpp>

#include <boost/beast/core/string.hpp>

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

/// `v` without the optional whitespace (SP, HTAB) around it: RFC 9110 §5.6.3's OWS.
inline std::string_view trim_ows(std::string_view v) noexcept {
  auto const first = v.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return v.substr(first, v.find_last_not_of(" \t") - first + 1);
}

/// Calls `f(element)` for each element of a comma-separated field value, trimmed of OWS; empty
/// elements are skipped, as RFC 9110 §5.6.1 asks of a recipient.
template <class F>
void for_each_list_element(std::string_view list, F&& f) {
  for (;;) {
    auto const comma = list.find(',');
    if (auto const element = trim_ows(list.substr(0, comma)); !element.empty()) f(element);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

/// The `timeout=N` of a `Keep-Alive` header, if any: its parameters are compared by name, so
/// `xtimeout=5` or `max=5, timeout` say nothing.
inline std::optional<std::chrono::seconds> keep_alive_timeout(std::string_view v) {
  std::optional<std::chrono::seconds> found;
  for_each_list_element(v, [&](std::string_view element) {
    auto const eq = element.find('=');
    if (found || eq == std::string_view::npos) return;
    if (!boost::beast::iequals(trim_ows(element.substr(0, eq)), "timeout")) return;
    auto const digits = trim_ows(element.substr(eq + 1));
    if (digits.empty() || digits.size() > 6) return;
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return;
    long n = 0;
    for (char c : digits) n = n * 10 + (c - '0');
    found = std::chrono::seconds(n);
  });
  return found;
}

/// How long a connection may idle in the pool after a response: our `idle_timeout` (0: none,
/// which is a year: a pooled connection's expiry must be a time), shortened by the server's
/// `Keep-Alive: timeout=N` when it sent one, less a margin (a second, or half of N) so that
/// nothing is ever sent on a connection the server is closing. Zero or less: do not keep it.
inline std::chrono::steady_clock::duration pool_idle_time(
    std::chrono::milliseconds idle_timeout, std::optional<std::string_view> keep_alive) {
  using duration = std::chrono::steady_clock::duration;
  auto idle = std::chrono::duration_cast<duration>(
      idle_timeout.count() > 0 ? idle_timeout : std::chrono::hours(24 * 365));
  if (keep_alive) {
    if (auto n = keep_alive_timeout(*keep_alive)) {
      auto const server = std::chrono::duration_cast<duration>(*n);
      auto const margin = std::min<duration>(std::chrono::seconds(1), server / 2);
      idle = std::min(idle, server - margin);
    }
  }
  return idle;
}

/// The instant an HTTP-date names (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and
/// asctime forms a recipient must still accept), or nullopt when `v` is none of them or names
/// no day of the calendar (30 February). `now` places RFC 850's two-digit year: the recipient
/// "MUST interpret a timestamp that appears to be more than 50 years in the future as
/// representing the most recent year in the past that had the same last two digits".
inline std::optional<std::chrono::sys_seconds> parse_http_date(
    std::string_view v, std::chrono::system_clock::time_point now) {
  namespace chrono = std::chrono;
  enum form { imf_fixdate, rfc850, asctime };
  static constexpr const char* formats[] = {"%a, %d %b %Y %H:%M:%S GMT",
                                            "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"};
  for (int f = imf_fixdate; f <= asctime; ++f) {
    std::tm tm{};
    std::istringstream in{std::string(v)};
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, formats[f]);
    if (in.fail()) continue;
    int year = tm.tm_year + 1900;
    if (f == rfc850) {
      int const this_year =
          static_cast<int>(chrono::year_month_day(chrono::floor<chrono::days>(now)).year());
      year = this_year - this_year % 100 + (tm.tm_year % 100);
      if (year > this_year + 50) year -= 100;
    }
    chrono::year_month_day const date{chrono::year(year),
                                      chrono::month(static_cast<unsigned>(tm.tm_mon + 1)),
                                      chrono::day(static_cast<unsigned>(tm.tm_mday))};
    if (!date.ok() || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) return std::nullopt;
    return chrono::sys_days(date) + chrono::hours(tm.tm_hour) + chrono::minutes(tm.tm_min) +
           chrono::seconds(tm.tm_sec);
  }
  return std::nullopt;
}

/// The wait a `Retry-After` value asks for: delta-seconds or an HTTP-date, relative to `now`.
/// A date in the past means no wait (zero); a wait beyond a year is capped at a year (far beyond
/// any `max_backoff`); an unparsable value, nullopt.
inline std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view v, std::chrono::system_clock::time_point now) {
  namespace chrono = std::chrono;
  constexpr chrono::hours a_year(24 * 365);
  v = trim_ows(v);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return a_year;
    long n = 0;
    for (char c : v) n = n * 10 + (c - '0');
    return chrono::seconds(n);
  }
  auto const when = parse_http_date(v, now);
  if (!when) return std::nullopt;
  // In seconds first: system_clock's nanoseconds overflow before the year 2262 or 1678.
  auto const now_s = chrono::floor<chrono::seconds>(now);
  if (*when <= now_s) return chrono::milliseconds::zero();
  if (*when - now_s > a_year) return a_year;
  return std::max(chrono::ceil<chrono::milliseconds>(*when - now), chrono::milliseconds::zero());
}

/// A field value of nothing but spaces and tabs.
inline bool is_blank(std::string_view v) noexcept {
  return trim_ows(v).empty();
}

/// Statuses a server uses to say "not now, later".
inline bool is_retryable_status(int status) noexcept {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

}  // namespace fanout::detail

#endif
