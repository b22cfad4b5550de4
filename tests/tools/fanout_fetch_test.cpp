// fanout-fetch, run as a user runs it: a separate process, against the loopback test server,
// its output compared byte for byte (the "ms" figures aside, which vary from run to run).

#include "naming.hpp"

#include <support/fake_proxy.hpp>
#include <support/test_server.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef FANOUT_FETCH_PATH
#error "FANOUT_FETCH_PATH must name the fanout-fetch binary"
#endif

namespace {

namespace fs = std::filesystem;
using fanout::test::test_server;

struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs fanout-fetch with `args` (and `input` on its standard input) and collects its output.
/// `shell_prefix`, when given, runs first in the same bash (`ulimit -n 256`, say).
run_result fetch(const std::vector<std::string>& args, const std::string& input = "",
                 const std::string& shell_prefix = "") {
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() / ("fanout-fetch-test-" + std::to_string(::getpid()) +
                                              "-" + std::to_string(++counter));
  fs::create_directories(dir);
  std::ofstream(dir / "in") << input;
  std::string cmd = FANOUT_FETCH_PATH;
  for (auto& a : args) cmd += " " + quote(a);
  cmd += " < " + quote((dir / "in").string()) + " > " + quote((dir / "out").string()) + " 2> " +
         quote((dir / "err").string());
  if (!shell_prefix.empty()) cmd = "bash -c " + quote(shell_prefix + " && exec " + cmd);
  int status = std::system(cmd.c_str());
  run_result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  fs::remove_all(dir);
  return r;
}

/// The output with every "ms" value replaced by 0, so it compares byte for byte.
std::string without_ms(const std::string& jsonl) {
  static const std::regex ms(R"("ms":[0-9.e+-]+)");
  return std::regex_replace(jsonl, ms, "\"ms\":0");
}

std::string ok_line(std::size_t index, const std::string& url, int status, std::size_t bytes) {
  return "{\"index\":" + std::to_string(index) + ",\"url\":\"" + url +
         "\",\"status\":" + std::to_string(status) + ",\"bytes\":" + std::to_string(bytes) +
         ",\"ms\":0,\"error\":null}\n";
}

}  // namespace

TEST_CASE("fanout-fetch prints one JSON line per URL, in input order, byte for byte") {
  test_server server;
  std::vector<std::string> urls;
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    // Later URLs answer sooner: completion order is the reverse of input order.
    urls.push_back(server.url("/delay/" + std::to_string((20 - i) * 5)));
    expected += ok_line(i, urls.back(), 200, 4);  // the delay route answers "late"
  }
  auto r = fetch(urls);
  CHECK(r.exit_code == 0);
  CHECK(without_ms(r.out) == expected);
  CHECK(r.err.empty());
}

TEST_CASE("fanout-fetch reports bad lines and failures per line and exits 1") {
  test_server server;
  std::string input = "# a comment, then a blank line\n\n" + server.url("/hello") +
                      "\nnot a url\n" + server.url("/status/503") +
                      "\nhttp://127.0.0.1:1/refused\n   " + server.url("/hello") + "  \n";
  auto r = fetch({"-i", "-"}, input);
  CHECK(r.exit_code == 1);
  std::istringstream lines(without_ms(r.out));
  std::vector<std::string> got;
  for (std::string l; std::getline(lines, l);) got.push_back(l + "\n");
  REQUIRE(got.size() == 5);
  CHECK(got[0] == ok_line(0, server.url("/hello"), 200, 11));
  CHECK(
      got[1].rfind(
          R"({"index":1,"url":"not a url","status":null,"bytes":null,"ms":0,"error":{"code":"invalid_url","message":")",
          0) == 0);
  CHECK(got[2] == ok_line(2, server.url("/status/503"), 503, 10));
  CHECK(
      got[3].rfind(
          R"({"index":3,"url":"http://127.0.0.1:1/refused","status":null,"bytes":null,"ms":0,"error":{"code":"connection_refused","message":")",
          0) == 0);
  CHECK(got[3].find("127.0.0.1:1/refused") != std::string::npos);
  CHECK(got[4] == ok_line(4, server.url("/hello"), 200, 11));
}

TEST_CASE("fanout-fetch exits 0 when every request got a response, whatever its status") {
  test_server server;
  auto r = fetch({server.url("/status/500"), server.url("/status/404"), server.url("/hello")});
  CHECK(r.exit_code == 0);
  CHECK(without_ms(r.out) == ok_line(0, server.url("/status/500"), 500, 10) +
                                 ok_line(1, server.url("/status/404"), 404, 10) +
                                 ok_line(2, server.url("/hello"), 200, 11));
}

TEST_CASE("fanout-fetch reads URLs from a file") {
  test_server server;
  fs::path file = fs::temp_directory_path() / ("fanout-fetch-urls-" + std::to_string(::getpid()));
  std::ofstream(file) << server.url("/hello") << "\n#skip\n" << server.url("/json") << "\n";
  auto r = fetch({"-i", file.string()});
  fs::remove(file);
  CHECK(r.exit_code == 0);
  CHECK(without_ms(r.out) ==
        ok_line(0, server.url("/hello"), 200, 11) + ok_line(1, server.url("/json"), 200, 48));
}

TEST_CASE("fanout-fetch --unordered prints in completion order") {
  test_server server;
  auto r = fetch({"--unordered", server.url("/delay/400"), server.url("/delay/1")});
  CHECK(r.exit_code == 0);
  CHECK(without_ms(r.out) ==
        ok_line(1, server.url("/delay/1"), 200, 4) + ok_line(0, server.url("/delay/400"), 200, 4));
}

TEST_CASE("fanout-fetch caps requests in flight with -c, and connections per host with it") {
  test_server server;
  std::vector<std::string> args{"-c", "3"};
  for (int i = 0; i < 30; ++i) args.push_back(server.url("/delay/20"));
  auto r = fetch(args);
  CHECK(r.exit_code == 0);
  CHECK(server.peak_connections() == 3);
  CHECK(server.connections() == 3);  // kept alive and reused
  CHECK(server.requests() == 30);
}

TEST_CASE("fanout-fetch sends the method, headers and JSON body it is given") {
  test_server server;
  auto r = fetch({"-X", "PUT", "-H", "X-Trace: abc", "--json", R"({"k": 1})", server.url("/echo")});
  CHECK(r.exit_code == 0);
  auto req = server.last_request();
  CHECK(req.method_string() == "PUT");
  CHECK(req["x-trace"] == "abc");
  CHECK(req[boost::beast::http::field::content_type] == "application/json");
  CHECK(req.body() == R"({"k":1})");
}

TEST_CASE("fanout-fetch --format summary counts statuses, errors and connections") {
  test_server server;
  auto r = fetch({"--format", "summary", server.url("/hello"), server.url("/hello"),
                  server.url("/status/404"), "http://127.0.0.1:1/"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("requests: 4 in ") == 0);
  CHECK(r.out.find("1 errors") != std::string::npos);
  CHECK(r.out.find("  status 200: 2\n") != std::string::npos);
  CHECK(r.out.find("  status 404: 1\n") != std::string::npos);
  CHECK(r.out.find("  error connection_refused: 1\n") != std::string::npos);
  CHECK(r.out.find("latency ms: p50 ") != std::string::npos);
  CHECK(r.out.find("connections opened: ") != std::string::npos);
}

// A number after `label` in `text`, or -1.
long number_after(const std::string& text, const std::string& label) {
  auto at = text.find(label);
  if (at == std::string::npos) return -1;
  return std::strtol(text.c_str() + at + label.size(), nullptr, 10);
}

TEST_CASE("fanout-fetch with fewer file descriptors than requests in flight waits for them") {
  // 600 requests in flight need 600 sockets; the soft and hard limits are both 256, so
  // raising the soft one cannot help. Requests that find no descriptor wait for a connection
  // of the session to come back, and every one gets its answer. The server runs in this
  // process, whose limit is not lowered.
  test_server server;
  std::string input;
  for (int i = 0; i < 1000; ++i) input += server.url("/delay/20") + "\n";
  auto r = fetch({"-c", "600", "--format", "summary", "-i", "-"}, input, "ulimit -n 256");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("requests: 1000 in ") == 0);
  CHECK(r.out.find(", 0 errors\n") != std::string::npos);
  CHECK(r.out.find("  status 200: 1000\n") != std::string::npos);
  CHECK(server.requests() == 1000);
  // Connections that opened, not attempts: as many as the server accepted, under the limit.
  auto const opened = number_after(r.out, "connections opened: ");
  CHECK(opened == static_cast<long>(server.connections()));
  CHECK(opened > 0);
  CHECK(opened < 256);
  CHECK(server.peak_connections() < 256);
}

TEST_CASE("fanout-fetch rejects bad usage with exit status 2 and says why") {
  auto bad = fetch({"-c", "zero", "http://127.0.0.1:1/"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("-c needs a whole number") != std::string::npos);
  CHECK(bad.out.empty());
  CHECK(fetch({"--frobnicate"}).exit_code == 2);
  CHECK(fetch({"-d", "x", "--json", "{}", "http://127.0.0.1:1/"}).exit_code == 2);
  CHECK(fetch({"--json", "{not json", "http://127.0.0.1:1/"}).exit_code == 2);
  auto help = fetch({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: fanout-fetch") == 0);
}

TEST_CASE("fanout-fetch --retries retries a 503, and only when asked") {
  test_server server;
  std::atomic<int> hits{0};
  server.route("/flaky", [&](fanout::test::exchange& x) {
    if (hits.fetch_add(1) % 2 == 0) {  // every other request fails
      x.res.result(503);
      x.res.body() = "later";
    } else {
      x.res.body() = "done";
    }
  });
  const auto url = server.url("/flaky");
  auto once = fetch({"--format", "jsonl", url});
  CHECK(once.exit_code == 0);
  CHECK(without_ms(once.out) == ok_line(0, url, 503, 5));
  CHECK(hits.load() == 1);

  hits = 0;
  auto retried = fetch({"--format", "jsonl", "--retries", "2", url});
  CHECK(retried.exit_code == 0);
  CHECK(without_ms(retried.out) == ok_line(0, url, 200, 4));
  CHECK(hits.load() == 2);

  hits = 0;
  auto post = fetch({"--format", "jsonl", "--retries", "2", "-X", "POST", "-d", "x", url});
  CHECK(without_ms(post.out) == ok_line(0, url, 503, 5));  // POST is never retried
  CHECK(hits.load() == 1);
}

TEST_CASE("fanout-fetch --rate starts at most R requests per second per host") {
  test_server server;
  std::vector<std::string> args{"--format", "jsonl", "--rate", "20"};
  for (int i = 0; i < 10; ++i) args.push_back(server.url("/hello"));
  auto t0 = std::chrono::steady_clock::now();
  auto r = fetch(args);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  CHECK(r.exit_code == 0);
  CHECK(server.requests() == 10);
  CHECK(took.count() >= 0.44);  // 9 intervals of 50 ms after the first
  CHECK(took.count() < 10.0);
}

TEST_CASE("fanout-fetch --retries and --rate reject bad values") {
  auto rate = fetch({"--rate", "0", "http://127.0.0.1:1/"});
  CHECK(rate.exit_code == 2);
  CHECK(rate.err.find("--rate needs a positive number") != std::string::npos);
  CHECK(fetch({"--rate", "fast", "http://127.0.0.1:1/"}).exit_code == 2);
  CHECK(fetch({"--retries", "-1", "http://127.0.0.1:1/"}).exit_code == 2);
  CHECK(fetch({"--retries", "1000", "http://127.0.0.1:1/"}).exit_code == 2);
  auto help = fetch({"--help"});
  CHECK(help.out.find("--retries N") != std::string::npos);
  CHECK(help.out.find("--rate R") != std::string::npos);
}

TEST_CASE("fanout-fetch streams: output starts before its input ends") {
  test_server server;
  fs::path fifo = fs::temp_directory_path() / ("fanout-fetch-fifo-" + std::to_string(::getpid()));
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string cmd = std::string(FANOUT_FETCH_PATH) + " -c 4 -i " + quote(fifo.string());
  std::FILE* out = ::popen(cmd.c_str(), "r");
  REQUIRE(out);
  {
    std::ofstream feed(fifo);
    for (int i = 0; i < 5; ++i) feed << server.url("/hello") << "\n";
    feed.flush();
    // The input is still open: the first results must arrive anyway.
    char line[512];
    REQUIRE(std::fgets(line, sizeof line, out) != nullptr);
    CHECK(std::string(line).rfind(R"({"index":0,)", 0) == 0);
    for (int i = 0; i < 995; ++i) feed << server.url("/hello") << "\n";
  }  // closes the input
  int lines = 1;
  char buf[512];
  while (std::fgets(buf, sizeof buf, out)) ++lines;
  CHECK(::pclose(out) == 0);
  fs::remove(fifo);
  CHECK(lines == 1000);
  CHECK(server.requests() == 1000);
}

TEST_CASE("fanout-fetch --resolve and --connect-to reach names that have no DNS entry") {
  test_server server;
  std::mutex m;
  std::vector<std::string> hosts;
  server.route("/who", [&](fanout::test::exchange& x) {
    std::lock_guard lock(m);
    hosts.emplace_back(x.req[boost::beast::http::field::host]);
    x.res.body() = "me";
  });
  auto const port = std::to_string(server.port());
  // .invalid never resolves (RFC 6761): only the rule can get there.
  std::string const pinned = "http://pinned.invalid:" + port + "/who";
  std::string const moved = "http://moved.invalid/who";  // port 80, moved to the server's
  auto r = fetch({"--format", "jsonl", "--resolve", "pinned.invalid:" + port + ":127.0.0.1",
                  "--connect-to", "moved.invalid:80:127.0.0.1:" + port, pinned, moved});
  CHECK(r.exit_code == 0);
  CHECK(without_ms(r.out) == ok_line(0, pinned, 200, 2) + ok_line(1, moved, 200, 2));
  {
    std::lock_guard lock(m);
    std::sort(hosts.begin(), hosts.end());  // the two ran concurrently
    CHECK(hosts == std::vector<std::string>{"moved.invalid", "pinned.invalid:" + port});
  }

  auto bad = fetch({"--resolve", "pinned.invalid:80"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--resolve needs HOST:PORT:ADDR") != std::string::npos);
  CHECK(fetch({"--connect-to", "a:1:b"}).exit_code == 2);
}

TEST_CASE("fanout-fetch --proxy and --trust-env send the requests through a proxy") {
  test_server server;
  fanout::test::fake_proxy proxy;
  const auto url = server.url("/hello");
  auto r = fetch({"--format", "jsonl", "--proxy", proxy.url("user:pass"), url});
  CHECK(r.exit_code == 0);
  CHECK(without_ms(r.out) == ok_line(0, url, 200, 11));
  REQUIRE(proxy.requests().size() == 1);
  CHECK(proxy.requests()[0].target == url);
  CHECK(proxy.requests()[0].proxy_authorization ==
        std::optional<std::string>("Basic dXNlcjpwYXNz"));

  // The environment counts only with --trust-env (the child inherits ours: set, then restore).
  const char* saved = std::getenv("http_proxy");
  std::string const old = saved ? saved : "";
  ::setenv("http_proxy", proxy.url().c_str(), 1);
  auto ignored = fetch({"--format", "jsonl", url});
  auto trusted = fetch({"--format", "jsonl", "--trust-env", url});
  if (saved)
    ::setenv("http_proxy", old.c_str(), 1);
  else
    ::unsetenv("http_proxy");
  CHECK(ignored.exit_code == 0);
  CHECK(trusted.exit_code == 0);
  CHECK(proxy.requests().size() == 2);
  CHECK(server.requests() == 3);

  CHECK(fetch({"--proxy"}).exit_code == 2);
  auto bad = fetch({"--format", "jsonl", "--proxy", "socks5://127.0.0.1:1", url});
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find("invalid proxy URL") != std::string::npos);
  auto help = fetch({"--help"});
  CHECK(help.out.find("--proxy URL") != std::string::npos);
  CHECK(help.out.find("--trust-env") != std::string::npos);
}

TEST_CASE("fanout-fetch sends a URL's userinfo as Basic and never prints its password") {
  test_server server;
  auto with_userinfo = [](std::string url, const std::string& userinfo) {
    return url.insert(url.find("//") + 2, userinfo + "@");
  };
  const auto hello = server.url("/hello");
  auto r = fetch({"--format", "jsonl", with_userinfo(hello, "user:s3cret"),
                  "http://user:s3cret@127.0.0.1:1/refused"});
  CHECK(r.exit_code == 1);
  auto const last = server.last_request();
  REQUIRE(last.find(boost::beast::http::field::authorization) != last.end());
  CHECK(last[boost::beast::http::field::authorization] == "Basic dXNlcjpzM2NyZXQ=");
  std::istringstream lines(without_ms(r.out));
  std::vector<std::string> got;
  for (std::string l; std::getline(lines, l);) got.push_back(l + "\n");
  REQUIRE(got.size() == 2);
  CHECK(got[0] == ok_line(0, with_userinfo(hello, "user:***"), 200, 11));
  CHECK(
      got[1].rfind(
          R"({"index":1,"url":"http://user:***@127.0.0.1:1/refused","status":null,"bytes":null,"ms":0,"error":{"code":"connection_refused","message":"GET http://user:***@127.0.0.1:1/refused: )",
          0) == 0);
  CHECK(r.out.find("s3cret") == std::string::npos);
  CHECK(r.err.find("s3cret") == std::string::npos);
}

namespace {

/// A fresh, empty directory for one test, removed by the destructor.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("fanout-fetch-scratch-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~scratch_dir() { fs::remove_all(path); }
  fs::path operator/(const std::string& name) const { return path / name; }
};

}  // namespace

TEST_CASE("fanout-fetch -o FILE writes the JSON lines to FILE, --format says what stdout gets") {
  test_server server;
  scratch_dir dir;
  const auto hello = server.url("/hello");
  const auto expected = ok_line(0, hello, 200, 11) + ok_line(1, hello, 200, 11);

  auto to_file = fetch({"-o", (dir / "out.jsonl").string(), hello, hello});
  CHECK(to_file.exit_code == 0);
  CHECK(to_file.out.empty());  // not a terminal: the format is jsonl, and the lines went to FILE
  CHECK(without_ms(slurp(dir / "out.jsonl")) == expected);

  // An existing file is truncated; the summary goes to stdout beside it.
  auto both = fetch({"-o", (dir / "out.jsonl").string(), "--format", "summary", hello, hello});
  CHECK(both.exit_code == 0);
  CHECK(without_ms(slurp(dir / "out.jsonl")) == expected);
  CHECK(both.out.find("requests: 2 in ") == 0);

  auto dash = fetch({"-o", "-", hello});
  CHECK(without_ms(dash.out) == ok_line(0, hello, 200, 11));
}

TEST_CASE("fanout-fetch refuses the old -o jsonl|summary and points to --format") {
  for (std::string old : {"jsonl", "summary"}) {
    auto r = fetch({"-o", old, "http://127.0.0.1:1/"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("use --format " + old) != std::string::npos);
    CHECK(!fs::exists(old));
  }
  auto bad = fetch({"--format", "xml", "http://127.0.0.1:1/"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--format takes jsonl or summary") != std::string::npos);
  auto unwritable = fetch({"-o", "/nonexistent-dir/out.jsonl", "http://127.0.0.1:1/"});
  CHECK(unwritable.exit_code == 2);
  CHECK(unwritable.err.find("cannot open /nonexistent-dir/out.jsonl") != std::string::npos);
  auto help = fetch({"--help"});
  CHECK(help.out.find("--format jsonl|summary") != std::string::npos);
  CHECK(help.out.find("-o FILE") != std::string::npos);
}

TEST_CASE("fanout-fetch --fail exits 1 when a status is >= 400, the lines unchanged") {
  test_server server;
  const auto hello = server.url("/hello");
  const auto missing = server.url("/status/404");
  const auto expected = ok_line(0, hello, 200, 11) + ok_line(1, missing, 404, 10);
  auto plain = fetch({hello, missing});
  CHECK(plain.exit_code == 0);
  auto failing = fetch({"--fail", hello, missing});
  CHECK(failing.exit_code == 1);
  CHECK(without_ms(failing.out) == expected);
  auto fine = fetch({"--fail", hello, server.url("/status/302")});
  CHECK(fine.exit_code == 0);  // 3xx is not a failure (the redirect has no Location: returned)
}

TEST_CASE("fanout-fetch --max-filesize makes a larger body an item error body_too_large") {
  test_server server;
  const auto thousand = server.url("/bytes/1000");
  auto at_limit = fetch({"--max-filesize", "1000", thousand});
  CHECK(at_limit.exit_code == 0);
  CHECK(without_ms(at_limit.out) == ok_line(0, thousand, 200, 1000));

  auto over = fetch({"--max-filesize", "999", thousand, server.url("/chunked"), server.url("/gzip"),
                     server.url("/hello")});
  CHECK(over.exit_code == 1);
  std::istringstream lines(without_ms(over.out));
  std::vector<std::string> got;
  for (std::string l; std::getline(lines, l);) got.push_back(l);
  REQUIRE(got.size() == 4);
  for (std::size_t i = 0; i < 3; ++i) {  // by Content-Length, chunked, and once decompressed
    INFO(got[i]);
    CHECK(got[i].find(R"("status":null,"bytes":null,"ms":0,"error":{"code":"body_too_large")") !=
          std::string::npos);
    CHECK(got[i].find("(the limit: --max-filesize 999)") != std::string::npos);
  }
  CHECK(got[3] + "\n" == ok_line(3, server.url("/hello"), 200, 11));

  auto k = fetch({"--max-filesize", "1K", server.url("/bytes/1024"), server.url("/bytes/1025")});
  CHECK(k.out.find(R"("bytes":1024,)") != std::string::npos);
  CHECK(k.out.find(R"("code":"body_too_large")") != std::string::npos);

  for (std::string bad : {"0", "-1", "ten", "10X", "99999999999G"}) {
    auto r = fetch({"--max-filesize", bad, thousand});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--max-filesize needs a number of bytes") != std::string::npos);
  }
}

namespace {

// A route answering `body` with `content_type` (none when empty).
void serve_body(test_server& server, const std::string& path, std::string content_type,
                std::string body) {
  server.route(path, [content_type, body](fanout::test::exchange& x) {
    if (!content_type.empty()) x.res.set(boost::beast::http::field::content_type, content_type);
    x.res.body() = body;
  });
}

std::string all_bytes() {
  std::string b;
  for (int i = 0; i < 256; ++i) b.push_back(static_cast<char>(i));
  return b;
}

const std::string all_bytes_base64 =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNE"
    "RUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJ"
    "iouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3O"
    "z9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";

// ok_line with the --body keys: `body` is the JSON text of the "body" value.
std::string body_line(std::size_t index, const std::string& url, std::size_t bytes,
                      const std::string& encoding, const std::string& body) {
  auto line = ok_line(index, url, 200, bytes);
  line.resize(line.size() - 2);  // "}\n"
  return line + ",\"body_encoding\":\"" + encoding + "\",\"body\":" + body + "}\n";
}

}  // namespace

TEST_CASE("fanout-fetch --body puts JSON, text and binary bodies in the lines, byte for byte") {
  test_server server;
  const std::string json_text = "{\"z\": 1, \"a\": [true, null, 2.5, \"caf\xc3\xa9\"], \"m\": {}}";
  serve_body(server, "/j", "application/json; charset=utf-8", json_text);
  serve_body(server, "/problem", "Application/Problem+JSON", "[1,2]");
  serve_body(server, "/not-json", "application/json", "{oops");
  serve_body(server, "/t", "text/plain", "caf\xc3\xa9\n\"q\"\t\\ \xf0\x9f\x98\x80");
  serve_body(server, "/json-as-text", "text/plain", "{\"k\":1}");
  serve_body(server, "/bin", "application/octet-stream", all_bytes());
  serve_body(server, "/overlong", "text/plain", "\xc0\xaf");       // '/' in two bytes: not UTF-8
  serve_body(server, "/surrogate", "text/plain", "\xed\xa0\x80");  // U+D800: not UTF-8
  serve_body(server, "/empty", "", "");
  std::vector<std::string> paths{"/j",   "/problem",  "/not-json",  "/t",    "/json-as-text",
                                 "/bin", "/overlong", "/surrogate", "/empty"};
  std::vector<std::string> args{"--body"};
  for (auto& p : paths) args.push_back(server.url(p));
  auto r = fetch(args);
  CHECK(r.exit_code == 0);
  std::string const expected =
      body_line(0, server.url("/j"), json_text.size(), "json",
                "{\"z\":1,\"a\":[true,null,2.5,\"caf\xc3\xa9\"],\"m\":{}}") +  // keys in order
      body_line(1, server.url("/problem"), 5, "json", "[1,2]") +
      body_line(2, server.url("/not-json"), 5, "text", "\"{oops\"") +
      body_line(3, server.url("/t"), 16, "text",
                "\"caf\xc3\xa9\\n\\\"q\\\"\\t\\\\ \xf0\x9f\x98\x80\"") +
      body_line(4, server.url("/json-as-text"), 7, "text", "\"{\\\"k\\\":1}\"") +
      body_line(5, server.url("/bin"), 256, "base64", "\"" + all_bytes_base64 + "\"") +
      body_line(6, server.url("/overlong"), 2, "base64", "\"wK8=\"") +
      body_line(7, server.url("/surrogate"), 3, "base64", "\"7aCA\"") +
      body_line(8, server.url("/empty"), 0, "text", "\"\"");
  CHECK(without_ms(r.out) == expected);

  // Each line is JSON that jq-like tools read: the binary body decodes back to its bytes.
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);) CHECK_NOTHROW(nlohmann::json::parse(l));
}

TEST_CASE("fanout-fetch --body MODE: json parses whatever the type, text never, base64 always") {
  test_server server;
  serve_body(server, "/json-as-text", "text/plain", "{\"k\":1}");
  serve_body(server, "/j", "application/json", "{\"k\":1}");
  const auto as_text = server.url("/json-as-text");
  const auto j = server.url("/j");

  auto json = fetch({"--body", "json", as_text, server.url("/hello")});
  CHECK(without_ms(json.out) ==
        body_line(0, as_text, 7, "json", "{\"k\":1}") +
            body_line(1, server.url("/hello"), 11, "text", "\"hello world\""));
  auto text = fetch({"--body=text", j});
  CHECK(without_ms(text.out) == body_line(0, j, 7, "text", "\"{\\\"k\\\":1}\""));
  auto b64 = fetch({"--body", "base64", j});
  CHECK(without_ms(b64.out) == body_line(0, j, 7, "base64", "\"eyJrIjoxfQ==\""));
  // --body followed by a URL takes the default mode and the URL stays a URL.
  auto bare = fetch({"--body", j});
  CHECK(without_ms(bare.out) == body_line(0, j, 7, "json", "{\"k\":1}"));

  auto bad = fetch({"--body=xml", j});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--body takes auto, json, text or base64, not 'xml'") != std::string::npos);
}

TEST_CASE("fanout-fetch --body: an error's line has null body keys; --max-inline caps the body") {
  test_server server;
  auto refused = fetch({"--body", "http://127.0.0.1:1/"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.find(R"("error":{"code":"connection_refused")") != std::string::npos);
  CHECK(refused.out.find(R"(},"body_encoding":null,"body":null})"
                         "\n") != std::string::npos);

  const auto ten = server.url("/bytes/10");
  const auto eleven = server.url("/bytes/11");
  auto capped = fetch({"--body", "--max-inline", "10", ten, eleven});
  CHECK(capped.exit_code == 1);
  std::istringstream lines(without_ms(capped.out));
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  CHECK(first + "\n" == body_line(0, ten, 10, "text", "\"xxxxxxxxxx\""));
  CHECK(second.find(R"("status":null,"bytes":null,"ms":0,"error":{"code":"body_too_large")") !=
        std::string::npos);
  CHECK(second.find("(the limit: --max-inline 10)") != std::string::npos);
  // Without --body the cap does not apply.
  auto plain = fetch({"--max-inline", "10", eleven});
  CHECK(without_ms(plain.out) == ok_line(0, eleven, 200, 11));
}

namespace {

// The lines of `jsonl`, each parsed.
std::vector<nlohmann::json> parse_lines(const std::string& jsonl) {
  std::vector<nlohmann::json> out;
  std::istringstream in(jsonl);
  for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
  return out;
}

// "host:port" of a loopback URL the tests build ("http://127.0.0.1:1234/x" -> "127.0.0.1:1234").
std::string authority(const std::string& url) {
  auto from = url.find("//") + 2;
  return url.substr(from, url.find('/', from) - from);
}

}  // namespace

TEST_CASE("fanout-fetch --shard: three shards merged by index are one run, each host in one") {
  std::vector<std::unique_ptr<test_server>> servers;
  for (int i = 0; i < 8; ++i) servers.push_back(std::make_unique<test_server>());
  std::string input;
  for (int round = 0; round < 4; ++round)
    for (auto& s : servers) input += s->url("/bytes/" + std::to_string(round + 1)) + "\n";
  input += "not a url\n";

  auto whole = fetch({"-i", "-"}, input);
  CHECK(whole.exit_code == 1);  // the line that is no URL
  auto all = parse_lines(without_ms(whole.out));
  REQUIRE(all.size() == 33);

  std::vector<nlohmann::json> merged;
  std::map<std::string, std::set<int>> shards_of_host;
  for (int k = 1; k <= 3; ++k) {
    auto part = fetch({"--shard", std::to_string(k) + "/3", "-i", "-"}, input);
    INFO("shard " << k << ": " << part.err);
    CHECK((part.exit_code == 0 || part.exit_code == 1));
    for (auto& line : parse_lines(without_ms(part.out))) {
      auto url = line["url"].get<std::string>();
      shards_of_host[url == "not a url" ? url : authority(url)].insert(k);
      merged.push_back(line);
    }
  }
  std::sort(merged.begin(), merged.end(), [](auto& a, auto& b) {
    return a["index"].template get<int>() < b["index"].template get<int>();
  });
  CHECK(merged == all);  // the same lines, indexes global
  CHECK(shards_of_host.size() == 9);
  for (auto& [host, shards] : shards_of_host) {
    INFO(host);
    CHECK(shards.size() == 1);
  }
  CHECK(shards_of_host["not a url"] == std::set<int>{1});
  std::size_t requests = 0;
  for (auto& s : servers) requests += s->requests();
  CHECK(requests == 2 * 32);  // once by the whole run, once by the shards together

  auto bad = fetch({"--shard", "4/3", "http://127.0.0.1:1/"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--shard needs K/N with 1 <= K <= N, not '4/3'") != std::string::npos);
  CHECK(fetch({"--shard", "0/3", "http://127.0.0.1:1/"}).exit_code == 2);
  CHECK(fetch({"--shard", "x", "http://127.0.0.1:1/"}).exit_code == 2);
}

namespace {

/// Starts fanout-fetch with `args` in the background, standard input from /dev/null and its
/// output thrown away; returns its pid.
pid_t spawn_fetch(const std::vector<std::string>& args) {
  std::vector<std::string> all{FANOUT_FETCH_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The indexes of the lines of `jsonl`, in file order.
std::vector<std::size_t> indexes_of(const std::string& jsonl) {
  std::vector<std::size_t> out;
  for (auto& j : parse_lines(jsonl)) out.push_back(j["index"].get<std::size_t>());
  return out;
}

}  // namespace

TEST_CASE("fanout-fetch --resume after kill -9 half-way: one line per input index") {
  test_server server;
  // Requests are counted by the run that sent them (its X-Run header): a request the killed run
  // wrote just before the kill may reach the server after it died, and must not count as the
  // resumed run's.
  std::mutex runs_mutex;
  std::map<std::string, std::size_t> requests_of_run;
  server.route("/delay/*", [&](fanout::test::exchange& x) {
    {
      std::lock_guard lock(runs_mutex);
      ++requests_of_run[std::string(x.req["X-Run"])];
    }
    x.delay = std::chrono::milliseconds(100);
    x.res.body() = "late";
  });
  auto const requests_of = [&](const std::string& run) {
    std::lock_guard lock(runs_mutex);
    return requests_of_run[run];
  };
  scratch_dir dir;
  const std::size_t n = 40;
  {
    std::ofstream urls(dir / "urls.txt");
    for (std::size_t i = 0; i < n; ++i)
      urls << server.url("/delay/100?i=" + std::to_string(i)) << "\n";
  }
  const auto out = (dir / "out.jsonl").string();
  auto const args = [&](const std::string& run) {
    return std::vector<std::string>{"-c",       "2", "-i", (dir / "urls.txt").string(),
                                    "--resume", out, "-H", "X-Run: " + run};
  };

  pid_t pid = spawn_fetch(args("killed"));
  REQUIRE(pid > 0);
  // Half-way: 2 at a time, 100 ms each, is 10 lines a second; wait for 6 of them (at most 10 s).
  auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (count_lines(slurp(out)) < 6 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  const std::string before = slurp(out);
  const std::size_t answered = count_lines(before);  // complete lines; a torn tail is not one
  INFO("answered before the kill: " << answered);
  REQUIRE(answered >= 6);
  REQUIRE(answered < n);
  const std::string intact = before.substr(0, before.rfind('\n') + 1);

  auto resumed = fetch(args("resumed"));
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.out.empty());
  CHECK(requests_of("resumed") == n - answered);  // only what was not answered

  const std::string after = slurp(out);
  CHECK(after.substr(0, intact.size()) == intact);  // the earlier lines as they were
  auto indexes = indexes_of(after);
  std::sort(indexes.begin(), indexes.end());
  std::vector<std::size_t> every(n);
  for (std::size_t i = 0; i < n; ++i) every[i] = i;
  CHECK(indexes == every);

  // Resuming a finished run fetches nothing and changes nothing.
  auto again = fetch(args("again"));
  CHECK(again.exit_code == 0);
  CHECK(requests_of("again") == 0);
  CHECK(slurp(out) == after);
}

TEST_CASE("fanout-fetch --resume cuts a torn last line off before it appends") {
  test_server server;
  scratch_dir dir;
  const auto hello = server.url("/hello");
  const auto out = (dir / "out.jsonl").string();
  const std::string kept = ok_line(0, hello, 200, 11) + ok_line(1, hello, 200, 11);
  std::ofstream(out) << kept << R"({"index":2,"url":"http://127.0.0.1:1/cut mid-li)";
  auto r = fetch({"--resume", out, hello, hello, hello, hello});
  CHECK(r.exit_code == 0);
  const auto after = slurp(out);
  CHECK(after.substr(0, kept.size()) == kept);
  CHECK(without_ms(after.substr(kept.size())) ==
        ok_line(2, hello, 200, 11) + ok_line(3, hello, 200, 11));
  CHECK(server.requests() == 2);

  // A file that does not exist yet is a new run; --resume implies -o FILE.
  const auto fresh = (dir / "fresh.jsonl").string();
  auto first = fetch({"--resume", fresh, hello});
  CHECK(first.exit_code == 0);
  CHECK(first.out.empty());
  CHECK(without_ms(slurp(fresh)) == ok_line(0, hello, 200, 11));
}

TEST_CASE("fanout-fetch --resume-retry-errors fetches failed inputs again and drops their lines") {
  test_server server;
  scratch_dir dir;
  const auto hello = server.url("/hello");
  const auto unavailable = server.url("/status/503");
  const auto out = (dir / "out.jsonl").string();
  const std::string ok0 = ok_line(0, hello, 200, 11);
  const std::string failed1 =
      R"({"index":1,"url":")" + hello +
      R"(","status":null,"bytes":null,"ms":0,"error":{"code":"timeout","message":"t"}})"
      "\n";
  const std::string status2 = ok_line(2, unavailable, 503, 10);
  std::ofstream(out) << ok0 << failed1 << status2;

  auto plain = fetch({"--resume", out, hello, hello, unavailable});
  CHECK(plain.exit_code == 0);
  CHECK(server.requests() == 0);  // every index answered, errors included
  CHECK(slurp(out) == ok0 + failed1 + status2);

  auto retried = fetch({"--resume", out, "--resume-retry-errors", hello, hello, unavailable});
  CHECK(retried.exit_code == 0);
  CHECK(server.requests() == 1);
  CHECK(without_ms(slurp(out)) == ok0 + status2 + ok_line(1, hello, 200, 11));

  // With --fail a status >= 400 counts as failed too.
  auto with_fail =
      fetch({"--resume", out, "--resume-retry-errors", "--fail", hello, hello, unavailable});
  CHECK(with_fail.exit_code == 1);  // 503 again
  CHECK(server.requests() == 2);
  CHECK(without_ms(slurp(out)) ==
        ok0 + ok_line(1, hello, 200, 11) + ok_line(2, unavailable, 503, 10));
}

TEST_CASE("fanout-fetch --resume refuses a file that is not its JSON lines, and bad usage") {
  scratch_dir dir;
  const auto csv = (dir / "urls.csv").string();
  const std::string content = "index,url\n0,http://127.0.0.1:1/\n";
  std::ofstream(csv) << content;
  auto r = fetch({"--resume", csv, "http://127.0.0.1:1/"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--resume: line 1 of " + csv + " is not a JSON line of fanout-fetch") !=
        std::string::npos);
  CHECK(slurp(csv) == content);  // untouched
  CHECK(fetch({"--resume-retry-errors", "http://127.0.0.1:1/"}).exit_code == 2);
  auto other = fetch({"--resume", csv, "-o", (dir / "x").string(), "http://127.0.0.1:1/"});
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("-o cannot name another file") != std::string::npos);
}

namespace {

// Bytes no compressor shrinks and no two offsets of which look alike.
std::string noise(std::size_t n) {
  std::string s(n, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 56);
  }
  return s;
}

// Every regular file under `root`, as paths relative to it, sorted.
std::vector<std::string> files_under(const fs::path& root) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("fanout-fetch --output-dir streams each 2xx body to its file, byte for byte") {
  test_server server;
  scratch_dir dir;
  const std::string big = noise(3 << 20);  // many of the library's 256 KiB blocks
  serve_body(server, "/big.bin", "application/octet-stream", big);
  serve_body(server, "/bin", "application/octet-stream", all_bytes());
  const std::string out = (dir / "out").string();
  const std::string host = authority(server.url("/"));
  const std::vector<std::string> paths{"/big.bin", "/bin", "/gzip", "/json", "/status/404", "/"};
  std::vector<std::string> args{"--output-dir", out, "--body", "--max-inline", "1K"};
  for (auto& p : paths) args.push_back(server.url(p));
  auto r = fetch(args);
  CHECK(r.exit_code == 0);
  auto lines = parse_lines(without_ms(r.out));
  REQUIRE(lines.size() == paths.size());

  std::string gzip_text;
  for (int i = 0; i < 200; ++i) gzip_text += "hello gzip ";
  struct want {
    std::string name;
    const std::string* bytes;
  };
  const std::string json_body = R"({"id": 42, "name": "widget", "tags": ["a", "b"]})";
  const std::vector<want> files{{host + "/big.bin", &big},
                                {host + "/bin", nullptr},
                                {host + "/gzip", &gzip_text},
                                {host + "/json", &json_body}};
  const std::string all = all_bytes();
  for (std::size_t i = 0; i < files.size(); ++i) {
    INFO(files[i].name);
    const std::string& bytes = files[i].bytes ? *files[i].bytes : all;
    CHECK(lines[i]["file"] == out + "/" + files[i].name);
    CHECK(lines[i]["bytes"] == bytes.size());
    CHECK(slurp(fs::path(out) / files[i].name) == bytes);  // decoded: gzip undone
  }
  // Up to --max-inline a body is inlined as well; beyond, not, and no error.
  CHECK(lines[0]["body"].is_null());
  CHECK(lines[0]["body_encoding"].is_null());
  CHECK(lines[1]["body"] == all_bytes_base64);
  CHECK(lines[3]["body"] == nlohmann::json::parse(json_body));
  // Another status: its body stays in the line, no file.
  CHECK(lines[4]["status"] == 404);
  CHECK(lines[4]["file"].is_null());
  CHECK(lines[4]["body"] == "status 404");
  CHECK(lines[5]["status"] == 404);  // "/" has no route here: still no file
  CHECK(files_under(out) ==
        std::vector<std::string>{host + "/big.bin", host + "/bin", host + "/gzip", host + "/json"});
}

TEST_CASE("fanout-fetch --output-dir: names from hostile URLs stay inside DIR") {
  test_server server;
  scratch_dir dir;
  server.route("/*", [](fanout::test::exchange& x) { x.res.body() = std::string(x.req.target()); });
  const std::string out = (dir / "out").string();
  const std::string host = authority(server.url("/"));
  const std::string long_segment(1000, 'L');
  const std::vector<std::pair<std::string, std::string>> cases{
      {"/../../etc/passwd", host + "/etc/passwd"},
      {"/%2e%2e/%2E%2E/escape", host + "/escape"},
      {"/a/..%2F..%2F..%2Fb", host + "/a/..%2F..%2F..%2Fb"},
      {"/a/%2F..%2F/c", host + "/a/%2F..%2F/c"},
      {"/w/..%5C..%5Cwin", host + "/w/..%5C..%5Cwin"},
      {"/%00nul", host + "/%00nul"},
      {"/q?x=../../y&z=/etc", host + "/q?x=..%2F..%2Fy&z=%2Fetc"},
      {"/d/", host + "/d/index.html"},
      {"/", host + "/index.html"},
      {"/long/" + long_segment, host + "/long/" + fetch_tool::cap_component(long_segment)},
  };
  std::vector<std::string> args{"--output-dir", out};
  for (auto& [path, name] : cases) args.push_back(server.url(path));
  auto r = fetch(args);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto lines = parse_lines(without_ms(r.out));
  REQUIRE(lines.size() == cases.size());
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].first);
    CHECK(lines[i]["file"] == out + "/" + cases[i].second);
    expected.push_back(cases[i].second);
  }
  std::sort(expected.begin(), expected.end());
  CHECK(files_under(dir.path) == [&] {
    std::vector<std::string> in_dir;
    for (auto& e : expected) in_dir.push_back("out/" + e);
    return in_dir;
  }());
  // And with a template that tries to climb out itself.
  auto climbing =
      fetch({"--output-dir", out, "--output-name", "../../{index}-{sha256}", server.url("/x")});
  CHECK(climbing.exit_code == 0);
  CHECK(parse_lines(climbing.out)[0]["file"] ==
        out + "/0-" + fetch_tool::sha256_hex(server.url("/x")));
  CHECK(fs::exists(fs::path(out) / ("0-" + fetch_tool::sha256_hex(server.url("/x")))));
}

TEST_CASE("fanout-fetch --output-dir keeps existing files unless --overwrite") {
  test_server server;
  scratch_dir dir;
  std::string body = "first";
  server.route("/f", [&](fanout::test::exchange& x) { x.res.body() = body; });
  const std::string out = (dir / "out").string();
  const auto file = fs::path(out) / authority(server.url("/")) / "f";
  auto first = fetch({"--output-dir", out, server.url("/f")});
  CHECK(first.exit_code == 0);
  CHECK(slurp(file) == "first");

  body = "second";
  auto kept = fetch({"--output-dir", out, server.url("/f")});
  CHECK(kept.exit_code == 1);
  CHECK(kept.out.find(R"("error":{"code":"file_exists")") != std::string::npos);
  CHECK(kept.out.find("(--overwrite replaces it)") != std::string::npos);
  CHECK(slurp(file) == "first");

  auto replaced = fetch({"--output-dir", out, "--overwrite", server.url("/f")});
  CHECK(replaced.exit_code == 0);
  CHECK(slurp(file) == "second");

  CHECK(fetch({"--overwrite", server.url("/f")}).exit_code == 2);
  CHECK(fetch({"--continue", server.url("/f")}).exit_code == 2);
  auto bad = fetch({"--output-dir", out, "--output-name", "{nope}", server.url("/f")});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("has an unknown placeholder {nope}") != std::string::npos);
}

TEST_CASE("fanout-fetch --continue resumes a .part by Range") {
  test_server server;
  scratch_dir dir;
  const std::string body = noise(1 << 20);
  const std::string etag = "\"v1\"";
  std::vector<std::string> ranges;
  bool cut = true;
  server.route("/file", [&](fanout::test::exchange& x) {
    namespace http = boost::beast::http;
    auto const range = std::string(x.req[http::field::range]);
    ranges.push_back(range);
    if (cut) {  // the first answer stops 300,000 bytes in: the server went away
      cut = false;
      x.raw = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\nETag: " + etag + "\r\n\r\n" + body.substr(0, 300000);
      x.close = true;
      return;
    }
    x.res.set(http::field::etag, etag);
    std::size_t from = 0;
    if (!range.empty() && x.req[http::field::if_range] == etag) {
      from = std::stoull(range.substr(6));  // "bytes=N-"
      x.res.result(http::status::partial_content);
      x.res.set(http::field::content_range, "bytes " + std::to_string(from) + "-" +
                                                std::to_string(body.size() - 1) + "/" +
                                                std::to_string(body.size()));
    }
    x.res.body() = body.substr(from);
  });
  const std::string out = (dir / "out").string();
  const auto file = fs::path(out) / authority(server.url("/")) / "file";
  auto broken = fetch({"--output-dir", out, server.url("/file")});
  CHECK(broken.exit_code == 1);
  CHECK(!fs::exists(file));
  REQUIRE(fs::exists(file.string() + ".part"));
  auto const part = fs::file_size(file.string() + ".part");
  CHECK(part > 0);
  CHECK(part <= 300000);

  auto resumed = fetch({"--output-dir", out, "--continue", server.url("/file")});
  CHECK(resumed.exit_code == 0);
  CHECK(slurp(file) == body);
  CHECK(!fs::exists(file.string() + ".part"));
  REQUIRE(ranges.size() == 2);
  CHECK(ranges[0].empty());
  CHECK(ranges[1] == "bytes=" + std::to_string(part) + "-");
  auto line = parse_lines(resumed.out).at(0);
  CHECK(line["status"] == 206);
  CHECK(line["bytes"] == body.size());  // the whole file, not only this request's part
}

TEST_CASE("fanout-fetch --resume with --output-dir after kill -9: every file complete") {
  test_server server;
  scratch_dir dir;
  const std::size_t n = 30;
  {
    std::ofstream urls(dir / "urls.txt");
    for (std::size_t i = 0; i < n; ++i)
      urls << server.url("/delay/100?i=" + std::to_string(i)) << "\n";
  }
  const auto out = (dir / "out.jsonl").string();
  const auto files = (dir / "files").string();
  const std::vector<std::string> args{"-c",
                                      "2",
                                      "-i",
                                      (dir / "urls.txt").string(),
                                      "--resume",
                                      out,
                                      "--output-dir",
                                      files,
                                      "--output-name",
                                      "{index}.txt"};
  pid_t pid = spawn_fetch(args);
  REQUIRE(pid > 0);
  auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (count_lines(slurp(out)) < 6 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(count_lines(slurp(out)) < n);

  auto resumed = fetch(args);
  CHECK(resumed.exit_code == 0);
  auto lines = parse_lines(slurp(out));
  REQUIRE(lines.size() == n);
  std::set<std::size_t> seen;
  for (auto& l : lines) {
    auto const i = l["index"].get<std::size_t>();
    seen.insert(i);
    CHECK(l["file"] == files + "/" + std::to_string(i) + ".txt");
  }
  CHECK(seen.size() == n);
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(slurp(fs::path(files) / (std::to_string(i) + ".txt")) == "late");
    expected.push_back(std::to_string(i) + ".txt");
  }
  std::sort(expected.begin(), expected.end());
  CHECK(files_under(files) == expected);  // no .part left behind
}

namespace {

std::size_t occurrences(const std::string& text, const std::string& word) {
  std::size_t n = 0;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

// What `command` prints on its standard output (via popen).
std::string output_of(const std::string& command) {
  std::string out;
  if (std::FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

/// A detached tmux session on a server of its own (a unique -L socket), 200x50, running
/// `command`; the server is killed by the destructor whatever the test did.
class tmux_session {
 public:
  explicit tmux_session(const std::string& command)
      : socket_("fanout-fetch-test-" + std::to_string(::getpid()) + "-" +
                std::to_string(++made())) {
    started_ = std::system(("env -u TMUX tmux -L " + socket_ + " new-session -d -x 200 -y 50 " +
                            quote(command))
                               .c_str()) == 0;
  }
  // The server goes, and the socket file it leaves behind.
  ~tmux_session() {
    std::system((tmux() + " kill-server 2>/dev/null").c_str());
    const char* dir = std::getenv("TMUX_TMPDIR");
    std::error_code ignored;
    fs::remove(
        fs::path(dir && *dir ? dir : "/tmp") / ("tmux-" + std::to_string(::getuid())) / socket_,
        ignored);
  }
  tmux_session(const tmux_session&) = delete;
  tmux_session& operator=(const tmux_session&) = delete;

  bool started() const { return started_; }
  /// The pane's text as shown now.
  std::string screen() const { return output_of(tmux() + " capture-pane -p"); }

  /// Polls the screen every 20 ms until `done(screen)` or `limit`; the last screen seen.
  template <class Pred>
  std::string wait_for(Pred done, std::chrono::seconds limit) const {
    auto const deadline = std::chrono::steady_clock::now() + limit;
    std::string s = screen();
    while (!done(s) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      s = screen();
    }
    return s;
  }

 private:
  std::string tmux() const { return "tmux -L " + socket_; }
  static int& made() {
    static int n = 0;
    return n;
  }

  std::string socket_;
  bool started_ = false;
};

}  // namespace

TEST_CASE("fanout-fetch draws a progress bar on a terminal: the total, then the final state") {
  REQUIRE(std::system("tmux -V > /dev/null 2>&1") == 0);
  test_server server;
  scratch_dir dir;
  {
    std::ofstream urls(dir / "urls.txt");
    for (int i = 0; i < 45; ++i) urls << server.url("/delay/40?i=" + std::to_string(i)) << "\n";
    for (int i = 0; i < 5; ++i) urls << "http://127.0.0.1:1/refused\n";
  }
  const std::string fetch_path = FANOUT_FETCH_PATH;
  const std::string urls = (dir / "urls.txt").string();
  // A regular file first (the total is known), then the same lines through a pipe (unknown).
  const std::string command = fetch_path + " -c 2 -i " + quote(urls) + " -o " +
                              quote((dir / "a.jsonl").string()) + "; echo EXIT=$?; cat " +
                              quote(urls) + " | " + fetch_path + " -c 8 -i - -o " +
                              quote((dir / "b.jsonl").string()) + "; echo EXIT=$?; sleep 60";
  tmux_session tmux(command);
  REQUIRE(tmux.started());

  // Mid-run (45 requests of 40 ms, 2 at a time: about a second): the total is there already.
  static const std::regex partial(R"(\[=*> *\] ([0-9]+)/50 ([0-9]+)% )");
  auto const mid = tmux.wait_for(
      [](const std::string& s) {
        std::smatch m;
        return std::regex_search(s, m, partial) && std::stoi(m[2]) < 100 && std::stoi(m[1]) > 0;
      },
      std::chrono::seconds(20));
  INFO("mid-run screen:\n" << mid);
  std::smatch m;
  CHECK(std::regex_search(mid, m, partial));

  auto const end = tmux.wait_for([](const std::string& s) { return occurrences(s, "EXIT=") == 2; },
                                 std::chrono::seconds(30));
  INFO("final screen:\n" << end);
  std::istringstream rows(end);
  std::vector<std::string> lines;
  for (std::string l; std::getline(rows, l);)
    if (!l.empty()) lines.push_back(l);
  REQUIRE(lines.size() >= 4);
  static const std::regex file_final(
      R"(^\[================\] 50/50 100% [0-9.,]+ req/s [0-9.]+ MB/s ETA 0:00 errors 5 *$)");
  static const std::regex pipe_final(R"(^50/\? [0-9.,]+ req/s [0-9.]+ MB/s errors 5 *$)");
  // The summary goes to the terminal too (stdout is one); the bar's line stands above it.
  auto bar = std::find_if(lines.begin(), lines.end(),
                          [](auto& l) { return std::regex_match(l, file_final); });
  CHECK(bar != lines.end());
  auto piped = std::find_if(lines.begin(), lines.end(),
                            [](auto& l) { return std::regex_match(l, pipe_final); });
  CHECK(piped != lines.end());
  CHECK(std::count(lines.begin(), lines.end(), "EXIT=1") == 2);  // the 5 refused ones
  CHECK(count_lines(slurp(dir / "a.jsonl")) == 50);
  CHECK(count_lines(slurp(dir / "b.jsonl")) == 50);
}

TEST_CASE("fanout-fetch shows no progress with --no-progress, or off a terminal") {
  test_server server;
  auto r = fetch({server.url("/hello")});
  CHECK(r.err.empty());
  REQUIRE(std::system("tmux -V > /dev/null 2>&1") == 0);
  scratch_dir dir;
  tmux_session tmux(std::string(FANOUT_FETCH_PATH) + " --no-progress -o " +
                    quote((dir / "a.jsonl").string()) + " --format jsonl " +
                    quote(server.url("/hello")) + "; echo EXIT=$?; sleep 60");
  REQUIRE(tmux.started());
  auto const end =
      tmux.wait_for([](const std::string& s) { return s.find("EXIT=") != std::string::npos; },
                    std::chrono::seconds(20));
  INFO(end);
  CHECK(end.find("EXIT=0") != std::string::npos);
  CHECK(end.find("req/s") == std::string::npos);
  CHECK(count_lines(slurp(dir / "a.jsonl")) == 1);
}
