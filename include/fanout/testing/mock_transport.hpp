#ifndef FANOUT_TESTING_MOCK_TRANSPORT_HPP
#define FANOUT_TESTING_MOCK_TRANSPORT_HPP

// A transport that answers from a function: for tests of code that uses a `fanout::session`,
// without a server, a port or a socket (as httpx's MockTransport, Go's httptest.Server).
//
//   fanout::session http(ex, {.transport = fanout::testing::mock_transport{
//       [](const fanout::request& r) -> boost::asio::awaitable<fanout::testing::mock_response> {
//         if (r.url.ends_with("/old")) co_return {.status = 301, .headers = {{"Location",
//         "/new"}}}; co_return {.status = 200, .body = "hello"};
//       }}});
//
// Everything above the transport runs for real: request validation, redirects (the handler
// sees each hop), retries with Retry-After, rate limits, decompression (a gzip body with
// `Content-Encoding: gzip` is inflated), timeouts, cancellation, `raise_for_status`, gather.

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/request.hpp>
#include <fanout/http/transport.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/status.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace fanout::testing {

/// What a `mock_transport` handler answers to one request (one hop).
struct mock_response {
  /// The final status: 200 to 999 (an interim 1xx, or anything that is no 3-digit code, fails
  /// the exchange with `http_errc::protocol`, as such a reply from a server would).
  int status = 200;
  /// The response's fields, in order. `Content-Length` is not needed (the body is whole).
  header_list headers{};
  /// The body as sent: with `Content-Encoding: gzip` (or deflate), the compressed bytes.
  std::string body{};
  /// Answer only after this long, as a slow server would. The request's deadline still
  /// applies: past it the exchange fails with `errc::timeout`, the response unseen.
  std::chrono::milliseconds delay{0};
  /// Fail the exchange with this code instead of answering: `boost::asio::error::
  /// connection_refused` (which the retry policy retries), `fanout::http_errc::tls` (which it
  /// does not), ... The message says "<code's message> (mock transport)".
  boost::system::error_code error{};
};

/// The handler: one call per exchange, with the request as it would be sent (see
/// `mock_transport`). It may suspend (a timer, a channel); an exception it throws becomes the
/// request's error, as for any callable fanout runs.
using mock_handler = std::function<boost::asio::awaitable<mock_response>(const request&)>;

/// A `fanout::transport` that answers every exchange from `handler`, opening no socket.
///
/// The handler sees each hop's request as the session would send it: `method`; `url` (the
/// hop's absolute URL, after redirects); `headers` (every field of the message, the session's
/// own too: `Host`, `User-Agent`, `Accept-Encoding`, `Content-Type`, `Authorization`...);
/// `body` (a JSON body serialised). Nothing else of `request` is set.
///
/// Thread safety: the handler is called from the awaiting coroutines' executor, for many
/// exchanges at once when the session is used concurrently (on a thread pool, concurrently
/// with itself). Give one to several sessions by `std::shared_ptr` if you like: closing a
/// session does not close it.
class mock_transport final : public transport {
 public:
  explicit mock_transport(mock_handler handler) : handler_(std::move(handler)) {}

  mock_transport(const mock_transport& other) : handler_(other.handler_) {}
  mock_transport(mock_transport&& other) noexcept : handler_(std::move(other.handler_)) {}
  mock_transport& operator=(const mock_transport&) = delete;
  mock_transport& operator=(mock_transport&&) = delete;

  /// Exchanges run so far (each redirect hop and retry is one).
  std::size_t exchanges() const noexcept { return exchanges_.load(); }

  /// Calls the handler (within the deadline), waits the response's `delay` (within the
  /// deadline), then delivers it or its `error`. See `transport::async_exchange`.
  boost::asio::awaitable<exchange_result> async_exchange(exchange_request x) override {
    namespace asio = boost::asio;
    using clock = std::chrono::steady_clock;
    exchanges_.fetch_add(1, std::memory_order_relaxed);
    request const r = request_of(x);
    auto const ex = co_await asio::this_coro::executor;
    auto const timed_out = [] {
      return exchange_result{make_error_code(errc::timeout), "timed out while reading the response",
                             1};
    };

    mock_response answer;
    if (x.deadline == clock::time_point::max()) {
      answer = co_await handler_(r);
    } else {
      // Whichever ends first: the handler (its answer or its exception) or the deadline.
      asio::steady_timer deadline(ex, x.deadline);
      auto [order, thrown, answered, timer_ec] =
          co_await asio::experimental::make_parallel_group(
              asio::co_spawn(ex, handler_(r), asio::deferred), deadline.async_wait(asio::deferred))
              .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
      (void)timer_ec;
      if (order[0] == 1) co_return timed_out();
      if (thrown) std::rethrow_exception(thrown);
      answer = std::move(answered);
    }

    if (answer.delay.count() > 0) {
      auto const due = clock::now() + answer.delay;
      asio::steady_timer wait(ex, std::min(due, x.deadline));
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return exchange_result{make_error_code(errc::cancelled), "cancelled", 1};
      if (x.deadline < due) co_return timed_out();
    }
    if (answer.error)
      co_return exchange_result{answer.error, answer.error.message() + " (mock transport)", 1};
    if (answer.status < 200 || answer.status > 999)
      co_return exchange_result{
          make_error_code(http_errc::protocol),
          "invalid HTTP response: status " + std::to_string(answer.status) + " (mock transport)",
          1};
    bool const head = x.method == "HEAD";  // a HEAD response has no body, whatever it says
    std::string_view const body = head ? std::string_view() : std::string_view(answer.body);

    detail::response_builder b;
    b.begin(x.shown, x.method, x.max_body);
    b.status_line(
        answer.status,
        boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(answer.status)),
        11);
    for (auto const& [name, value] : answer.headers) b.field(name, value);
    b.header_done(body.size(), true);
    if (x.sink && !head && x.sink->take(*b.current())) {
      if (body.size() > x.max_sink_body)
        co_return exchange_result{make_error_code(http_errc::body_too_large),
                                  "response body larger than max_download_bytes", 1};
      // As a connection does: one piece at a time, the next only once the sink is done.
      for (std::size_t at = 0; at < body.size(); at += piece_size) {
        boost::system::error_code ec;
        co_await write_piece(*x.sink, body.substr(at, piece_size), ec);
        if (ec) co_return exchange_result{ec, "the body sink failed: " + ec.message(), 1, at};
      }
      *x.out = b.finish();
      co_return exchange_result{{}, {}, 1, body.size()};
    }
    if (body.size() > x.max_body)
      co_return exchange_result{make_error_code(http_errc::body_too_large),
                                "response body larger than max_body_bytes", 1};
    b.append_body(body);
    *x.out = b.finish();
    co_return exchange_result{{}, {}, 1, body.size()};
  }

 private:
  static constexpr std::size_t piece_size = 64 << 10;

  static boost::asio::awaitable<void> write_piece(exchange_sink& sink, std::string_view piece,
                                                  boost::system::error_code& ec) {
    namespace asio = boost::asio;
    using token = asio::redirect_error_t<asio::use_awaitable_t<>>;
    token tok = asio::redirect_error(asio::use_awaitable, ec);
    co_await asio::async_initiate<token, void(boost::system::error_code)>(
        [&sink, piece](auto handler) { sink.async_write(piece, std::move(handler)); }, tok);
  }

  // The request as the handler sees it: what the message says.
  static request request_of(const exchange_request& x) {
    request r;
    r.method = std::string(x.method);
    r.url = std::string(x.url);
    for (auto const& field : *x.message)
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    r.body = x.message->body();
    return r;
  }

  mock_handler handler_;
  std::atomic<std::size_t> exchanges_{0};
};

}  // namespace fanout::testing

#endif
