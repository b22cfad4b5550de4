#ifndef FANOUT_HTTP_DETAIL_HTTP1_RESPONSE_READER_HPP
#define FANOUT_HTTP_DETAIL_HTTP1_RESPONSE_READER_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>

#include <boost/beast/http/basic_parser.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <system_error>

namespace fanout::detail {

/// Beast's HTTP/1 response parser, writing what it parses into a `response_builder` instead of
/// a `beast::http::message` (see response_block for why). Beast does the parsing, the limits,
/// keep-alive and chunked decoding; this only decides where the bytes go. One per response.
class response_reader final : public boost::beast::http::basic_parser<false> {
 public:
  struct limits {
    std::size_t header = 0;  ///< header block, bytes
    std::size_t body = 0;    ///< body, bytes
    bool head = false;       ///< the answer to a HEAD request: no body follows
    /// Room for a body of unknown length (chunked, or up to the end of the connection) before
    /// it grows: what the previous response on the connection had.
    std::size_t body_hint = 0;
  };

  /// `builder` must have been `begin()`ed for this response; it outlives the reader.
  response_reader(response_builder& builder, limits l)
      : builder_(builder), body_hint_(std::min(l.body_hint, l.body)) {
    header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(l.header, std::numeric_limits<std::uint32_t>::max())));
    body_limit(l.body);
    if (l.head) skip(true);
  }

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
    // Beast has already refused a Content-Length beyond the body limit; the builder believes
    // it only up to its first reservation.
    guarded(ec, [&] {
      if (content_length)
        builder_.header_done(static_cast<std::size_t>(*content_length), true);
      else
        builder_.header_done(body_hint_);
    });
  }
  std::size_t on_body_impl(string_view body, error_code& ec) override {
    return guarded(ec, [&] { builder_.append_body(view(body)); }) ? body.size() : 0;
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
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
};

}  // namespace fanout::detail

#endif
