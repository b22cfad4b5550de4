#ifndef FANOUT_TESTS_SUPPORT_ZLIB_REFERENCE_HPP
#define FANOUT_TESTS_SUPPORT_ZLIB_REFERENCE_HPP

// Bodies compressed by zlib itself: the reference fanout's decoder is checked against, and what
// the test servers send.

#include <zlib.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace fanout::test {

/// The framing around the deflate data: gzip (RFC 1952), zlib (RFC 1950), or none ("raw
/// deflate", which some servers send as `deflate`).
enum class zwrap { gzip, zlib, raw };

/// `in` compressed as one `w` stream at zlib `level`. Throws std::runtime_error when zlib fails.
inline std::string compress(std::string_view in, zwrap w = zwrap::gzip,
                            int level = Z_DEFAULT_COMPRESSION) {
  z_stream zs{};
  int const bits = w == zwrap::gzip ? 15 + 16 : w == zwrap::zlib ? 15 : -15;
  if (deflateInit2(&zs, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int const rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

}  // namespace fanout::test

#endif
