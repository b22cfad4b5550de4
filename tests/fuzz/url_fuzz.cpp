// libFuzzer harness for URL handling: parse_url on arbitrary text, and resolve_location of an
// arbitrary Location against an arbitrary base (the input split at its first newline).
// Invariants checked: no crash, and whatever parses yields parts safe to put on the wire.
#include <fanout/http/url.hpp>

// Boost.URL compiled into the harness, so that its parser is instrumented too.
#include <boost/url/src.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

bool wire_safe(std::string_view s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0' || c == ' ') return false;
  return true;
}

void check_parts(const fanout::url_parts& p) {
  if (p.host.empty() || p.port == 0 || p.target.empty() || p.target.front() != '/') std::abort();
  if (!wire_safe(p.host) || !wire_safe(p.host_header) || !wire_safe(p.target)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  fanout::url_parts parts;
  std::string why;
  if (!fanout::parse_url(in, parts, why)) check_parts(parts);

  auto nl = in.find('\n');
  if (nl != std::string_view::npos) {
    std::string resolved;
    if (!fanout::resolve_location(in.substr(0, nl), in.substr(nl + 1), resolved)) {
      fanout::url_parts again;
      if (!fanout::parse_url(resolved, again, why)) check_parts(again);
    }
  }
  return 0;
}
