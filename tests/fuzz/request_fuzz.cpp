// libFuzzer harness for request building: method, one header name and value, and URL from
// arbitrary text (four lines; the rest is the body) through the session's checks before I/O
// (detail::build_request). Whatever passes must serialize to exactly one request line plus one
// line per header field: no CR, LF or NUL smuggled into the target or any field.
#include <fanout/http/detail/sansio/request_builder.hpp>

// Boost.URL compiled into the harness, so that its parser is instrumented too.
#include <boost/url/src.hpp>

#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

namespace {

bool wire_safe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The next line of `in` (without its '\n'), or false when there is none.
bool next_line(std::string_view& in, std::string& line) {
  auto nl = in.find('\n');
  if (nl == std::string_view::npos) return false;
  line.assign(in.substr(0, nl));
  in.remove_prefix(nl + 1);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  fanout::request req;
  std::string name, value;
  if (!next_line(in, req.method) || !next_line(in, name) || !next_line(in, value) ||
      !next_line(in, req.url))
    return 0;
  req.headers.emplace_back(std::move(name), std::move(value));
  req.body.assign(in);

  fanout::session_options const options;
  fanout::url_parts where;
  fanout::detail::request_message m;
  bool decompress = false;
  std::string what;
  std::string const method = req.method, url = req.url;
  if (fanout::detail::build_request(method, url, req, options, where, m, decompress, what)) {
    if (what.empty()) std::abort();  // every refusal says why
    return 0;
  }
  if (where.host.empty() || where.target.empty() || where.target.front() != '/') std::abort();
  if (!wire_safe(m.target()) || !wire_safe(m.method_string())) std::abort();
  std::size_t fields = 0;
  for (auto const& f : m) {
    ++fields;
    if (!wire_safe(f.name_string()) || !wire_safe(f.value())) std::abort();
  }
  std::ostringstream os;
  os << m;
  auto const wire = os.str();
  auto const end = wire.find("\r\n\r\n");
  if (end == std::string::npos) std::abort();
  std::size_t lines = 0;
  for (std::size_t i = wire.find("\r\n"); i < end; i = wire.find("\r\n", i + 2)) ++lines;
  // The request line and each field ended by one CRLF, and no other line break before the end.
  if (lines != fields) std::abort();
  if (std::count(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(end), '\n') !=
      static_cast<std::ptrdiff_t>(lines))
    std::abort();
  return 0;
}
