// libFuzzer harness for the incremental body decoder (body_decoder), with references: the same
// bytes decoded whole and decoded fed in pieces, read back in small slices, must give the same
// outcome and the same bytes; and the input compressed by zlib itself must decode, in pieces,
// to exactly the input. A split-dependent bug (a gzip member boundary, the zlib/raw detection,
// a nested stage's buffer) shows as a difference, not only as a crash.
// Byte 0: the codings (low 2 bits) and the input piece size (the rest); byte 1: the read size.
#include <fanout/http/detail/sansio/content_coding.hpp>

#include "../support/zlib_reference.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using fanout::detail::body_decoder;
using fanout::detail::plan_content_codings;

constexpr std::uint64_t limit = 1 << 20;

// Decodes `in` fed `piece` bytes at a time, read `room` bytes at a time.
boost::system::error_code decode(std::string_view coding, std::string_view in, std::size_t piece,
                                 std::size_t room, std::string& out) {
  body_decoder d(plan_content_codings(coding), limit);
  out.clear();
  std::string buf(room, '\0');
  std::size_t at = 0;
  bool finished = false;
  for (;;) {
    auto const s = d.read(buf.data(), buf.size());
    if (s.ec) return s.ec;
    if (s.done) return {};
    if (s.size) {
      out.append(buf.data(), s.size);
      if (out.size() > limit) std::abort();  // never beyond the limit
      continue;
    }
    if (finished) std::abort();  // after finish, a read is bytes, done or an error
    if (at == in.size()) {
      d.finish();
      finished = true;
      continue;
    }
    auto const next = in.substr(at, piece);
    at += next.size();
    d.feed(next);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::string_view codings[] = {"gzip", "deflate", "deflate, gzip", ""};
  auto const coding = codings[data[0] & 3];
  std::size_t const piece = (data[0] >> 2) + 1u;
  std::size_t const room = data[1] % 97 + 1u;
  std::string_view const in(reinterpret_cast<const char*>(data) + 2, size - 2);

  // The bytes as a coded body, whatever they are: pieces and whole agree.
  std::string whole, split;
  auto const ec_whole = decode(coding, in, in.size() + 1, 1 << 16, whole);
  auto const ec_split = decode(coding, in, piece, room, split);
  if (ec_whole != ec_split) std::abort();
  if (!ec_whole && whole != split) std::abort();

  // The bytes coded by zlib: decoded in pieces, they are the input again.
  using fanout::test::compress;
  using fanout::test::zwrap;
  std::string coded;
  switch (data[0] & 3) {
    case 0: coded = compress(in, zwrap::gzip); break;
    case 1: coded = compress(in, (data[1] & 1) ? zwrap::raw : zwrap::zlib); break;
    case 2: coded = compress(compress(in, zwrap::zlib), zwrap::gzip); break;
    default: coded = std::string(in); break;
  }
  std::string back;
  if (decode(coding, coded, piece, room, back) || back != in) std::abort();
  return 0;
}
