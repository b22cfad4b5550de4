// Resuming a download as pure decisions: the If-Range validator, Content-Range, and what a
// reply means for the `.part` (RFC 9110 §13.1.5, §14.4, §15.3.7, §15.5.17), row by row.
#include <fanout/http/detail/sansio/resume.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fd = fanout::detail;

TEST_CASE("if_range_validator: a strong ETag, else a valid Last-Modified, else none",
          "[sansio][resume]") {
  struct row {
    std::string etag, last_modified;
    std::optional<std::string> want;
  };
  std::vector<row> const rows{
      {"\"abc\"", "Tue, 01 Dec 2026 10:00:00 GMT", "\"abc\""},
      {" \"abc\" ", "", "\"abc\""},
      // §13.1.5: a weak tag MUST NOT be sent in If-Range.
      {"W/\"abc\"", "Tue, 01 Dec 2026 10:00:00 GMT", "Tue, 01 Dec 2026 10:00:00 GMT"},
      {"W/\"abc\"", "", std::nullopt},
      {"abc", "", std::nullopt},  // not an entity-tag
      {"", "Tue, 01 Dec 2026 10:00:00 GMT", "Tue, 01 Dec 2026 10:00:00 GMT"},
      {"", "yesterday", std::nullopt},
      {"", "", std::nullopt},
  };
  for (auto const& r : rows) {
    INFO("ETag [" << r.etag << "] Last-Modified [" << r.last_modified << "]");
    CHECK(fd::if_range_validator({r.etag, r.last_modified}) == r.want);
  }
}

TEST_CASE("parse_content_range: the satisfied and unsatisfied forms, nothing else",
          "[sansio][resume]") {
  struct row {
    std::string_view value;
    bool ok;
    bool satisfied = true;
    std::uint64_t first = 0, last = 0;
    std::optional<std::uint64_t> complete{};
  };
  std::vector<row> const rows{
      {"bytes 0-99/100", true, true, 0, 99, 100},
      {"bytes 42-99/*", true, true, 42, 99, std::nullopt},
      {"Bytes 5-5/6", true, true, 5, 5, 6},
      {"bytes */1000", true, false, 0, 0, 1000},
      {"bytes 0-99/99", false},  // last beyond the length
      {"bytes 9-1/100", false},
      {"bytes */*", false},
      {"bytes 0-99", false},
      {"items 0-99/100", false},
      {"bytes -1-99/100", false},
      {"bytes 0-99/100 trailing", false},
      {"bytes 0-18446744073709551616/*", false},  // overflows
      {"", false},
  };
  for (auto const& r : rows) {
    INFO("Content-Range: " << r.value);
    auto const got = fd::parse_content_range(r.value);
    REQUIRE(got.has_value() == r.ok);
    if (!got) continue;
    CHECK(got->satisfied == r.satisfied);
    CHECK(got->first == r.first);
    CHECK(got->last == r.last);
    CHECK(got->complete == r.complete);
  }
}

TEST_CASE("decide_resume: append, restart, complete, fail or keep", "[sansio][resume]") {
  using a = fd::resume_action;
  using sv = std::optional<std::string_view>;
  struct row {
    std::string_view name;
    int status;
    std::optional<std::uint64_t> have;
    std::string_view sent;
    sv content_range, etag;
    a want;
  };
  std::vector<row> const rows{
      {"a fresh download", 200, std::nullopt, "", {}, {}, a::restart},
      {"a fresh download, 203", 203, std::nullopt, "", {}, {}, a::restart},
      {"a fresh download, 404", 404, std::nullopt, "", {}, {}, a::keep},
      {"206 without a Range asked", 206, std::nullopt, "", "bytes 0-9/10", {}, a::fail},
      {"416 without a Range: an error like others", 416, std::nullopt, "", {}, {}, a::keep},
      {"resumed where the .part ends", 206, 100, "\"v1\"", "bytes 100-199/200", "\"v1\"",
       a::append},
      {"resumed, unknown length", 206, 100, "\"v1\"", "bytes 100-199/*", {}, a::append},
      {"resumed by date",
       206,
       100,
       "Tue, 01 Dec 2026 10:00:00 GMT",
       "bytes 100-199/200",
       {},
       a::append},
      {"If-Range did not match: the whole new file", 200, 100, "\"v1\"", {}, "\"v2\"", a::restart},
      {"206 from elsewhere", 206, 100, "\"v1\"", "bytes 0-199/200", "\"v1\"", a::fail},
      {"206 ignoring a changed ETag", 206, 100, "\"v1\"", "bytes 100-199/200", "\"v2\"", a::fail},
      {"206 without Content-Range", 206, 100, "\"v1\"", {}, {}, a::fail},
      {"206 with a multipart answer's header", 206, 100, "\"v1\"", "bytes 1-2,5-6/9", {}, a::fail},
      {"416: the .part is the whole file", 416, 200, "\"v1\"", "bytes */200", {}, a::complete},
      {"416: the file shrank", 416, 200, "\"v1\"", "bytes */150", {}, a::fail},
      {"416 without Content-Range", 416, 200, "\"v1\"", {}, {}, a::fail},
      {"a 503 to a resumed request", 503, 100, "\"v1\"", {}, {}, a::keep},
      {"a redirect to a resumed request", 302, 100, "\"v1\"", {}, {}, a::keep},
  };
  for (auto const& r : rows) {
    INFO(r.name);
    auto const d = fd::decide_resume(r.status, r.have, r.sent, r.content_range, r.etag);
    CHECK(d.action == r.want);
    CHECK(d.why.empty() == (r.want != a::fail));
  }
}
