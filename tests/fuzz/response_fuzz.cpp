// libFuzzer harness for the response path: arbitrary bytes from a server through the parser the
// connection uses (same header and body limits, fed in chunks as a socket would), then what
// session_impl::run_once does with the message: Keep-Alive timeout, Retry-After, a redirect's
// Location, and decompression bounded by max_body_bytes.
// The first input byte chooses the chunk size (low 6 bits) and a HEAD request (high bit).
#include <fanout/http/session.hpp>

// Boost.URL compiled into the harness, so that its parser is instrumented too.
#include <boost/url/src.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace http = boost::beast::http;

// Smaller than the session's defaults, so that the fuzzer reaches both limits.
constexpr std::size_t max_header = 4096;
constexpr std::size_t max_body = 1 << 16;

void after_response(http::response<http::string_body>& msg) {
  using fanout::detail::decode_content;
  if (auto ka = msg.find(http::field::keep_alive); ka != msg.end())
    if (auto n = fanout::detail::keep_alive_timeout(ka->value()); n && n->count() < 0) std::abort();
  if (auto ra = msg.find(http::field::retry_after); ra != msg.end()) {
    auto const now = std::chrono::system_clock::from_time_t(1'700'000'000);
    if (auto w = fanout::detail::parse_retry_after(ra->value(), now); w && w->count() < 0)
      std::abort();
  }
  if (auto loc = msg.find(http::field::location); loc != msg.end()) {
    std::string next;
    if (!fanout::resolve_location("http://127.0.0.1:8080/a/b?q", loc->value(), next)) {
      fanout::url_parts where;
      std::string why;
      if (!fanout::parse_url(next, where, why) &&
          (where.host.empty() || where.target.empty() || where.target.front() != '/'))
        std::abort();
    }
  }
  if (auto ce = msg.find(http::field::content_encoding); ce != msg.end()) {
    bool unsupported = false;
    auto ec = decode_content(ce->value(), msg.body(), max_body, unsupported);
    if (!ec && msg.body().size() > max_body) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t const chunk = (data[0] & 0x3f) + 1u;
  bool const head = (data[0] & 0x80) != 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  // As connection::exchange configures it; async_read_header, then async_read (eager).
  http::response_parser<http::string_body> p;
  p.header_limit(static_cast<std::uint32_t>(max_header));
  p.body_limit(max_body);
  if (head) p.skip(true);

  std::string pending;
  std::size_t pos = 0;
  boost::system::error_code ec;
  while (!p.is_done()) {
    if (!pending.empty()) {
      auto used = p.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (p.is_header_done()) p.eager(true);
      if (!ec && used > 0) continue;
      if (ec && ec != http::error::need_more) break;
      ec = {};
    }
    if (pos == in.size()) {
      p.put_eof(ec);  // the server closed the connection
      break;
    }
    auto n = std::min(chunk, in.size() - pos);
    pending.append(in.substr(pos, n));
    pos += n;
  }
  if (ec || !p.is_done()) return 0;
  auto msg = p.release();
  if (msg.body().size() > max_body) std::abort();
  after_response(msg);
  return 0;
}
