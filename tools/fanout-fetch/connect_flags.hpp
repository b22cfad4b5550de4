#ifndef FANOUT_FETCH_CONNECT_FLAGS_HPP
#define FANOUT_FETCH_CONNECT_FLAGS_HPP

// --resolve and --connect-to, in curl's syntax, as the library's session_options::connect_to
// rules. Pure string work (table-tested).
//   --resolve [+]HOST:PORT:ADDR[,ADDR]...   HOST may be '*'; an IPv6 ADDR may be bracketed
//   --connect-to HOST1:PORT1:HOST2:PORT2    any field may be empty: any host or port (1),
//                                           the same host or port (2)

#include <fanout/http/options.hpp>

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fetch_tool {

/// The next ':'-separated field of `text` from `at` (a bracketed IPv6 literal kept whole,
/// without its brackets); `at` moves past the ':'. Nullopt when a '[' is not closed.
inline std::optional<std::string_view> next_field(std::string_view text, std::size_t& at) {
  auto rest = text.substr(std::min(at, text.size()));
  if (!rest.empty() && rest.front() == '[') {
    auto const close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    if (close + 1 < rest.size() && rest[close + 1] != ':') return std::nullopt;
    at += close + 2;
    return rest.substr(1, close - 1);
  }
  auto const colon = rest.find(':');
  at += colon == std::string_view::npos ? rest.size() + 1 : colon + 1;
  return rest.substr(0, colon);
}

/// A port field: empty is 0 (any, or the same) when `empty_ok`.
inline std::optional<std::uint16_t> port_field(std::string_view s, bool empty_ok) {
  if (s.empty()) return empty_ok ? std::optional<std::uint16_t>(0) : std::nullopt;
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (ec != std::errc() || end != s.data() + s.size() || port == 0) return std::nullopt;
  return port;
}

/// `--resolve`'s value as a rule, or nullopt when it is not HOST:PORT:ADDR[,ADDR...].
inline std::optional<fanout::connect_rule> parse_resolve(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);  // curl's "+": same here
  std::size_t at = 0;
  auto const host = next_field(text, at);
  auto const port_text = host ? next_field(text, at) : std::nullopt;
  auto const port = port_text ? port_field(*port_text, false) : std::nullopt;
  if (!host || host->empty() || !port || at >= text.size()) return std::nullopt;
  fanout::connect_rule rule{.host = std::string(*host), .port = *port};
  std::string_view list = text.substr(at);
  while (true) {
    auto const comma = list.find(',');
    auto address = list.substr(0, comma);
    if (address.size() > 2 && address.front() == '[' && address.back() == ']')
      address = address.substr(1, address.size() - 2);
    boost::system::error_code ec;
    auto const parsed = boost::asio::ip::make_address(std::string(address), ec);
    if (ec) return std::nullopt;
    rule.addresses.push_back(parsed);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return rule;
}

/// `--connect-to`'s value as a rule, or nullopt when it is not HOST1:PORT1:HOST2:PORT2.
inline std::optional<fanout::connect_rule> parse_connect_to(std::string_view text) {
  std::size_t at = 0;
  std::optional<std::string_view> fields[4];
  for (auto& f : fields) {
    if (at > text.size()) return std::nullopt;
    f = next_field(text, at);
    if (!f) return std::nullopt;
  }
  if (at <= text.size()) return std::nullopt;  // a fifth field
  auto const port = port_field(*fields[1], true), to_port = port_field(*fields[3], true);
  if (!port || !to_port) return std::nullopt;
  return fanout::connect_rule{.host = std::string(*fields[0]),
                              .port = *port,
                              .to_host = std::string(*fields[2]),
                              .to_port = *to_port};
}

}  // namespace fetch_tool

#endif
