// scan_response_head, the sans-I/O step before Beast's parser: where a head ends, whether it is
// valid, and the canonical form the parser gets.
#include <fanout/http/detail/http1/response_head.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using fanout::detail::response_head;
using fanout::detail::scan_response_head;
using state = response_head::state;

namespace {

constexpr bool head = true, get = false;

struct head_row {
  const char* name;
  std::string_view in;
  bool head_request;
  state result;
  std::size_t size;            // complete: the head's length in `in`
  std::string_view canonical;  // complete and rewritten: what the parser gets; empty: as is
  bool close_after;
};

// clang-format off
const head_row head_rows[] = {
  {"canonical head, body follows",   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",        get,  state::complete,  38, "", false},
  {"nothing yet",                    "",                                                      get,  state::need_more, 0,  "", false},
  {"a valid prefix",                 "HTTP/1.",                                               get,  state::need_more, 0,  "", false},
  {"no blank line yet",              "HTTP/1.1 200 OK\r\nA: b\r\n",                           get,  state::need_more, 0,  "", false},
  {"garbage, first byte",            "g",                                                     get,  state::invalid,   0,  "", false},
  {"HTTP/2 status line",             "HTTP/2 200",                                            get,  state::invalid,   0,  "", false},
  {"no SP after the version",        "HTTP/1.1\r\n",                                          get,  state::invalid,   0,  "", false},
  {"leading empty line",             "\r\nHTTP/1.1 200 OK\r\n\r\n",                           get,  state::invalid,   0,  "", false},
  {"four-digit status",              "HTTP/1.1 2000 OK\r\n\r\n",                              get,  state::invalid,   0,  "", false},
  {"bare LF",                        "HTTP/1.1 200 OK\nA: b\n\nrest",                         get,  state::complete,  22, "HTTP/1.1 200 OK\r\nA: b\r\n\r\n", false},
  {"no reason, no SP",               "HTTP/1.1 405\r\n\r\n",                                  get,  state::complete,  16, "HTTP/1.1 405 \r\n\r\n", false},
  {"no reason, SP",                  "HTTP/1.1 405 \r\n\r\n",                                 get,  state::complete,  17, "", false},
  {"obs-fold",                       "HTTP/1.1 200 OK\r\nA: x \r\n  y\r\n\r\n",               get,  state::complete,  31, "HTTP/1.1 200 OK\r\nA: x y\r\n\r\n", false},
  {"whitespace before first field",  "HTTP/1.1 200 OK\r\n A: x\r\n\r\n",                      get,  state::invalid,   0,  "", false},
  {"field without colon",            "HTTP/1.1 200 OK\r\nA\r\n\r\n",                          get,  state::invalid,   0,  "", false},
  {"chunked",                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", get,  state::complete,  47, "", false},
  {"chunked, chunked",               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", get, state::invalid, 0, "", false},
  {"chunked twice, two fields",      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", get, state::invalid, 0, "", false},
  {"gzip, chunked",                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", get, state::invalid, 0, "", false},
  {"chunked, gzip",                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", get, state::invalid, 0, "", false},
  {"chunked, identity",              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n", get, state::complete, 57, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false},
  {"chunked and Content-Length",     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", get, state::complete, 66, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true},
  {"204 with chunked",               "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", get, state::complete, 74, "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", false},
  {"HEAD with gzip coding",          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",    head, state::complete,  44, "HTTP/1.1 200 OK\r\n\r\n", false},
  {"1xx",                            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",      get,  state::complete,  25, "", false},
};
// clang-format on

}  // namespace

TEST_CASE("scan_response_head: the end, validity and canonical form of a response head",
          "[conformance][response_head]") {
  for (const auto& r : head_rows) {
    DYNAMIC_SECTION(r.name) {
      std::string canonical;
      auto const got = scan_response_head(r.in, r.head_request, canonical);
      INFO(got.error);
      REQUIRE(got.result == r.result);
      if (r.result != state::complete) continue;
      CHECK(got.size == r.size);
      CHECK(got.rewritten == !r.canonical.empty());
      if (got.rewritten) CHECK(canonical == r.canonical);
      CHECK(got.close_after == r.close_after);
    }
  }
}

TEST_CASE("scan_response_head: every prefix of a valid head needs more, none is invalid",
          "[conformance][response_head]") {
  std::string_view const full = "HTTP/1.1 200 OK\nX: y\n z\r\nContent-Length: 0\r\n\r\n";
  std::string canonical;
  for (std::size_t n = 0; n < full.size(); ++n) {
    INFO(n);
    CHECK(scan_response_head(full.substr(0, n), false, canonical).result == state::need_more);
  }
  CHECK(scan_response_head(full, false, canonical).result == state::complete);
}
