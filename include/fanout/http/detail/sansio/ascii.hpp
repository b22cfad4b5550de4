#ifndef FANOUT_HTTP_DETAIL_SANSIO_ASCII_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_ASCII_HPP

#include <cstddef>
#include <string_view>

namespace fanout::detail {

// HTTP's names (fields, schemes, hosts) compare case-insensitively in ASCII, whatever the locale.
inline char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace fanout::detail

#endif
