#ifndef FANOUT_FETCH_PROGRESS_HPP
#define FANOUT_FETCH_PROGRESS_HPP

// The progress line on a terminal's standard error:
//   [=========>      ] 12,345/50,000 24% 2,310 req/s 4.1 MB/s ETA 0:16 errors 12
// and, when the total is unknown (input from a pipe), without bar, percentage or ETA:
//   12,345/? 2,310 req/s 4.1 MB/s errors 12
// `progress_line` is a pure function of the counts (table-tested); the tool redraws it at
// most 10 times a second.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace fetch_tool {

/// What the progress line shows.
struct progress_state {
  std::size_t done = 0;
  std::optional<std::size_t> total;  ///< unset: unknown (a pipe)
  std::uint64_t bytes = 0;           ///< body bytes received
  std::size_t errors = 0;
  double seconds = 0;  ///< since the start
};

/// 1234567 -> "1,234,567".
inline std::string with_commas(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

/// A duration as "M:SS", or "H:MM:SS" from an hour on.
inline std::string clock_time(double seconds) {
  auto s = static_cast<std::uint64_t>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (s >= 3600)
    std::snprintf(
        text, sizeof text, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
        static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(text, sizeof text, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return text;
}

/// "[=====>    ]": `width` cells, filled in proportion, the head '>' until complete.
inline std::string progress_bar(std::size_t done, std::size_t total, std::size_t width) {
  std::size_t filled = total == 0 ? width : std::min(width, done * width / total);
  // Appended piece by piece: GCC 12 at -O2 warns falsely (-Wrestrict) on `"lit" + string&&`.
  std::string bar(1, '[');
  bar.append(filled, '=');
  if (filled < width) bar.append(1, '>').append(width - filled - 1, ' ');
  bar.push_back(']');
  return bar;
}

/// The requests per second: whole numbers with commas from 100 on, one decimal below.
inline std::string rate_text(double per_second) {
  if (per_second >= 100) return with_commas(static_cast<std::uint64_t>(std::llround(per_second)));
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", per_second);
  return text;
}

/// The progress line for `s` (no "\r", no newline); `bar_width` cells inside the brackets.
inline std::string progress_line(const progress_state& s, std::size_t bar_width = 16) {
  double const per_second = s.seconds > 0 ? double(s.done) / s.seconds : 0;
  char megabytes[32];
  std::snprintf(megabytes, sizeof megabytes, "%.1f",
                s.seconds > 0 ? double(s.bytes) / 1e6 / s.seconds : 0.0);
  std::string line;
  if (s.total) {
    auto const total = *s.total;
    auto const percent = total == 0 ? 100 : std::min<std::size_t>(100, s.done * 100 / total);
    line = progress_bar(s.done, total, bar_width) + " " + with_commas(s.done) + "/" +
           with_commas(total) + " " + std::to_string(percent) + "%";
  } else {
    line = with_commas(s.done) + "/?";
  }
  line.append(" ").append(rate_text(per_second)).append(" req/s ").append(megabytes);
  line.append(" MB/s");
  if (s.total) {
    auto const left = *s.total > s.done ? *s.total - s.done : 0;
    line.append(" ETA ").append(left == 0        ? clock_time(0)
                                : per_second > 0 ? clock_time(double(left) / per_second)
                                                 : std::string("-:--"));
  }
  return line + " errors " + with_commas(s.errors);
}

/// Redraws the line in place on `out`: carriage return, the line, erase to its end.
inline void draw_progress(std::FILE* out, const progress_state& s) {
  std::fprintf(out, "\r%s\x1b[K", progress_line(s).c_str());
  std::fflush(out);
}

}  // namespace fetch_tool

#endif
