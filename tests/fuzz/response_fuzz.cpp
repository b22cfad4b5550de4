// libFuzzer harness for the response path: arbitrary bytes from a server through the parser the
// connection uses (same header and body limits, fed in chunks as a socket would), then what
// session_impl::run_once does with the message: Keep-Alive timeout, Retry-After, a redirect's
// Location, and decompression bounded by max_body_bytes.
// The first input byte chooses the chunk size (low 6 bits) and a HEAD request (high bit).
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/session.hpp>

// Boost.URL compiled into the harness, so that its parser is instrumented too.
#include <boost/url/src.hpp>

#include <boost/asio/buffer.hpp>

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

void after_response(const fanout::detail::response_block& r) {
  using namespace fanout::detail;
  if (auto ka = r.find("keep-alive"))
    if (auto n = keep_alive_timeout(*ka); n && n->count() < 0) std::abort();
  if (auto ra = r.find("retry-after")) {
    auto const now = std::chrono::system_clock::from_time_t(1'700'000'000);
    if (auto w = parse_retry_after(*ra, now); w && w->count() < 0) std::abort();
  }
  if (auto loc = r.find("location")) {
    std::string next;
    if (!fanout::resolve_location("http://127.0.0.1:8080/a/b?q", *loc, next)) {
      fanout::url_parts where;
      std::string why;
      if (!fanout::parse_url(next, where, why) &&
          (where.host.empty() || where.target.empty() || where.target.front() != '/'))
        std::abort();
    }
  }
  if (auto ce = r.find("content-encoding")) {
    auto const plan = plan_content_codings(*ce);
    std::string decoded;
    auto ec = decode_content(plan, r.body(), max_body, decoded);
    if (!ec && decoded.size() > max_body) std::abort();
    if (!ec && !plan.unsupported) {
      // What the session hands the user: the decoded body, the coding headers gone.
      response_builder b;
      b.begin_copy(r, {"content-encoding", "content-length"}, max_body);
      b.append_body(decoded);
      auto again = b.finish();
      if (again->find("content-encoding") || again->status() != r.status() ||
          again->body() != decoded)
        std::abort();
    }
  }
  // Every field is where the index says, inside the block, and found by its name.
  std::size_t total = 0, count = 0;
  for (auto it = r.fields_begin(); it != r.fields_end(); ++it, ++count) {
    auto const f = *it;
    if (r.find(f.name) == std::nullopt) std::abort();
    total += f.name.size() + f.value.size();
  }
  if (count != r.field_count()) std::abort();
  if (total + r.reason().size() > max_header) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t const chunk = (data[0] & 0x3f) + 1u;
  bool const head = (data[0] & 0x80) != 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  // The step before the parser: a complete head lies inside the input, and a rewritten one is
  // a whole CRLF-terminated head.
  {
    using fanout::detail::response_head;
    std::string canonical;
    auto const h = fanout::detail::scan_response_head(in, head, canonical);
    if (h.result == response_head::state::complete) {
      if (h.size > in.size() || h.status < 0 || h.status > 999) std::abort();
      if (h.rewritten && (canonical.size() < 4 || !canonical.ends_with("\r\n\r\n"))) std::abort();
    }
  }

  // As connection::exchange configures it; async_read_header, then async_read (eager).
  fanout::detail::response_builder builder;
  builder.begin("http://127.0.0.1:8080/a/b?q", head ? "HEAD" : "GET", max_body);
  fanout::detail::response_reader p(
      builder, {.header = max_header, .body = max_body, .head = head, .body_hint = chunk * 100});

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
  if (ec || !p.is_done()) {
    builder.discard();
    return 0;
  }
  auto block = builder.finish();
  if (block->body().size() > max_body) std::abort();
  if (head && !block->body().empty()) std::abort();
  after_response(*block);
  return 0;
}
