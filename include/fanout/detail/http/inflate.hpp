#ifndef FANOUT_DETAIL_HTTP_INFLATE_HPP
#define FANOUT_DETAIL_HTTP_INFLATE_HPP

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>

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

/// Inflates per `Content-Encoding`: "gzip"/"x-gzip", or "deflate" (zlib-wrapped, or the raw
/// deflate some servers send). `identity` and empty leave the body alone.
FANOUT_DECL boost::system::error_code decode_content(std::string_view encoding, std::string& body,
                                                     std::size_t limit, bool& unsupported) {
  unsupported = false;
  auto eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if ((a[i] | 0x20) != b[i]) return false;
    return true;
  };
  if (encoding.empty() || eq(encoding, "identity")) return {};
  std::string out;
  boost::system::error_code ec;
  if (eq(encoding, "gzip") || eq(encoding, "x-gzip")) {
    ec = inflate_body(body, limit, false, out);
  } else if (eq(encoding, "deflate")) {
    ec = inflate_body(body, limit, false, out);
    if (ec == errc::decompression) ec = inflate_body(body, limit, true, out);
  } else {
    unsupported = true;
    return {};
  }
  if (!ec) body.swap(out);
  return ec;
}

}  // namespace fanout::detail

#endif
