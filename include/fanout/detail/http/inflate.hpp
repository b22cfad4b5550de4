#ifndef FANOUT_DETAIL_HTTP_INFLATE_HPP
#define FANOUT_DETAIL_HTTP_INFLATE_HPP

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>
#include <fanout/detail/http/ascii.hpp>

#include <zlib.h>

#include <string>
#include <string_view>

namespace fanout::detail {

/// Inflates a gzip or zlib body (`raw` true: a bare deflate stream) into `out`, stopping with
/// `errc::body_too_large` as soon as the output would exceed `limit` bytes, so a small bomb
/// never allocates more than the limit. Other failures are `errc::decompression`.
FANOUT_DECL boost::system::error_code inflate_body(std::string_view in, std::size_t limit, bool raw,
                                                   std::string& out) {
  z_stream zs{};
  // 15 + 32: zlib or gzip header, detected; -15: raw deflate.
  if (inflateInit2(&zs, raw ? -15 : 15 + 32) != Z_OK) return make_error_code(errc::decompression);
  out.clear();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  std::size_t chunk = std::max<std::size_t>(in.size() * 4, 4096);
  while (rc != Z_STREAM_END) {
    if (out.size() >= limit + 1) {
      inflateEnd(&zs);
      return make_error_code(errc::body_too_large);
    }
    std::size_t const room = std::min(chunk, limit + 1 - out.size());
    std::size_t const old = out.size();
    out.resize(old + room);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(room);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + room - zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      inflateEnd(&zs);
      return make_error_code(errc::decompression);
    }
    if (zs.avail_in == 0 && zs.avail_out != 0) {  // input ended before the stream did
      inflateEnd(&zs);
      return make_error_code(errc::decompression);
    }
    chunk *= 2;
  }
  inflateEnd(&zs);
  if (out.size() > limit) return make_error_code(errc::body_too_large);
  return {};
}

/// What a `Content-Encoding` value asks of us.
enum class content_coding { identity, gzip, deflate, unsupported };

/// "gzip"/"x-gzip", "deflate", "identity" or empty (identity), case-insensitive; anything else
/// (br, zstd, a list of codings) is unsupported and left to the user.
inline content_coding content_coding_of(std::string_view encoding) noexcept {
  if (encoding.empty() || iequals(encoding, "identity")) return content_coding::identity;
  if (iequals(encoding, "gzip") || iequals(encoding, "x-gzip")) return content_coding::gzip;
  if (iequals(encoding, "deflate")) return content_coding::deflate;
  return content_coding::unsupported;
}

/// Inflates `body` per `coding` into `out` ("deflate": zlib-wrapped, or the raw deflate some
/// servers send); identity copies nothing and leaves `out` empty. Bounded by `limit`.
FANOUT_DECL boost::system::error_code decode_content(content_coding coding, std::string_view body,
                                                     std::size_t limit, std::string& out) {
  out.clear();
  switch (coding) {
    case content_coding::gzip: return inflate_body(body, limit, false, out);
    case content_coding::deflate: {
      auto ec = inflate_body(body, limit, false, out);
      if (ec == errc::decompression) ec = inflate_body(body, limit, true, out);
      return ec;
    }
    default: return {};
  }
}

}  // namespace fanout::detail

#endif
