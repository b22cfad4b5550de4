// Content codings as pure functions: the Content-Encoding list, and what undoing it gives,
// compared byte for byte with a reference made here with zlib.
#include <fanout/http/detail/sansio/content_coding.hpp>

#include "support/zlib_reference.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using fanout::errc;
using fanout::http_errc;
using fanout::detail::content_coding;
using fanout::detail::decode_content;
using fanout::detail::plan_content_codings;

using fanout::test::compress;
using wrap = fanout::test::zwrap;

std::string text(std::size_t n, char seed) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += std::to_string(i * 7919 + seed) + ' ';
  s.resize(n);
  return s;
}

}  // namespace

TEST_CASE("a Content-Encoding list is undone last-applied first, identity skipped", "[codings]") {
  using c = content_coding;
  struct row {
    std::string_view value;
    std::vector<content_coding> undo;
    bool unsupported;
  };
  std::vector<row> const rows{
      {"", {}, false},
      {"identity", {}, false},
      {"None", {}, false},
      {"gzip", {c::gzip}, false},
      {"X-Gzip", {c::gzip}, false},
      {"deflate", {c::deflate}, false},
      {"deflate, identity, gzip", {c::gzip, c::deflate}, false},
      {"gzip,deflate", {c::deflate, c::gzip}, false},
      {" gzip ,\t, gzip ", {c::gzip, c::gzip}, false},
      {"br", {}, true},
      {"gzip, br", {c::gzip}, true},
      {"gzipx", {}, true},
  };
  for (auto const& r : rows) {
    INFO("Content-Encoding: " << r.value);
    auto const plan = plan_content_codings(r.value);
    CHECK(plan.undo == r.undo);
    CHECK(plan.unsupported == r.unsupported);
  }
}

TEST_CASE("decoded bodies equal the original bytes, or the decode fails", "[codings]") {
  std::string const a = text(100000, 'a'), b = text(3000, 'b');
  std::string const gz_a = compress(a, wrap::gzip), gz_b = compress(b, wrap::gzip);
  std::string const two_members = gz_a + gz_b;
  std::string const nested = compress(compress(a, wrap::zlib), wrap::gzip);  // deflate, gzip
  std::string bad_crc = gz_b;
  bad_crc[bad_crc.size() - 5] ^= 1;  // the CRC32 of the trailer
  struct row {
    std::string_view name, coding;
    std::string body;
    boost::system::error_code ec;
    std::string decoded;
  };
  auto const ok = boost::system::error_code();
  auto const broken = make_error_code(http_errc::decompression);
  std::vector<row> const rows{
      {"gzip", "gzip", gz_a, ok, a},
      {"two gzip members (RFC 1952 2.2)", "gzip", two_members, ok, a + b},
      {"zlib-wrapped deflate", "deflate", compress(a, wrap::zlib), ok, a},
      {"raw deflate", "deflate", compress(a, wrap::raw), ok, a},
      {"deflate then gzip", "deflate, identity, gzip", nested, ok, a},
      {"identity", "identity", a, ok, a},
      {"truncated gzip", "gzip", gz_a.substr(0, gz_a.size() / 2), broken, ""},
      {"gzip without its trailer", "gzip", gz_a.substr(0, gz_a.size() - 4), broken, ""},
      {"gzip then garbage", "gzip", gz_b + "garbage", broken, ""},
      {"gzip then a truncated member", "gzip", gz_b + gz_a.substr(0, 30), broken, ""},
      {"bad CRC", "gzip", bad_crc, broken, ""},
      {"zlib then garbage", "deflate", compress(b, wrap::zlib) + "xyz", broken, ""},
      {"empty gzip body", "gzip", "", broken, ""},
  };
  for (auto const& r : rows) {
    INFO(r.name);
    std::string out;
    auto const ec = decode_content(plan_content_codings(r.coding), r.body, 1 << 20, out);
    CHECK(ec == r.ec);
    if (!r.ec) CHECK(out == r.decoded);
  }
}

TEST_CASE("decoding stops at the limit, in every layer", "[codings]") {
  std::string const a(200000, 'z');
  std::string out;
  auto const gz = compress(a, wrap::gzip);
  CHECK(decode_content(plan_content_codings("gzip"), gz, a.size(), out) ==
        boost::system::error_code());
  CHECK(out == a);
  CHECK(decode_content(plan_content_codings("gzip"), gz, a.size() - 1, out) ==
        make_error_code(http_errc::body_too_large));
  CHECK(out.size() < a.size());
  CHECK(decode_content(plan_content_codings("gzip, gzip"), compress(gz, wrap::gzip), 1000, out) ==
        make_error_code(http_errc::body_too_large));
}

namespace {

// Decodes `body` fed in pieces of `in_piece` bytes, read back `out_room` bytes at a time.
boost::system::error_code decode_split(std::string_view coding, std::string_view body,
                                       std::size_t in_piece, std::size_t out_room, std::string& out,
                                       std::uint64_t limit = 1 << 20) {
  fanout::detail::body_decoder decoder(plan_content_codings(coding), limit);
  out.clear();
  std::string room(out_room, '\0');
  std::size_t at = 0;
  for (;;) {
    auto const s = decoder.read(room.data(), room.size());
    if (s.ec) return s.ec;
    if (s.done) return {};
    if (s.size) {
      out.append(room.data(), s.size);
      continue;
    }
    REQUIRE(at <= body.size());  // asks for input only while some is left, or before finish
    if (at == body.size()) {
      decoder.finish();
      at = body.size() + 1;
      continue;
    }
    auto const piece = body.substr(at, in_piece);
    at += piece.size();
    decoder.feed(piece);
  }
}

}  // namespace

TEST_CASE("a body decoded piece by piece equals the original, for any split", "[codings]") {
  std::string const a = text(50000, 'a'), b = text(3000, 'b');
  std::string const gz_a = compress(a, wrap::gzip), gz_b = compress(b, wrap::gzip);
  struct row {
    std::string_view name, coding;
    std::string body, decoded;
  };
  std::vector<row> const rows{
      {"gzip", "gzip", gz_a, a},
      {"two gzip members", "gzip", gz_b + gz_a, b + a},
      {"three members, one empty", "gzip", gz_b + compress("", wrap::gzip) + gz_b, b + b},
      {"zlib-wrapped deflate", "deflate", compress(a, wrap::zlib), a},
      {"raw deflate", "deflate", compress(b, wrap::raw), b},
      {"deflate then gzip", "deflate, gzip", compress(compress(a, wrap::zlib), wrap::gzip), a},
      {"gzip twice", "gzip, gzip", compress(gz_b + gz_b, wrap::gzip), b + b},
      {"identity", "", a, a},
  };
  for (auto const& r : rows) {
    for (std::size_t const in_piece : {std::size_t{1}, std::size_t{2}, std::size_t{3},
                                       std::size_t{1000}, std::size_t{1} << 20}) {
      for (std::size_t const out_room : {std::size_t{1}, std::size_t{7}, std::size_t{65536}}) {
        if (in_piece == 1 && out_room == 1 && r.body.size() > 20000) continue;  // slow, same path
        INFO(r.name << ": fed " << in_piece << " bytes at a time, read " << out_room);
        std::string out;
        REQUIRE(decode_split(r.coding, r.body, in_piece, out_room, out) ==
                boost::system::error_code());
        CHECK(out == r.decoded);
      }
    }
  }
}

TEST_CASE("a body decoded piece by piece fails as a whole one does", "[codings]") {
  std::string const b = text(3000, 'b');
  std::string const gz_b = compress(b, wrap::gzip);
  std::string bad_crc = gz_b;
  bad_crc[bad_crc.size() - 5] ^= 1;
  auto const broken = make_error_code(http_errc::decompression);
  struct row {
    std::string_view name, coding;
    std::string body;
    boost::system::error_code ec;
  };
  std::vector<row> const rows{
      {"truncated gzip", "gzip", gz_b.substr(0, gz_b.size() / 2), broken},
      {"gzip without its trailer", "gzip", gz_b.substr(0, gz_b.size() - 4), broken},
      {"gzip then garbage", "gzip", gz_b + "garbage", broken},
      {"gzip then one byte of a member", "gzip", gz_b + "\x1f", broken},
      {"gzip then a zlib stream", "gzip", gz_b + compress(b, wrap::zlib), broken},
      {"bad CRC", "gzip", bad_crc, broken},
      {"zlib then garbage", "deflate", compress(b, wrap::zlib) + "x", broken},
      {"one byte of deflate", "deflate", "x", broken},
      {"empty gzip body", "gzip", "", broken},
      {"over the limit", "gzip", gz_b, make_error_code(http_errc::body_too_large)},
  };
  for (auto const& r : rows) {
    for (std::size_t const in_piece : {std::size_t{1}, std::size_t{5}, std::size_t{1} << 20}) {
      INFO(r.name << ": fed " << in_piece << " bytes at a time");
      std::string out;
      auto const limit = r.ec == http_errc::body_too_large ? b.size() - 1 : std::size_t{1} << 20;
      CHECK(decode_split(r.coding, r.body, in_piece, 4096, out, limit) == r.ec);
    }
  }
}

TEST_CASE("a decoded bomb never holds more than a bounded buffer", "[codings]") {
  // 64 MiB of zeros, gzip'd twice, is about 100 bytes: decoding it in 64 KiB reads never
  // makes more than one read's worth at a time, and the limit stops it exactly.
  std::string const zeros(64 << 20, '\0');
  auto const bomb = compress(compress(zeros, wrap::gzip), wrap::gzip);
  fanout::detail::body_decoder decoder(plan_content_codings("gzip, gzip"), 32 << 20);
  decoder.feed(bomb);
  decoder.finish();
  std::string room(64 << 10, '\1');
  std::uint64_t total = 0;
  boost::system::error_code ec;
  for (;;) {
    auto const s = decoder.read(room.data(), room.size());
    REQUIRE(s.size <= room.size());
    total += s.size;
    if (s.ec || s.done) {
      ec = s.ec;
      break;
    }
  }
  CHECK(ec == http_errc::body_too_large);
  CHECK(total <= 32u << 20);
}
