// Bodies that do not stay in memory: callback sinks and downloads to files, with resume,
// against the in-process server (its routes cut connections, answer ranges and change files
// on purpose). Every body is compared byte for byte with what the server sent.
#include <fanout/core/gather.hpp>
#include <fanout/http.hpp>

#include "http/test_util.hpp"
#include "support/test_server.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <vector>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::errc;
using fanout::http_errc;
namespace fs = std::filesystem;

namespace {

// Bytes no compressor shrinks much and no two offsets of which look alike: a misplaced range
// shows.
std::string noise(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A fresh directory for one test case's files, removed after it.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    path = fs::temp_directory_path() /
           ("fanout-download-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(std::string_view name) const { return (path / name).string(); }
  static std::atomic<int>& counter() {
    static std::atomic<int> n{0};
    return n;
  }
};

// A file the server serves at `path` as nginx would: a strong ETag, Last-Modified, ranges
// (Range/If-Range, RFC 9110 §14); `cut_after` bytes into a full answer it closes the
// connection (a server going away half-way), once per call of `cut_next`.
struct served_file {
  std::mutex m;
  std::string body;
  std::string etag = "\"v1\"";
  std::size_t cut_after = 0;
  std::vector<std::string> ranges_asked, if_ranges_asked;

  void install(test_server& server, std::string path) {
    server.route(std::move(path), [this](exchange& x) {
      std::lock_guard lock(m);
      auto const range = x.req[http::field::range];
      auto const if_range = x.req[http::field::if_range];
      ranges_asked.emplace_back(range);
      if_ranges_asked.emplace_back(if_range);
      x.res.set(http::field::etag, etag);
      x.res.set(http::field::last_modified, "Tue, 01 Dec 2026 10:00:00 GMT");
      x.res.set(http::field::accept_ranges, "bytes");
      std::size_t from = 0;
      bool partial = !range.empty() && (if_range.empty() || if_range == etag);
      if (partial) {
        from = std::stoull(std::string(range.substr(6)));  // "bytes=N-"
        if (from >= body.size()) {
          x.res.result(http::status::range_not_satisfiable);
          x.res.set(http::field::content_range, "bytes */" + std::to_string(body.size()));
          return;
        }
        x.res.result(http::status::partial_content);
        x.res.set(http::field::content_range, "bytes " + std::to_string(from) + "-" +
                                                  std::to_string(body.size() - 1) + "/" +
                                                  std::to_string(body.size()));
      }
      if (cut_after && !partial) {
        x.raw = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\nETag: " + etag + "\r\n\r\n" + body.substr(0, cut_after);
        x.close = true;
        cut_after = 0;
        return;
      }
      x.res.body() = body.substr(from);
    });
  }
};

}  // namespace

TEST_CASE("a callback sink gets the body in order, in bounded pieces, decoded",
          "[download][sink]") {
  test_server server;
  auto const plain = noise(1 << 20, 1);
  std::string const text(3 << 20, 't');  // compresses to a few KiB: decoded pieces stay bounded
  server.route("/plain", [&](exchange& x) { x.res.body() = plain; });
  server.route("/gzip", [&](exchange& x) {
    x.res.set(http::field::content_encoding, "gzip");
    x.res.chunked(true);
    x.res.body() = compress(text.substr(0, text.size() / 2), zwrap::gzip) +
                   compress(text.substr(text.size() / 2), zwrap::gzip);  // two members
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    for (auto const& [path, want] : {std::pair{"/plain", &plain}, std::pair{"/gzip", &text}}) {
      INFO(path);
      std::string got;
      std::size_t pieces = 0, largest = 0;
      fanout::request req1{.url = server.url(path),
                           .sink = fanout::body_sink::callback(
                               [&](std::span<const std::byte> piece) -> asio::awaitable<void> {
                                 got.append(reinterpret_cast<const char*>(piece.data()),
                                            piece.size());
                                 ++pieces;
                                 largest = std::max(largest, piece.size());
                                 co_return;
                               })};
      auto r = co_await s.request(std::move(req1));
      CHECK(r.status() == 200);
      CHECK(r.body().empty());
      CHECK(got == *want);
      CHECK(r.bytes_written() == want->size());
      CHECK(largest <= 64u << 10);
      CHECK(pieces >= want->size() / (64 << 10));
      CHECK_FALSE(r.header("content-encoding"));  // the head as the body was delivered
    }
    // A body kept in memory still counts what arrived.
    auto r = co_await s.get(server.url("/gzip"));
    CHECK(r.body() == text);
    CHECK(r.bytes_received() < text.size() / 100);
  });
}

TEST_CASE("a callback that throws fails its request only, with its message", "[download][sink]") {
  test_server server;
  server.route("/big", [](exchange& x) { x.res.body() = std::string(1 << 20, 'b'); });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    int calls = 0;
    auto thrower =
        fanout::body_sink::callback([&](std::span<const std::byte>) -> asio::awaitable<void> {
          if (++calls == 2) throw std::runtime_error("disk on fire");
          co_return;
        });
    fanout::request req2{.url = server.url("/big"), .sink = thrower};
    auto r = co_await s.try_request(std::move(req2));
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == errc::exception);
    CHECK(r.error().message().find("disk on fire") != std::string::npos);
    CHECK(r.error().exception() != nullptr);
    CHECK(calls == 2);  // nothing more after the throw
    // The session goes on: the connection was not reused mid-body.
    auto ok = co_await s.get(server.url("/hello"));
    CHECK(ok.body() == "hello world");
  });
}

TEST_CASE("max_download_bytes bounds a sink; max_body_bytes does not", "[download][sink]") {
  test_server server;
  server.route("/big", [](exchange& x) { x.res.body() = std::string(300000, 'b'); });
  fanout::session_options o;
  o.max_body_bytes = 1000;
  o.max_download_bytes = 200000;
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    std::size_t got = 0;
    auto counter =
        fanout::body_sink::callback([&](std::span<const std::byte> p) -> asio::awaitable<void> {
          got += p.size();
          co_return;
        });
    fanout::request req3{.url = server.url("/big"), .sink = counter};
    auto r = co_await s.try_request(std::move(req3));
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == http_errc::body_too_large);
    CHECK(got <= 200000);
    server.route("/mid", [](exchange& x) { x.res.body() = std::string(150000, 'm'); });
    got = 0;
    fanout::request req4{.url = server.url("/mid"), .sink = counter};
    auto ok = co_await s.request(std::move(req4));
    CHECK(ok.status() == 200);
    CHECK(got == 150000);  // beyond max_body_bytes: a sink's limit is its own
  });
}

TEST_CASE("a sink takes only the final body: not a redirect's, not a retried status's",
          "[download][sink]") {
  test_server server;
  std::atomic<int> calls{0};
  server.route("/flaky", [&](exchange& x) {
    if (calls++ == 0) {
      x.res.result(http::status::service_unavailable);
      x.res.set(http::field::retry_after, "0");
      x.res.body() = "busy";
      return;
    }
    x.res.body() = "the real body";
  });
  server.route("/moved", [&](exchange& x) {
    x.res.result(http::status::found);
    x.res.set(http::field::location, "/flaky");
    x.res.body() = "see elsewhere";
  });
  fanout::session_options o;
  o.retry.max_attempts = 2;
  o.retry.initial_backoff = 1ms;
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    std::string got;
    auto collect =
        fanout::body_sink::callback([&](std::span<const std::byte> p) -> asio::awaitable<void> {
          got.append(reinterpret_cast<const char*>(p.data()), p.size());
          co_return;
        });
    fanout::request req5{.url = server.url("/moved"), .sink = collect};
    auto r = co_await s.request(std::move(req5));
    CHECK(r.status() == 200);
    CHECK(got == "the real body");
    // Without retries a 503 is final at once: its body goes to the callback.
    calls = 0;
    got.clear();
    fanout::retry_policy once;
    fanout::request flaky{.url = server.url("/flaky"), .retry = once, .sink = collect};
    auto last = co_await s.request(std::move(flaky));
    CHECK(last.status() == 503);
    CHECK(got == "busy");
  });
}

TEST_CASE("download: byte-exact files through .part, never over an existing one",
          "[download][file]") {
  test_server server;
  scratch_dir dir;
  std::vector<std::string> bodies{"", "x", noise(64 << 10, 2), noise(5 << 20, 3)};
  std::string text;
  for (int i = 0; text.size() < (5u << 20); ++i) text += "line " + std::to_string(i) + "\n";
  for (std::size_t i = 0; i < bodies.size(); ++i)
    server.route("/f" + std::to_string(i), [&, i](exchange& x) { x.res.body() = bodies[i]; });
  server.route("/chunked-gzip", [&](exchange& x) {
    x.res.chunked(true);
    x.res.set(http::field::content_encoding, "gzip");
    x.res.body() = compress(text, zwrap::gzip);
  });
  server.route("/missing", [](exchange& x) {
    x.res.result(http::status::not_found);
    x.res.body() = "nope";
  });
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      auto const path = dir / ("f" + std::to_string(i));
      auto r = co_await s.download(server.url("/f" + std::to_string(i)), path);
      INFO(path << ": " << bodies[i].size() << " bytes");
      CHECK(r.status() == 200);
      CHECK(r.path() == path);
      CHECK(r.bytes_written() == bodies[i].size());
      CHECK(r.bytes_received() == bodies[i].size());
      CHECK(r.body().empty());
      CHECK(slurp(path) == bodies[i]);
      CHECK_FALSE(fs::exists(path + ".part"));
      CHECK_FALSE(fs::exists(path + ".part.meta"));
    }
    auto const gz = dir / "gz";
    auto g = co_await s.download(server.url("/chunked-gzip"), gz);
    CHECK(slurp(gz) == text);
    CHECK(g.bytes_received() < g.bytes_written());

    // An existing file stays unless asked.
    fanout::request req6{.url = server.url("/f1"), .sink = fanout::body_sink::file(dir / "f2")};
    auto exists = co_await s.try_request(std::move(req6));
    REQUIRE_FALSE(exists);
    CHECK(exists.error().code() == std::errc::file_exists);
    CHECK(slurp(dir / "f2") == bodies[2]);
    fanout::file_options const overwrite{.overwrite = true};
    auto replaced = co_await s.download(server.url("/f1"), dir / "f2", overwrite);
    CHECK(slurp(dir / "f2") == "x");

    // An error status writes nothing and is an error.
    fanout::request req7{.url = server.url("/missing"),
                         .raise_for_status = true,
                         .sink = fanout::body_sink::file(dir / "missing")};
    auto missing = co_await s.try_request(std::move(req7));
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == http_errc::http_status);
    CHECK_FALSE(fs::exists(dir / "missing"));
    CHECK_FALSE(fs::exists(dir / "missing.part"));
  });
}

TEST_CASE("download: resume after the server cuts the connection half-way",
          "[download][file][resume]") {
  test_server server;
  scratch_dir dir;
  served_file f;
  f.body = noise(3 << 20, 4);
  f.cut_after = (3 << 20) / 2 + 12345;
  f.install(server, "/file");
  auto const path = dir / "file";
  auto const cut_at = f.cut_after;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::file_options const resume{.resume = true};
    fanout::request req8{.url = server.url("/file"),
                         .sink = fanout::body_sink::file(path, {.resume = true})};
    auto cut = co_await s.try_request(std::move(req8));
    REQUIRE_FALSE(cut);
    REQUIRE(fs::exists(path + ".part"));
    auto const part = slurp(path + ".part");
    CHECK(part.size() > 0);
    CHECK(part.size() <= cut_at);
    CHECK(f.body.compare(0, part.size(), part) == 0);  // a correct prefix
    CHECK_FALSE(fs::exists(path));

    auto r = co_await s.download(server.url("/file"), path, resume);
    CHECK(r.status() == 206);
    CHECK(r.path() == path);
    CHECK(r.bytes_written() == f.body.size() - part.size());
    CHECK(slurp(path) == f.body);
    CHECK_FALSE(fs::exists(path + ".part"));
    CHECK_FALSE(fs::exists(path + ".part.meta"));
    std::lock_guard lock(f.m);
    REQUIRE(f.ranges_asked.size() == 2);
    CHECK(f.ranges_asked[0].empty());
    CHECK(f.ranges_asked[1] == "bytes=" + std::to_string(part.size()) + "-");
    CHECK(f.if_ranges_asked[1] == "\"v1\"");
  });
}

TEST_CASE("download: a .part whose sidecar is not ours starts over", "[download][file][resume]") {
  test_server server;
  scratch_dir dir;
  served_file f;
  f.body = noise(200000, 14);
  f.install(server, "/file");
  auto const path = dir / "file";
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::file_options const resume{.resume = true};
    // Valid JSON of the wrong shape, not JSON, an array: each is no sidecar at all.
    for (auto const* meta : {R"({"etag": 5, "last_modified": ["x"]})", "{not json", "[1, 2]"}) {
      INFO(meta);
      std::ofstream(path + ".part", std::ios::binary) << f.body.substr(0, 1000);
      std::ofstream(path + ".part.meta", std::ios::binary) << meta;
      auto r = co_await s.download(server.url("/file"), path, resume);
      CHECK(r.status() == 200);
      CHECK(slurp(path) == f.body);
      fs::remove(path);
    }
    std::lock_guard lock(f.m);
    for (auto const& asked : f.ranges_asked) CHECK(asked.empty());
  });
}

TEST_CASE("download: a changed file restarts; a .part already whole completes; a lie fails",
          "[download][file][resume]") {
  test_server server;
  scratch_dir dir;
  served_file f;
  f.body = noise(1 << 20, 5);
  f.install(server, "/file");
  auto const path = dir / "file";
  auto write_part = [&](std::string_view bytes, std::string_view etag) {
    std::ofstream(path + ".part", std::ios::binary) << bytes;
    std::ofstream(path + ".part.meta")
        << R"({"etag":)" << nlohmann::json(etag).dump() << R"(,"last_modified":""})";
  };
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::file_options const resume{.resume = true};
    // Written under "v0": If-Range does not match, the server sends all of "v1".
    write_part(std::string(1000, 'o'), "\"v0\"");
    auto changed = co_await s.download(server.url("/file"), path, resume);
    CHECK(changed.status() == 200);
    CHECK(slurp(path) == f.body);

    // The .part is the whole file: 416 for its length completes it.
    fs::remove(path);
    write_part(f.body, "\"v1\"");
    auto whole = co_await s.download(server.url("/file"), path, resume);
    CHECK(whole.status() == 416);
    CHECK(slurp(path) == f.body);
    CHECK_FALSE(fs::exists(path + ".part"));

    // Longer than the file: 416 for another length.
    fs::remove(path);
    write_part(f.body + "extra", "\"v1\"");
    fanout::request req9{.url = server.url("/file"),
                         .sink = fanout::body_sink::file(path, {.resume = true})};
    auto longer = co_await s.try_request(std::move(req9));
    REQUIRE_FALSE(longer);
    CHECK(longer.error().code() == http_errc::resume_failed);
    CHECK(longer.error().message().find("416") != std::string::npos);
    CHECK(slurp(path + ".part") == f.body + "extra");  // left as it was

    // A server that ignores If-Range: 206 for a file whose ETag changed.
    write_part(f.body.substr(0, 1000), "\"v1\"");
    {
      std::lock_guard lock(f.m);
      f.etag = "\"v2\"";
    }
    server.route("/liar", [&](exchange& x) {
      x.res.result(http::status::partial_content);
      x.res.set(http::field::etag, "\"v2\"");
      x.res.set(http::field::content_range, "bytes 1000-" + std::to_string(f.body.size() - 1) +
                                                "/" + std::to_string(f.body.size()));
      x.res.body() = f.body.substr(1000);
    });
    fanout::request req10{.url = server.url("/liar"),
                          .sink = fanout::body_sink::file(path, {.resume = true})};
    auto lie = co_await s.try_request(std::move(req10));
    REQUIRE_FALSE(lie);
    CHECK(lie.error().code() == http_errc::resume_failed);
    CHECK(lie.error().message().find("changed") != std::string::npos);
    CHECK(slurp(path + ".part") == f.body.substr(0, 1000));
  });
}

TEST_CASE("download: a file-size limit is a per-item error, the others finish",
          "[download][file]") {
  test_server server;
  scratch_dir dir;
  auto const big = noise(4 << 20, 6), small = noise(100000, 7);
  server.route("/big", [&](exchange& x) { x.res.body() = big; });
  server.route("/small", [&](exchange& x) { x.res.body() = small; });
  // RLIMIT_FSIZE as `ulimit -f` sets it, with SIGXFSZ ignored: write(2) fails with EFBIG, as a
  // full disk fails with ENOSPC. Restored before any other file is written.
  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto const old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = saved;
  limited.rlim_cur = 1 << 20;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  std::vector<fanout::result<fanout::response>> results;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    std::vector<std::pair<std::string, std::string>> jobs{
        {"/big", "a"}, {"/small", "b"}, {"/big", "c"}, {"/small", "d"}};
    results = co_await fanout::gather(jobs, [&](const auto& job) {
      return s.request(fanout::request{.url = server.url(job.first),
                                       .sink = fanout::body_sink::file(dir / job.second)});
    });
  });
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  REQUIRE(results.size() == 4);
  for (int i : {0, 2}) {
    REQUIRE_FALSE(results[i]);
    auto const& e = results[i].error();
    CHECK(e.code() == boost::system::error_code(EFBIG, boost::system::system_category()));
    CHECK(e.message().find(".part") != std::string::npos);
  }
  for (int i : {1, 3}) REQUIRE(results[i]);
  CHECK(slurp(dir / "b") == small);
  CHECK(slurp(dir / "d") == small);
  CHECK_FALSE(fs::exists(dir / "a"));
  CHECK(fs::exists(dir / "a.part"));  // kept for a resume
}

TEST_CASE("download: a full disk (ENOSPC) is a per-item error, the others finish",
          "[download][file]") {
  test_server server;
  scratch_dir dir;
  auto const big = noise(1 << 20, 11), small = noise(100000, 12);
  server.route("/big", [&](exchange& x) { x.res.body() = big; });
  server.route("/small", [&](exchange& x) { x.res.body() = small; });
  // The kernel's own full device: every write(2) to /dev/full fails with ENOSPC. Its `.part`
  // is a symbolic link to it, which the download opens as it opens any `.part`.
  REQUIRE(fs::exists("/dev/full"));
  fs::create_symlink("/dev/full", dir / "full.part");
  std::vector<fanout::result<fanout::response>> results;
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    std::vector<std::pair<std::string, std::string>> jobs{
        {"/small", "a"}, {"/big", "full"}, {"/small", "b"}};
    results = co_await fanout::gather(jobs, [&](const auto& job) {
      return s.request(fanout::request{.url = server.url(job.first),
                                       .sink = fanout::body_sink::file(dir / job.second)});
    });
  });
  REQUIRE(results.size() == 3);
  REQUIRE_FALSE(results[1]);
  CHECK(results[1].error().code() ==
        boost::system::error_code(ENOSPC, boost::system::system_category()));
  CHECK(results[1].error().message().find("full.part") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "full"));
  REQUIRE(results[0]);
  REQUIRE(results[2]);
  CHECK(slurp(dir / "a") == small);
  CHECK(slurp(dir / "b") == small);
}

TEST_CASE("download: cancelled mid-body, the .part stays", "[download][file]") {
  test_server server;
  scratch_dir dir;
  auto const body = noise(2 << 20, 8);
  // The head and 1 MiB, then silence: the download is in the middle of the body.
  server.route("/stall", [&](exchange& x) {
    x.raw = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nETag: \"s\"\r\n\r\n" + body.substr(0, 1 << 20);
  });
  auto const path = dir / "stall";
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    using namespace boost::asio::experimental::awaitable_operators;
    asio::steady_timer t(co_await asio::this_coro::executor, 500ms);
    fanout::request req11{.url = server.url("/stall"),
                          .sink = fanout::body_sink::file(path, {.resume = true})};
    auto first = co_await (s.try_request(std::move(req11)) || t.async_wait(asio::use_awaitable));
    CHECK(first.index() == 1);  // the timer won: the download was cancelled
  });
  CHECK_FALSE(fs::exists(path));
  REQUIRE(fs::exists(path + ".part"));
  auto const part = slurp(path + ".part");
  CHECK(part.size() >= 512u << 10);  // what was written in whole blocks
  CHECK(body.compare(0, part.size(), part) == 0);
  CHECK(fs::exists(path + ".part.meta"));
}

TEST_CASE("upload: a file's bytes arrive exact, with its Content-Length", "[upload]") {
  test_server server;
  scratch_dir dir;
  auto const data = noise(100 << 20, 9);
  std::ofstream(dir / "up.bin", std::ios::binary) << data;
  std::mutex m;
  std::vector<std::string> lengths, encodings, methods;
  std::vector<bool> same;
  std::atomic<int> flaky{0};
  auto record = [&](exchange& x) {
    std::lock_guard lock(m);
    lengths.emplace_back(x.req[http::field::content_length]);
    encodings.emplace_back(x.req[http::field::transfer_encoding]);
    methods.emplace_back(x.req.method_string());
    same.push_back(x.req.body() == data);
    x.res.body() = std::to_string(x.req.body().size());
  };
  server.route("/put", record);
  server.route("/r307", [](exchange& x) {
    x.res.result(http::status::temporary_redirect);
    x.res.set(http::field::location, "/put");
  });
  server.route("/r303", [](exchange& x) {
    x.res.result(http::status::see_other);
    x.res.set(http::field::location, "/put");
  });
  server.route("/flaky", [&](exchange& x) {
    if (flaky++ == 0) {
      x.res.result(http::status::service_unavailable);
      x.res.set(http::field::retry_after, "0");
      return;
    }
    record(x);
  });
  fanout::session_options o;
  o.retry.max_attempts = 2;
  o.retry.initial_backoff = 1ms;
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    for (auto const* path : {"/put", "/r307", "/r303", "/flaky"}) {
      INFO(path);
      fanout::request req{
          .method = "PUT", .url = server.url(path), .upload = fanout::body::file(dir / "up.bin")};
      auto r = co_await s.request(std::move(req));
      CHECK(r.status() == 200);
    }
  });
  std::lock_guard lock(m);
  REQUIRE(lengths.size() == 4);
  for (int i : {0, 1, 3}) {  // direct, after a 307 (sent again), after a 503 (retried)
    INFO(i);
    CHECK(methods[i] == "PUT");
    CHECK(lengths[i] == std::to_string(data.size()));
    CHECK(encodings[i].empty());
    CHECK(same[i]);
  }
  CHECK(methods[2] == "GET");  // 303: a GET without the body
  CHECK(lengths[2].empty());
  CHECK_FALSE(same[2]);
}

TEST_CASE("upload: a producer's bytes go chunked, once", "[upload]") {
  test_server server;
  std::string got, encoding;
  server.route("/put", [&](exchange& x) {
    got = x.req.body();
    encoding = x.req[http::field::transfer_encoding];
  });
  server.route("/r307", [](exchange& x) {
    x.res.result(http::status::temporary_redirect);
    x.res.set(http::field::location, "/put");
  });
  auto const data = noise(3 << 20, 10);
  auto producer = [&data](std::size_t& at) {
    return fanout::body::callback(
        [&data, &at](std::span<std::byte> into) -> asio::awaitable<std::size_t> {
          // Uneven pieces, a suspension each: the connection waits for the producer.
          co_await sleep_for(0ms);
          auto const n = std::min({into.size(), data.size() - at, std::size_t(100000)});
          std::memcpy(into.data(), data.data() + at, n);
          at += n;
          co_return n;
        });
  };
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    std::size_t at = 0;
    fanout::request req{.method = "POST", .url = server.url("/put"), .upload = producer(at)};
    auto r = co_await s.request(std::move(req));
    CHECK(r.status() == 200);
    CHECK(encoding == "chunked");
    CHECK(got == data);

    // 307 needs the body again: a producer gives it once.
    at = 0;
    fanout::request again{.method = "POST", .url = server.url("/r307"), .upload = producer(at)};
    auto refused = co_await s.try_request(std::move(again));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == http_errc::redirect_refused);
    CHECK(refused.error().message().find("body::callback") != std::string::npos);

    // A producer that throws fails its request with its exception.
    fanout::request throws{
        .method = "POST",
        .url = server.url("/put"),
        .upload = fanout::body::callback([](std::span<std::byte>) -> asio::awaitable<std::size_t> {
          throw std::runtime_error("no more data today");
          co_return 0;
        })};
    auto thrown = co_await s.try_request(std::move(throws));
    REQUIRE_FALSE(thrown);
    CHECK(thrown.error().code() == errc::exception);
    CHECK(thrown.error().message().find("no more data today") != std::string::npos);

    // A missing file fails before any I/O; so does a body given twice.
    auto const before = server.requests();
    fanout::request missing{.method = "PUT",
                            .url = server.url("/put"),
                            .upload = fanout::body::file("/nonexistent/fanout/upload")};
    auto none = co_await s.try_request(std::move(missing));
    REQUIRE_FALSE(none);
    CHECK(none.error().code() == std::errc::no_such_file_or_directory);
    CHECK(none.error().message().find("/nonexistent/fanout/upload") != std::string::npos);
    fanout::request both{.method = "PUT",
                         .url = server.url("/put"),
                         .body = "x",
                         .upload = fanout::body::file("/etc/hostname")};
    auto twice = co_await s.try_request(std::move(both));
    REQUIRE_FALSE(twice);
    CHECK(twice.error().code() == http_errc::invalid_request);
    CHECK(server.requests() == before);
  });
}

TEST_CASE("upload: on a kept-alive connection the server dropped, a file goes again whole",
          "[upload][stale]") {
  test_server server;
  scratch_dir dir;
  auto const data = noise(3 << 20, 13);
  std::ofstream(dir / "up.bin", std::ios::binary) << data;
  std::mutex m;
  std::vector<bool> same;
  // The first request of a connection is answered; a later one on it is read whole, then the
  // connection is dropped without a byte: a server that timed it out at that moment.
  auto drops_reused = [&](exchange& x) {
    if (x.connection_requests > 0) {
      x.drop = true;
      return;
    }
    std::lock_guard lock(m);
    same.push_back(x.req.body() == data);
  };
  server.route("/hello", [](exchange& x) { x.res.body() = "hi"; });
  server.route("/put", drops_reused);
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    co_await s.get(server.url("/hello"));  // the connection the PUT reuses
    fanout::request put{
        .method = "PUT", .url = server.url("/put"), .upload = fanout::body::file(dir / "up.bin")};
    auto r = co_await s.request(std::move(put));
    CHECK(r.status() == 200);
    CHECK(r.attempts() == 2);
    CHECK(s.stats().stale_retries == 1);

    // A producer gives its body once: the same loss is an error that says so.
    co_await s.get(server.url("/hello"));
    int calls = 0;
    fanout::request once{.method = "PUT",
                         .url = server.url("/put"),
                         .upload = fanout::body::callback(
                             [&](std::span<std::byte> into) -> asio::awaitable<std::size_t> {
                               if (calls++ > 0) co_return 0;
                               auto const n = std::min(into.size(), std::size_t(1000));
                               std::memset(into.data(), 'p', n);
                               co_return n;
                             })};
    auto lost = co_await s.try_request(std::move(once));
    REQUIRE_FALSE(lost);
    CHECK(lost.error().message().find("cannot be sent again") != std::string::npos);
    CHECK(calls == 2);  // one piece and the end, once
  });
  std::lock_guard lock(m);
  REQUIRE(same.size() == 1);  // the re-sent PUT, on a fresh connection
  CHECK(same[0]);
}

TEST_CASE("a callback or a producer that never completes ends at the request's deadline",
          "[download][upload][sink]") {
  test_server server;
  server.route("/big", [](exchange& x) { x.res.body() = std::string(1 << 20, 'b'); });
  server.route("/put", [](exchange& x) { x.res.body() = "ok"; });
  run_session(
      {},
      [&](fanout::session& s) -> asio::awaitable<void> {
        auto forever = [](std::chrono::milliseconds d) -> asio::awaitable<void> {
          asio::steady_timer t(co_await asio::this_coro::executor, d);
          co_await t.async_wait(asio::use_awaitable);
        };
        fanout::request stuck_sink{.url = server.url("/big"),
                                   .timeout = 300ms,
                                   .sink = fanout::body_sink::callback(
                                       [&](std::span<const std::byte>) -> asio::awaitable<void> {
                                         co_await forever(1h);
                                       })};
        auto t0 = std::chrono::steady_clock::now();
        auto r = co_await s.try_request(std::move(stuck_sink));
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == errc::timeout);
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);

        fanout::request stuck_upload{.method = "POST",
                                     .url = server.url("/put"),
                                     .timeout = 300ms,
                                     .upload = fanout::body::callback(
                                         [&](std::span<std::byte>) -> asio::awaitable<std::size_t> {
                                           co_await forever(1h);
                                           co_return 0;
                                         })};
        t0 = std::chrono::steady_clock::now();
        auto u = co_await s.try_request(std::move(stuck_upload));
        REQUIRE_FALSE(u);
        CHECK(u.error().code() == errc::timeout);
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
      },
      std::chrono::seconds(10));
}
