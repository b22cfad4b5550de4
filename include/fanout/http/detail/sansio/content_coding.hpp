#ifndef FANOUT_HTTP_DETAIL_SANSIO_CONTENT_CODING_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_CONTENT_CODING_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>
#include <fanout/http/error.hpp>

#include <boost/beast/core/string.hpp>

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fanout::detail {

/// One coding of a `Content-Encoding` list.
enum class content_coding { identity, gzip, deflate, unsupported };

/// "gzip"/"x-gzip", "deflate", "identity"/"none" or empty (identity), case-insensitive;
/// anything else (br, zstd) is unsupported.
inline content_coding content_coding_of(std::string_view encoding) noexcept {
  if (encoding.empty() || boost::beast::iequals(encoding, "identity") ||
      boost::beast::iequals(encoding, "none"))
    return content_coding::identity;
  if (boost::beast::iequals(encoding, "gzip") || boost::beast::iequals(encoding, "x-gzip"))
    return content_coding::gzip;
  if (boost::beast::iequals(encoding, "deflate")) return content_coding::deflate;
  return content_coding::unsupported;
}

/// A `Content-Encoding` value as the codings to undo, first to undo first: the reverse of the
/// order in which they were applied (RFC 9110 §8.4). identity/none are dropped (no-ops);
/// `unsupported` is true when any coding is one we cannot undo, and then the body is to be
/// left as it is (with its header), never half-decoded.
struct coding_plan {
  std::vector<content_coding> undo;
  bool unsupported = false;
};

inline coding_plan plan_content_codings(std::string_view value) {
  coding_plan plan;
  for_each_list_element(value, [&](std::string_view item) {
    auto const c = content_coding_of(item);
    if (c == content_coding::unsupported) plan.unsupported = true;
    if (c == content_coding::gzip || c == content_coding::deflate) plan.undo.push_back(c);
  });
  std::reverse(plan.undo.begin(), plan.undo.end());
  return plan;
}

/// Inflates `in` (gzip or zlib, detected; `raw` true: a bare deflate stream), handing the output
/// to `sink(std::string_view)` in pieces. Every gzip member is decoded (RFC 1952 §2.2). Stops with
/// `http_errc::body_too_large` once the output would exceed `limit` bytes, so a small bomb never
/// makes more than the limit. A truncated stream, a bad checksum or bytes after the stream are
/// `http_errc::decompression`: a body that was not decoded whole is never a shorter success.
template <class Sink>
boost::system::error_code inflate_to(std::string_view in, std::size_t limit, bool raw,
                                     Sink&& sink) {
  z_stream zs{};
  // 15 + 32: zlib or gzip header, detected; -15: raw deflate.
  if (inflateInit2(&zs, raw ? -15 : 15 + 32) != Z_OK)
    return make_error_code(http_errc::decompression);
  struct ender {
    z_stream& zs;
    ~ender() { inflateEnd(&zs); }
  } const end_at_exit{zs};
  auto const* next = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t left = in.size();  // may exceed uInt: fed in pieces
  auto feed = [&] {
    if (zs.avail_in != 0 || left == 0) return;
    auto const piece = std::min<std::size_t>(left, std::numeric_limits<uInt>::max());
    zs.next_in = const_cast<Bytef*>(next);
    zs.avail_in = static_cast<uInt>(piece);
    next += piece;
    left -= piece;
  };
  unsigned char buf[16 << 10];
  std::size_t produced = 0;
  for (;;) {
    feed();
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    int const rc = inflate(&zs, Z_NO_FLUSH);
    std::size_t const got = sizeof buf - zs.avail_out;
    if (got > limit - std::min(limit, produced)) return make_error_code(http_errc::body_too_large);
    produced += got;
    if (got) sink(std::string_view(reinterpret_cast<const char*>(buf), got));
    if (rc == Z_STREAM_END) {
      feed();
      if (zs.avail_in == 0) return {};
      // More after a gzip member: only another member may follow.
      bool const gzip_member = !raw && zs.avail_in + left >= 2 && zs.next_in[0] == 0x1f &&
                               (zs.avail_in >= 2 ? zs.next_in[1] : next[0]) == 0x8b;
      if (!gzip_member || inflateReset(&zs) != Z_OK)
        return make_error_code(http_errc::decompression);
      continue;
    }
    if (rc == Z_OK) continue;
    // Z_BUF_ERROR with room to write: more input is needed; none left is a truncated stream.
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && left != 0) continue;
    return make_error_code(http_errc::decompression);
  }
}

/// Undoes one coding of `body` into `sink` ("deflate": zlib-wrapped, as the RFC says, or the
/// raw deflate some servers send, as browsers and curl accept). Bounded by `limit`.
template <class Sink>
boost::system::error_code undo_coding(content_coding coding, std::string_view body,
                                      std::size_t limit, Sink&& sink) {
  if (coding == content_coding::gzip) return inflate_to(body, limit, false, sink);
  // A zlib stream starts with CMF 0x?8 and a header checksum; anything else is raw deflate.
  bool const zlib =
      body.size() >= 2 && (static_cast<unsigned char>(body[0]) & 0x0f) == 8 &&
      ((static_cast<unsigned char>(body[0]) << 8) | static_cast<unsigned char>(body[1])) % 31 == 0;
  return inflate_to(body, limit, !zlib, sink);
}

/// Undoes every coding of `plan` (which must not be `unsupported`) on `body`, the last into
/// `sink`; the intermediate layers go through a string. Bounded by `limit` at every layer.
template <class Sink>
boost::system::error_code decode_content(const coding_plan& plan, std::string_view body,
                                         std::size_t limit, Sink&& sink) {
  if (plan.undo.empty()) {
    if (body.size() > limit) return make_error_code(http_errc::body_too_large);
    if (!body.empty()) sink(body);
    return {};
  }
  std::string layer, next_layer;
  std::string_view current = body;
  for (std::size_t i = 0; i + 1 < plan.undo.size(); ++i) {
    next_layer.clear();
    if (auto ec = undo_coding(plan.undo[i], current, limit,
                              [&](std::string_view piece) { next_layer.append(piece); }))
      return ec;
    layer.swap(next_layer);
    current = layer;
  }
  return undo_coding(plan.undo.back(), current, limit, sink);
}

/// `decode_content` into a string (cleared first).
inline boost::system::error_code decode_content(const coding_plan& plan, std::string_view body,
                                                std::size_t limit, std::string& out) {
  out.clear();
  return decode_content(plan, body, limit, [&](std::string_view piece) { out.append(piece); });
}

/// Undoes the `Content-Encoding` of the response in `block`, replacing it with a block whose
/// body is decoded and which no longer has `Content-Encoding` or `Content-Length` fields. Bounded
/// by `limit` bytes of decoded body. A response without codings, or with one fanout cannot undo,
/// is left as it came, header and all. On failure `block` is unchanged and `what` says why:
/// `http_errc::body_too_large`, `http_errc::decompression` (truncated, corrupt, or followed by
/// other bytes: never a shorter success), or `not_enough_memory`.
inline boost::system::error_code decode_response(block_ptr& block, std::size_t limit,
                                                 std::string& what) {
  auto const encoding = block->find("content-encoding");
  if (!encoding) return {};
  auto const plan = plan_content_codings(*encoding);
  if (plan.unsupported) return {};
  response_builder decoded;
  boost::system::error_code ec;
  try {
    decoded.begin_copy(*block, {"content-encoding", "content-length"}, limit);
    ec = decode_content(plan, block->body(), limit,
                        [&](std::string_view piece) { decoded.append_body(piece); });
  } catch (const std::bad_alloc&) {
    ec = make_error_code(std::errc::not_enough_memory);
  }
  if (ec == http_errc::body_too_large)
    what = "decompressed body larger than max_body_bytes (" + std::to_string(limit) + ")";
  else if (ec == std::errc::not_enough_memory)
    what = "out of memory decoding the " + std::string(*encoding) + " body";
  else if (ec)
    what = "cannot decode the " + std::string(*encoding) +
           " body (truncated, corrupt, or followed by other bytes)";
  if (!ec) block = decoded.finish();
  return ec;
}

}  // namespace fanout::detail

#endif
