#ifndef FANOUT_HTTP_DETAIL_SANSIO_CONNECT_RULES_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_CONNECT_RULES_HPP

// Which `session_options::connect_to` rule a connection follows (curl's --resolve and
// --connect-to), and where it then dials. Pure: no I/O.

#include <fanout/config.hpp>
#include <fanout/http/options.hpp>

#include <boost/beast/core/string.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fanout::detail {

/// Where a connection for `host:port` dials: a name (or literal) to resolve and a port, or
/// `addresses` to use as they are (then `host` is only for messages).
struct dial_destination {
  std::string_view host;
  std::uint16_t port = 0;
  const std::vector<boost::asio::ip::address>* addresses = nullptr;  ///< null: resolve `host`
};

/// The first rule of `rules` for `host` (lower case, no brackets) and `port`, or null. A
/// rule's host matches case-insensitively, brackets around an IPv6 literal ignored.
inline const connect_rule* find_connect_rule(const std::vector<connect_rule>& rules,
                                             std::string_view host, std::uint16_t port) {
  for (auto const& rule : rules) {
    std::string_view want = rule.host;
    if (want.size() > 2 && want.front() == '[' && want.back() == ']')
      want = want.substr(1, want.size() - 2);
    bool const any_host = want.empty() || want == "*";
    if ((any_host || boost::beast::iequals(want, host)) && (rule.port == 0 || rule.port == port))
      return &rule;
  }
  return nullptr;
}

/// Where a connection for `host:port` dials under `rules`.
inline dial_destination dial_for(const std::vector<connect_rule>& rules, std::string_view host,
                                 std::uint16_t port) {
  auto const* rule = find_connect_rule(rules, host, port);
  if (!rule) return {host, port, nullptr};
  dial_destination d{host, rule->to_port ? rule->to_port : port, nullptr};
  if (!rule->addresses.empty())
    d.addresses = &rule->addresses;
  else if (!rule->to_host.empty())
    d.host = rule->to_host;
  return d;
}

}  // namespace fanout::detail

#endif
