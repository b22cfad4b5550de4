// Downloads from a real nginx (tests/http/download/download_run.sh starts it and exports
// FANOUT_DL_BASE, FANOUT_DL_CONTENT and FANOUT_DL_SCRATCH): every file compared with the
// served one by SHA-256, gzip'd and chunked bodies decoded as they stream, a download cut
// short resumed with nginx's own ranges and validators, a slow callback that keeps the
// client's memory flat while nginx could send it all, and uploads nginx's DAV module stores.
#include <fanout/core/gather.hpp>
#include <fanout/http.hpp>

#include "http/test_util.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace fanout::test;
using namespace std::chrono_literals;
using fanout::http_errc;
namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) FAIL(name << " is not set: run through tests/http/download/download_run.sh");
  return v;
}

// SHA-256, fed piece by piece, as hex.
class sha256 {
 public:
  sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    REQUIRE(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1);
  }
  void update(const void* p, std::size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string out;
    char b[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(b, sizeof b, "%02x", md[i]);
      out += b;
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

std::string file_sha256(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  return h.hex();
}

// Resident memory of this process, in bytes (VmRSS).
bool big() {
  const char* v = std::getenv("FANOUT_DL_1G");
  return v && std::string(v) == "1";
}

std::size_t rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

}  // namespace

TEST_CASE("nginx: files of 0 B to 64 MiB (1 GiB) download byte-exact, all at once",
          "[nginx-download]") {
  auto const base = env("FANOUT_DL_BASE"), content = env("FANOUT_DL_CONTENT"),
             out = env("FANOUT_DL_SCRATCH");
  std::vector<std::string> names{"empty", "1b", "64k", "64m"};
  if (big()) names.push_back("1g");
  std::vector<fanout::result<fanout::response>> results;
  fanout::session_options o;
  o.request_timeout = 0ms;  // a big file takes what it takes
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    results = co_await fanout::gather(names, [&](const std::string& name) {
      return s.download(base + "/files/" + name, out + "/" + name);
    });
  });
  REQUIRE(results.size() == names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    REQUIRE(results[i]);
    auto const& r = *results[i];
    auto const size = fs::file_size(content + "/" + names[i]);
    CHECK(r.status() == 200);
    CHECK(r.bytes_written() == size);
    CHECK(r.bytes_received() == size);
    CHECK(fs::file_size(out + "/" + names[i]) == size);
    CHECK(file_sha256(out + "/" + names[i]) == file_sha256(content + "/" + names[i]));
    CHECK_FALSE(fs::exists(out + "/" + names[i] + ".part"));
    fs::remove(out + "/" + names[i]);
  }
}

TEST_CASE("nginx: gzip'd bodies, chunked or not, are decoded as they stream", "[nginx-download]") {
  auto const base = env("FANOUT_DL_BASE"), content = env("FANOUT_DL_CONTENT"),
             out = env("FANOUT_DL_SCRATCH");
  auto const want = file_sha256(content + "/text.txt");
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    // On the fly: Transfer-Encoding: chunked, Content-Encoding: gzip.
    auto chunked = co_await s.download(base + "/gzip/text.txt", out + "/chunked.txt");
    CHECK(chunked.status() == 200);
    CHECK(chunked.bytes_received() < chunked.bytes_written() / 10);
    CHECK_FALSE(chunked.header("content-encoding"));
    CHECK(file_sha256(out + "/chunked.txt") == want);
    // gzip_static: the .gz file with its Content-Length.
    auto fixed = co_await s.download(base + "/gzs/text.txt", out + "/static.txt");
    CHECK(fixed.bytes_received() == fs::file_size(content + "/text.txt.gz"));
    CHECK(file_sha256(out + "/static.txt") == want);
    // To a callback, hashed as it comes.
    sha256 h;
    std::uint64_t bytes = 0;
    fanout::request req{.url = base + "/gzip/text.txt",
                        .sink = fanout::body_sink::callback(
                            [&](std::span<const std::byte> p) -> asio::awaitable<void> {
                              h.update(p.data(), p.size());
                              bytes += p.size();
                              co_return;
                            })};
    auto r = co_await s.request(std::move(req));
    CHECK(r.status() == 200);
    CHECK(bytes == fs::file_size(content + "/text.txt"));
    CHECK(h.hex() == want);
  });
}

TEST_CASE("nginx: a download cut short resumes with Range and If-Range", "[nginx-download]") {
  auto const base = env("FANOUT_DL_BASE"), content = env("FANOUT_DL_CONTENT"),
             out = env("FANOUT_DL_SCRATCH");
  auto const path = out + "/resumed";
  auto const size = fs::file_size(content + "/64m");
  fanout::file_options const resume{.resume = true};
  // The first try gets 1 s of a 16 MiB/s stream (nginx's limit_rate), then times out, as a
  // dropped link would end it.
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request req{.url = base + "/slow/64m",
                        .timeout = 1000ms,
                        .sink = fanout::body_sink::file(path, resume)};
    auto r = co_await s.try_request(std::move(req));
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == fanout::errc::timeout);
  });
  REQUIRE(fs::exists(path + ".part"));
  auto const part = fs::file_size(path + ".part");
  CHECK(part > (1u << 20));
  CHECK(part < size);
  run_session({}, [&](fanout::session& s) -> asio::awaitable<void> {
    auto r = co_await s.download(base + "/files/64m", path, resume);
    CHECK(r.status() == 206);  // nginx answered the range: the strong ETag matched
    CHECK(r.header("content-range") ==
          std::optional<std::string_view>("bytes " + std::to_string(part) + "-" +
                                          std::to_string(size - 1) + "/" + std::to_string(size)));
    CHECK(r.bytes_written() == size - part);
    CHECK(r.timings().body > std::chrono::steady_clock::duration::zero());
    CHECK(r.timings().body <= r.timings().total);
  });
  CHECK(file_sha256(path) == file_sha256(content + "/64m"));
  CHECK_FALSE(fs::exists(path + ".part"));
  fs::remove(path);
}

TEST_CASE("nginx: a callback that suspends 1 s per piece keeps memory flat", "[nginx-download]") {
  auto const base = env("FANOUT_DL_BASE"), content = env("FANOUT_DL_CONTENT");
  std::string const name = big() ? "1g" : "64m";
  std::size_t before = 0, during = 0;
  fanout::session_options o;
  o.request_timeout = 0ms;
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    before = rss();
    sha256 h;
    std::uint64_t bytes = 0;
    int pieces = 0;
    fanout::request req{.url = base + "/files/" + name,
                        .sink = fanout::body_sink::callback(
                            [&](std::span<const std::byte> p) -> asio::awaitable<void> {
                              h.update(p.data(), p.size());
                              bytes += p.size();
                              if (++pieces <= 3) {
                                // nginx could send the whole file meanwhile: the client
                                // reads nothing more, the kernel's buffers fill, nginx waits.
                                co_await sleep_for(1s);
                                during = std::max(during, rss());
                              }
                            })};
    auto r = co_await s.request(std::move(req));
    CHECK(r.status() == 200);
    CHECK(bytes == fs::file_size(content + "/" + name));
    CHECK(h.hex() == file_sha256(content + "/" + name));
  });
  INFO("RSS before " << before / 1024 << " KiB, while the callback slept " << during / 1024
                     << " KiB");
  CHECK(during < before + (32u << 20));
}

TEST_CASE("nginx: uploads land byte-exact, from a file and from a producer", "[nginx-download]") {
  auto const base = env("FANOUT_DL_BASE"), content = env("FANOUT_DL_CONTENT"),
             uploads = env("FANOUT_DL_UPLOADS");
  auto const source = content + "/64m";
  auto const want = file_sha256(source);
  fanout::session_options o;
  o.request_timeout = 0ms;
  run_session(o, [&](fanout::session& s) -> asio::awaitable<void> {
    fanout::request put{
        .method = "PUT", .url = base + "/upload/from-file", .upload = fanout::body::file(source)};
    auto r = co_await s.request(std::move(put));
    CHECK(r.status() == 201);  // Created
    // Chunked: nginx takes a body of unknown length too.
    std::ifstream in(source, std::ios::binary);
    fanout::request chunked{
        .method = "PUT",
        .url = base + "/upload/from-producer",
        .upload = fanout::body::callback(
            [&in](std::span<std::byte> into) -> asio::awaitable<std::size_t> {
              in.read(reinterpret_cast<char*>(into.data()),
                      static_cast<std::streamsize>(std::min<std::size_t>(into.size(), 50000)));
              co_return static_cast<std::size_t>(in.gcount());
            })};
    auto c = co_await s.request(std::move(chunked));
    CHECK(c.status() == 201);
  });
  CHECK(file_sha256(uploads + "/from-file") == want);
  CHECK(file_sha256(uploads + "/from-producer") == want);
}
