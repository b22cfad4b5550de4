#ifndef FANOUT_HTTP_DETAIL_HTTP1_RESPONSE_READER_HPP
#define FANOUT_HTTP_DETAIL_HTTP1_RESPONSE_READER_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>

#include <boost/beast/http/basic_parser.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <string_view>
#include <system_error>
#include <utility>

namespace fanout::detail {

/// Beast's HTTP/1 response parser, writing what it parses into a `response_builder` instead of
/// a `beast::http::message` (see response_block for why). Beast does the parsing, the limits,
/// keep-alive and chunked decoding; this only decides where the bytes go. One per response.
class response_reader final : public boost::beast::http::basic_parser<false> {
 public:
  struct limits {
    std::size_t header = 0;  ///< header block, bytes
    std::size_t body = 0;    ///< body kept in the response, bytes
    /// Body handed out piece by piece (`stream_body`), bytes; used instead of `body` as the
    /// parser's limit when larger (a sink's limit), `body` then being checked here.
    std::uint64_t streamed_body = 0;
    bool head = false;  ///< the answer to a HEAD request: no body follows
    /// Room for a body of unknown length (chunked, or up to the end of the connection) before
    /// it grows: what the previous response on the connection had.
    std::size_t body_hint = 0;
  };

  /// `builder` must have been `begin()`ed for this response; it outlives the reader.
  response_reader(response_builder& builder, limits l)
      : builder_(builder),
        body_hint_(std::min(l.body_hint, l.body)),
        kept_limit_(l.body),
        streamed_limit_(l.streamed_body) {
    header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(l.header, std::numeric_limits<std::uint32_t>::max())));
    body_limit(std::max<std::uint64_t>(l.body, l.streamed_body));
    if (l.head) skip(true);
  }

  /// From now on the body is not kept: each piece parsed is left for `take_piece` (then one
  /// piece per `put`: the parser is made non-eager).
  void stream_body() noexcept {
    streaming_ = true;
    eager(false);
  }
  bool streaming() const noexcept { return streaming_; }
  /// The body piece the last `put` parsed (a view into what it was given), or empty.
  std::string_view take_piece() noexcept { return std::exchange(piece_, {}); }
  /// Body bytes parsed so far (kept or streamed).
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }

 private:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;
  static std::string_view view(string_view s) noexcept { return {s.data(), s.size()}; }

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}  // a response parser never sees one
  void on_response_impl(int code, string_view reason, int version, error_code&) override {
    builder_.status_line(code, view(reason), version);
  }
  void on_field_impl(boost::beast::http::field, string_view name, string_view value,
                     error_code&) override {
    builder_.field(view(name), view(value));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const& content_length,
                         error_code& ec) override {
    // Beast checked the Content-Length against the larger limit: each body is held to its own
    // here. The builder believes it only up to its first reservation.
    if (content_length && *content_length > (streaming_ ? streamed_limit_ : kept_limit_)) {
      ec = boost::beast::http::error::body_limit;
      return;
    }
    if (streaming_) return;
    guarded(ec, [&] {
      if (content_length)
        builder_.header_done(static_cast<std::size_t>(*content_length), true);
      else
        builder_.header_done(body_hint_);
    });
  }
  std::size_t on_body_impl(string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return take(body, ec);
  }
  std::size_t take(string_view body, error_code& ec) {
    body_bytes_ += body.size();
    if (body_bytes_ > (streaming_ ? streamed_limit_ : kept_limit_)) {
      ec = boost::beast::http::error::body_limit;
      return 0;
    }
    if (streaming_) {
      piece_ = view(body);
      return body.size();
    }
    return guarded(ec, [&] { builder_.append_body(view(body)); }) ? body.size() : 0;
  }
  // An allocation that fails while the parser calls us is this response's error, not an
  // exception out of the parser (and out of io_context::run).
  template <class F>
  static bool guarded(error_code& ec, F&& f) noexcept {
    try {
      f();
      return true;
    } catch (const std::bad_alloc&) {
      ec = make_error_code(std::errc::not_enough_memory);
      return false;
    }
  }
  void on_finish_impl(error_code&) override {}

  response_builder& builder_;
  std::size_t body_hint_;
  std::uint64_t kept_limit_;
  std::uint64_t streamed_limit_;
  std::uint64_t body_bytes_ = 0;
  std::string_view piece_;
  bool streaming_ = false;
};

}  // namespace fanout::detail

#endif
