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
