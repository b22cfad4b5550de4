// fanout-fetch's pure logic, as plain functions over tables: no process, no network.

#include "body_encoding.hpp"
#include "cli.hpp"
#include "connect_flags.hpp"
#include "input.hpp"
#include "naming.hpp"
#include "progress.hpp"
#include "resume.hpp"
#include "shard.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

// Inside the namespace rather than `using namespace`: the unity build (FANOUT_UNITY_TESTS)
// puts this file and fanout_fetch_test.cpp in one unit.
namespace fetch_tool {

TEST_CASE("is_valid_utf8 accepts well-formed UTF-8 and rejects overlongs, surrogates, cuts") {
  struct row {
    std::string bytes;
    bool valid;
  };
  const std::vector<row> table{
      {"", true},
      {"plain ASCII \x7f", true},
      {"\xc2\x80", true},          // U+0080, the first two-byte code point
      {"\xdf\xbf", true},          // U+07FF
      {"\xe0\xa0\x80", true},      // U+0800, the first three-byte one
      {"\xed\x9f\xbf", true},      // U+D7FF, just below the surrogates
      {"\xee\x80\x80", true},      // U+E000, just above them
      {"\xef\xbf\xbf", true},      // U+FFFF
      {"\xf0\x90\x80\x80", true},  // U+10000
      {"\xf4\x8f\xbf\xbf", true},  // U+10FFFF, the last code point
      {std::string("nul \0 inside", 12), true},
      {"\x80", false},  // a continuation byte first
      {"\xbf", false},
      {"\xc0\xaf", false},                  // overlong '/'
      {"\xc1\xbf", false},                  // overlong U+007F
      {"\xe0\x80\xaf", false},              // overlong '/' in three bytes
      {"\xe0\x9f\xbf", false},              // overlong U+07FF
      {"\xf0\x80\x80\xaf", false},          // overlong '/' in four bytes
      {"\xf0\x8f\xbf\xbf", false},          // overlong U+FFFF
      {"\xed\xa0\x80", false},              // U+D800, a high surrogate
      {"\xed\xbf\xbf", false},              // U+DFFF, a low surrogate
      {"\xed\xa0\xbd\xed\xb8\x80", false},  // a surrogate pair written as CESU-8
      {"\xf4\x90\x80\x80", false},          // U+110000, beyond Unicode
      {"\xf5\x80\x80\x80", false},
      {"\xff", false},
      {"\xfe\xff", false},
      {"\xc3", false},  // cut short
      {"caf\xc3", false},
      {"\xe2\x82", false},
      {"\xf0\x9f\x98", false},
      {"\xc3\x28", false},  // a second byte that is no continuation
      {"\xe2\x28\xa1", false},
      {"\xe2\x82\x28", false},
      {"\xf0\x9f\x98\x28", false},
  };
  for (auto& r : table) {
    INFO("bytes of length " << r.bytes.size() << ": " << r.bytes);
    CHECK(is_valid_utf8(r.bytes) == r.valid);
  }
}

TEST_CASE("base64 is RFC 4648's, padded, without line breaks, for any length") {
  // RFC 4648 section 10.
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(base64(std::string("\xff\xfe\x00\x01", 4)) == "//4AAQ==");
  // Longer than one internal block (3 << 16 bytes): the same as one block's encoding repeated.
  std::string const unit(3 << 16, 'a');
  std::string const encoded = base64(unit);
  CHECK(encoded.size() == (3u << 16) / 3 * 4);
  CHECK(encoded.find_first_not_of("YWFh") == std::string::npos);
  CHECK(base64(unit + unit + "a") == encoded + encoded + "YQ==");
}

TEST_CASE("is_json_media_type knows JSON types, with parameters, in any case") {
  struct row {
    std::string type;
    bool json;
  };
  const std::vector<row> table{
      {"application/json", true},
      {"application/json; charset=utf-8", true},
      {"  Application/JSON ;charset=utf-8", true},
      {"text/json", true},
      {"application/problem+json", true},
      {"application/vnd.api+JSON", true},
      {"application/ld+json;profile=x", true},
      {"", false},
      {"json", false},
      {"text/plain", false},
      {"application/jsonp", false},
      {"application/xjson", false},
      {"application/json-seq", false},
      {"text/html; note=application/json", false},
  };
  for (auto& r : table) {
    INFO(r.type);
    CHECK(is_json_media_type(r.type) == r.json);
  }
}

TEST_CASE("encode_body chooses JSON, text or base64 as the mode says") {
  struct row {
    body_mode mode;
    std::string content_type;
    std::string body;
    body_encoding encoding;
    std::string value;  // the "body" value as dumped
  };
  const std::vector<row> table{
      {body_mode::auto_, "application/json", R"({"b":1, "a":2})", body_encoding::json,
       R"({"b":1,"a":2})"},
      {body_mode::auto_, "application/json", "{bad", body_encoding::text, R"("{bad")"},
      {body_mode::auto_, "text/plain", R"({"b":1})", body_encoding::text, R"("{\"b\":1}")"},
      {body_mode::auto_, "application/json", "\"caf\xc3\xa9\"", body_encoding::json,
       "\"caf\xc3\xa9\""},
      // A JSON string holding invalid UTF-8 is no JSON, nor text.
      {body_mode::auto_, "application/json", "\"\xc0\xaf\"", body_encoding::base64,
       R"("IsCvIg==")"},
      {body_mode::auto_, "", "", body_encoding::text, R"("")"},
      {body_mode::json, "text/plain", " [1, 2] ", body_encoding::json, "[1,2]"},
      {body_mode::json, "text/plain", "hi", body_encoding::text, R"("hi")"},
      {body_mode::json, "", "\xff", body_encoding::base64, R"("/w==")"},
      {body_mode::text, "application/json", "[1]", body_encoding::text, R"("[1]")"},
      {body_mode::text, "text/plain", "\xed\xa0\x80", body_encoding::base64, R"("7aCA")"},
      {body_mode::base64, "text/plain", "hi", body_encoding::base64, R"("aGk=")"},
  };
  for (auto& r : table) {
    INFO(r.content_type << " | " << r.body);
    auto e = encode_body(r.mode, r.content_type, r.body);
    CHECK(e.encoding == r.encoding);
    CHECK(e.value.dump() == r.value);
  }
}

TEST_CASE("parse_body_mode and parse_bytes read the words and sizes of the command line") {
  CHECK(parse_body_mode("auto") == body_mode::auto_);
  CHECK(parse_body_mode("json") == body_mode::json);
  CHECK(parse_body_mode("text") == body_mode::text);
  CHECK(parse_body_mode("base64") == body_mode::base64);
  CHECK(!parse_body_mode("JSON"));
  CHECK(!parse_body_mode("http://h/"));

  CHECK(parse_bytes("-x", "1") == 1);
  CHECK(parse_bytes("-x", "512") == 512);
  CHECK(parse_bytes("-x", "64K") == 65536);
  CHECK(parse_bytes("-x", "64k") == 65536);
  CHECK(parse_bytes("-x", "10M") == 10u << 20);
  CHECK(parse_bytes("-x", "10m") == 10u << 20);
  CHECK(parse_bytes("-x", "2G") == std::uint64_t(2) << 30);
  for (const char* bad : {"", "0", "0K", "-1", "1.5M", "1KB", "K", " 1", "17179869184G"})
    CHECK_THROWS_AS(parse_bytes("-x", bad), usage_error);
}

TEST_CASE("fnv1a64 is FNV-1a 64 (the published test vectors)") {
  STATIC_REQUIRE(fnv1a64("") == 0xcbf29ce484222325ull);
  STATIC_REQUIRE(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  STATIC_REQUIRE(fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("shard_key is host:port, lower case, the default port written") {
  struct row {
    std::string url;
    std::string key;
  };
  const std::vector<row> table{
      {"http://example.com/", "example.com:80"},
      {"http://Example.COM:80/a?b", "example.com:80"},
      {"HTTP://example.com", "example.com:80"},
      {"https://example.com/", "example.com:443"},
      {"https://example.com:443/x", "example.com:443"},
      {"https://example.com:8443/x", "example.com:8443"},
      {"http://user:pw@example.com/", "example.com:80"},
      {"http://127.0.0.1:8080/", "127.0.0.1:8080"},
      {"http://[::1]:8080/", "[::1]:8080"},
      {"http://[::1]/", "[::1]:80"},
      {"not a url", ""},
      {"ftp://example.com/", ""},
      {"", ""},
  };
  for (auto& r : table) {
    INFO(r.url);
    CHECK(shard_key(r.url) == r.key);
  }
}

TEST_CASE("shard_of is the hash of the key modulo N, plus 1; lines that are no URL go to 1") {
  // Written out, so a change of hash or key breaks this test and not users' merged outputs.
  CHECK(fnv1a64("example.com:80") % 3 + 1 == shard_of("http://example.com/", 3));
  CHECK(shard_of("http://example.com/", 3) == shard_of("http://EXAMPLE.com:80/other", 3));
  CHECK(shard_of("anything", 1) == 1);
  CHECK(shard_of("not a url", 7) == 1);
  for (std::size_t n = 1; n < 10; ++n)
    for (int port = 1; port < 50; ++port) {
      auto k = shard_of("http://h:" + std::to_string(port) + "/", n);
      CHECK(k >= 1);
      CHECK(k <= n);
    }
  // The values themselves, as every build must compute them.
  CHECK(fnv1a64("example.com:80") == 0x6a3ac177d9dd72bcull);
}

TEST_CASE("parse_shard reads K/N with 1 <= K <= N") {
  auto one = parse_shard("2/3");
  REQUIRE(one);
  CHECK(one->k == 2);
  CHECK(one->n == 3);
  CHECK(parse_shard("1/1"));
  CHECK(parse_shard("10/10"));
  for (const char* bad :
       {"", "1", "/", "0/3", "4/3", "1/0", "-1/3", "1/3/4", "a/b", " 1/3", "1/3 "})
    CHECK(!parse_shard(bad));
}

TEST_CASE("parse_answered_line takes the index, whether it failed, and the status") {
  auto ok =
      parse_answered_line(R"({"index":7,"url":"u","status":200,"bytes":1,"ms":1,"error":null})");
  REQUIRE(ok);
  CHECK(ok->index == 7);
  CHECK(!ok->error);
  CHECK(ok->status == 200);
  auto failed = parse_answered_line(
      R"({"index":0,"url":"u","status":null,"bytes":null,"ms":1,"error":{"code":"timeout"}})");
  REQUIRE(failed);
  CHECK(failed->error);
  CHECK(failed->status == 0);
  for (const char* bad : {"", "{", "[1]", "{\"index\":-1}", "{\"index\":1.5}", "{\"url\":\"u\"}",
                          "{\"index\":\"3\"}", "{\"index\":3"})
    CHECK(!parse_answered_line(bad));
}

TEST_CASE("read_previous_run marks answered indexes, ignores a torn last line, drops retries") {
  const std::string lines = R"({"index":0,"status":200,"error":null})"
                            "\n"
                            R"({"index":3,"status":null,"error":{"code":"timeout"}})"
                            "\n"
                            R"({"index":2,"status":503,"error":null})"
                            "\n";
  const std::string torn = R"({"index":1,"sta)";

  std::istringstream whole(lines);
  auto run = read_previous_run(whole, {}, "f");
  CHECK(run.done == std::vector<bool>{true, false, true, true});
  CHECK(run.answered == 3);
  CHECK(run.intact == lines.size());
  CHECK(!run.torn);
  CHECK(run.to_retry == 0);

  std::istringstream cut(lines + torn);
  auto after_crash = read_previous_run(cut, {}, "f");
  CHECK(after_crash.is_done(0));
  CHECK(!after_crash.is_done(1));  // the torn line does not count
  CHECK(after_crash.intact == lines.size());
  CHECK(after_crash.torn);

  std::istringstream again(lines);
  auto errors = read_previous_run(again, {.errors = true}, "f");
  CHECK(errors.done == std::vector<bool>{true, false, true});
  CHECK(errors.to_retry == 1);
  std::istringstream again2(lines);
  auto statuses = read_previous_run(again2, {.errors = true, .error_statuses = true}, "f");
  CHECK(statuses.done == std::vector<bool>{true});
  CHECK(statuses.to_retry == 2);
  CHECK(!statuses.is_done(100));

  std::istringstream empty("");
  auto none = read_previous_run(empty, {}, "f");
  CHECK(none.answered == 0);
  CHECK(!none.torn);

  std::istringstream wrong("index,url\n0,http://a/\n");
  CHECK_THROWS_WITH(read_previous_run(wrong, {}, "f.csv"),
                    "--resume: line 1 of f.csv is not a JSON line of fanout-fetch");
}

TEST_CASE("path_name: decoded segments escaped again, dot segments dropped, index.html, query") {
  struct row {
    std::string target;
    std::string name;
  };
  const std::vector<row> table{
      {"/", "index.html"},
      {"", "index.html"},
      {"/a", "a"},
      {"/a/", "a/index.html"},
      {"/a/b.txt", "a/b.txt"},
      {"//a///b", "a/b"},
      {"/../../etc/passwd", "etc/passwd"},
      {"/a/../b", "a/b"},
      {"/a/..", "a/index.html"},
      {"/a/.", "a/index.html"},
      {"/%2e%2e/%2E%2E/x", "x"},
      {"/%2e%2e%2f%2e%2e%2fx", "..%2F..%2Fx"},  // one segment holding slashes: they stay escaped
      {"/a%2Fb", "a%2Fb"},
      {"/a%5Cb", "a%5Cb"},
      {"/a%00b", "a%00b"},
      {"/tab%09x", "tab%09x"},
      {"/100%25", "100%25"},
      {"/caf%C3%A9", "caf\xc3\xa9"},
      {"/with space", "with space"},
      {"/bad%zz%4", "bad%25zz%254"},  // a '%' that escapes nothing is a '%', escaped
      {"/search?q=1", "search?q=1"},
      {"/?q=1", "index.html?q=1"},
      {"/d/?q=a/../b", "d/index.html?q=a%2F..%2Fb"},
      {"/s?x=%2F..%2F..", "s?x=%2F..%2F.."},
      {"/s?", "s"},
  };
  for (auto& r : table) {
    INFO(r.target);
    CHECK(path_name(r.target) == r.name);
  }
}

TEST_CASE("safe_relative_name drops what could leave DIR and caps long components") {
  CHECK(safe_relative_name("a/b") == "a/b");
  CHECK(safe_relative_name("/abs/x") == "abs/x");
  CHECK(safe_relative_name("../../x") == "x");
  CHECK(safe_relative_name("a/./../b/") == "a/b");
  CHECK(safe_relative_name("") == "index.html");
  CHECK(safe_relative_name("..") == "index.html");

  std::string const long_name(1000, 'a');
  auto const capped = cap_component(long_name);
  CHECK(capped.size() == max_component_bytes);
  CHECK(capped ==
        std::string(max_component_bytes - 17, 'a') + "~" + sha256_hex(long_name).substr(0, 16));
  CHECK(cap_component(std::string(max_component_bytes, 'b')) ==
        std::string(max_component_bytes, 'b'));
  CHECK(cap_component(long_name) != cap_component(long_name + "z"));  // ends differ: names too
  // A UTF-8 sequence is not cut: after "x", 2-byte characters start at odd offsets, and the
  // cut at 228 backs off to 227.
  std::string e_acute = "x";
  for (int i = 0; i < 300; ++i) e_acute += "\xc3\xa9";
  auto const capped_utf8 = cap_component(e_acute);
  CHECK(capped_utf8.size() == max_component_bytes - 1);
  CHECK(is_valid_utf8(capped_utf8));
  CHECK(safe_relative_name("d/" + long_name + "/f") == "d/" + capped + "/f");
}

TEST_CASE("output_name fills the template and keeps every name inside DIR") {
  name_fields f{"127.0.0.1:8080", "/a/b.json?x=1", 42, "http://127.0.0.1:8080/a/b.json?x=1"};
  CHECK(output_name(default_output_name, f) == "127.0.0.1:8080/a/b.json?x=1");
  CHECK(output_name("{index}.bin", f) == "42.bin");
  CHECK(output_name("{sha256}", f) == sha256_hex(f.url));
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(output_name("by-host/{host}/{index}-{path}", f) ==
        "by-host/127.0.0.1:8080/42-a/b.json?x=1");
  CHECK(output_name("../../{host}/../{path}", f) == "127.0.0.1:8080/a/b.json?x=1");
  name_fields root{"example.com", "/", 0, "http://example.com/"};
  CHECK(output_name(default_output_name, root) == "example.com/index.html");
  name_fields v6{"[::1]:81", "/x", 1, "http://[::1]:81/x"};
  CHECK(output_name(default_output_name, v6) == "[::1]:81/x");

  CHECK(!template_problem("{host}/{path}"));
  CHECK(!template_problem("{index}"));
  CHECK(!template_problem("plain-name"));
  CHECK(template_problem("{hostname}") == "an unknown placeholder {hostname}");
  CHECK(template_problem("{path") == "an unclosed '{'");
  CHECK(template_problem("") == "no name at all");
  CHECK(template_problem("../..") == "no name at all");
}

TEST_CASE("name_fields_of takes the host with a port that is not the default, and the target") {
  auto f = name_fields_of("HTTP://Example.COM:80/x/y?q#frag", 3, "printed");
  REQUIRE(f);
  CHECK(f->host == "example.com");
  CHECK(f->target == "/x/y?q");
  CHECK(f->index == 3);
  CHECK(f->url == "printed");
  auto port = name_fields_of("https://h:8443", 0, "");
  REQUIRE(port);
  CHECK(port->host == "h:8443");
  CHECK(port->target == "/");
  CHECK(!name_fields_of("not a url", 0, ""));
}

TEST_CASE("progress_line: bar, counts with commas, percent, rates, ETA, errors") {
  struct row {
    progress_state state;
    std::string line;
  };
  const std::vector<row> table{
      {{12'345, 50'000, 41'000'000, 12, 10.0},
       "[===>            ] 12,345/50,000 24% 1,235 req/s 4.1 MB/s ETA 0:31 errors 12"},
      {{0, 50'000, 0, 0, 0.0},
       "[>               ] 0/50,000 0% 0.0 req/s 0.0 MB/s ETA -:-- errors 0"},
      {{50, 50, 5'000, 0, 2.0},
       "[================] 50/50 100% 25.0 req/s 0.0 MB/s ETA 0:00 errors 0"},
      {{49, 50, 0, 1, 1.0}, "[===============>] 49/50 98% 49.0 req/s 0.0 MB/s ETA 0:00 errors 1"},
      {{1, 3'601, 0, 0, 1.0},
       "[>               ] 1/3,601 0% 1.0 req/s 0.0 MB/s ETA 1:00:00 errors 0"},
      {{1'234'567, std::nullopt, 2'500'000'000, 1'000, 100.0},
       "1,234,567/? 12,346 req/s 25.0 MB/s errors 1,000"},
      {{0, 0, 0, 0, 0.0}, "[================] 0/0 100% 0.0 req/s 0.0 MB/s ETA 0:00 errors 0"},
  };
  for (auto& r : table) {
    INFO(r.line);
    CHECK(progress_line(r.state) == r.line);
  }
  CHECK(with_commas(0) == "0");
  CHECK(with_commas(999) == "999");
  CHECK(with_commas(1000) == "1,000");
  CHECK(with_commas(18446744073709551615ull) == "18,446,744,073,709,551,615");
  CHECK(clock_time(59.4) == "0:59");
  CHECK(clock_time(61) == "1:01");
  CHECK(clock_time(3599) == "59:59");
  CHECK(clock_time(36000) == "10:00:00");
  CHECK(progress_bar(1, 2, 4) == "[==> ]");
  CHECK(progress_bar(3, 4, 4) == "[===>]");
  CHECK(progress_bar(4, 4, 4) == "[====]");
}

TEST_CASE("url_in_line and count_urls skip blanks and comments, and count what is wanted") {
  CHECK(url_in_line("  http://a/ \r") == std::optional<std::string_view>("http://a/"));
  CHECK(!url_in_line(""));
  CHECK(!url_in_line(" \t\r"));
  CHECK(!url_in_line("  # comment"));
  CHECK(url_in_line("x#y") == std::optional<std::string_view>("x#y"));
  std::istringstream in("http://a/\n\n# c\nhttp://b/\nhttp://c/\n");
  std::vector<std::size_t> seen;
  auto n = count_urls(in, 5, [&](std::size_t i, std::string_view url) {
    seen.push_back(i);
    return url != "http://b/";
  });
  CHECK(n == 2);
  CHECK(seen == std::vector<std::size_t>{5, 6, 7});
}

TEST_CASE("connect flags: --resolve and --connect-to parse curl's syntax into connect rules") {
  auto r = parse_resolve("api.example:443:127.0.0.1,[::1]");
  REQUIRE(r);
  CHECK(r->host == "api.example");
  CHECK(r->port == 443);
  REQUIRE(r->addresses.size() == 2);
  CHECK(r->addresses[0].to_string() == "127.0.0.1");
  CHECK(r->addresses[1].to_string() == "::1");
  CHECK(r->to_host.empty());
  auto v6 = parse_resolve("+[::1]:8080:::1");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->addresses.at(0).to_string() == "::1");
  auto any = parse_resolve("*:80:10.0.0.1");
  REQUIRE(any);
  CHECK(any->host == "*");
  for (auto const* bad : {"", "host", "host:80", "host:80:", "host:0:1.2.3.4", "host:x:1.2.3.4",
                          ":80:1.2.3.4", "host:80:not-an-ip", "host:80:1.2.3.4,", "[::1:80:::1"}) {
    INFO(bad);
    CHECK_FALSE(parse_resolve(bad));
  }

  auto c = parse_connect_to("api.example:443:staging.internal:8443");
  REQUIRE(c);
  CHECK(c->host == "api.example");
  CHECK(c->port == 443);
  CHECK(c->to_host == "staging.internal");
  CHECK(c->to_port == 8443);
  CHECK(c->addresses.empty());
  auto blank = parse_connect_to("::[::1]:");
  REQUIRE(blank);
  CHECK(blank->host.empty());
  CHECK(blank->port == 0);
  CHECK(blank->to_host == "::1");
  CHECK(blank->to_port == 0);
  for (auto const* bad : {"", "a:1:b", "a:1:b:2:c", "a:x:b:2", "a:1:b:70000", "a:1:[::1:2"}) {
    INFO(bad);
    CHECK_FALSE(parse_connect_to(bad));
  }
}

}  // namespace fetch_tool
