// soak [N] [CAP] [EVERY]: N GETs (default 1,000,000) through one fanout::session, in gathers of
// 10,000 with max_concurrency CAP (default 64), to in-process loopback servers
// (tests/support/fault_server.hpp). One request in EVERY (default 100; 0: none) meets a fault,
// in turn: a reset in the middle of the body, a truncated body, a 500, a connection closed after
// its response.
// Every 100,000 requests (and at the end) prints the process's RSS and open fds, which must stay
// flat; then the totals: ok, statuses, errors by code, requests/s.
//
// Lines: `soak <done> rss_kib <n> fds <n> ok <n> errors <n> req_per_s <x>`

#include "support/fault_server.hpp"

#include <fanout/core/gather.hpp>
#include <fanout/http/session.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace asio = boost::asio;
using fanout::test::fault;
using fanout::test::fault_server;

namespace {

long rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

struct totals {
  std::size_t ok = 0;  ///< a response, any status
  std::map<int, std::size_t> statuses;
  std::map<std::string, std::size_t> errors;  ///< by error_name()
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t const n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1'000'000;
  std::size_t const cap = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  std::size_t const every = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 100;
  // A fifth argument 0-3 injects only that fault (to tell which one costs what).
  std::size_t const only = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 4;
  constexpr std::size_t batch = 10'000, report_every = 100'000;

  fault_server good(fault::none);
  std::array<fault_server, 4> faulty{
      fault_server{fault::rst_mid_body}, fault_server{fault::truncated_body},
      fault_server{fault::server_error}, fault_server{fault::close_after_response}};
  auto url_of = [&](std::size_t i) {
    if (every == 0 || i % every != every - 1) return good.url("/ok");
    if (only < faulty.size()) return faulty[only].url("/fault");
    return faulty[(i / every) % faulty.size()].url("/fault");
  };

  totals t;
  asio::io_context io;
  fanout::session http(io.get_executor(), {.max_connections_per_host = cap,
                                           .connect_timeout = std::chrono::seconds(5),
                                           .request_timeout = std::chrono::seconds(10)});
  auto get = [&](const std::string& url) -> asio::awaitable<int> {
    fanout::request req{.url = url};
    auto r = co_await http.request(req);
    co_return r.status();
  };
  auto const t0 = std::chrono::steady_clock::now();
  auto report = [&](std::size_t done) {
    std::size_t errors = 0;
    for (auto& [name, count] : t.errors) errors += count;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("soak %zu rss_kib %ld fds %zu ok %zu errors %zu req_per_s %.0f\n", done, rss_kib(),
                open_fds(), t.ok, errors, double(done) / s);
    std::fflush(stdout);
  };
  auto body = [&]() -> asio::awaitable<void> {
    std::vector<std::string> urls;
    fanout::gather_options const options{.max_concurrency = cap};  // not inside co_await: GCC 12
    for (std::size_t done = 0; done < n;) {
      urls.clear();
      for (std::size_t i = done; i < std::min(n, done + batch); ++i) urls.push_back(url_of(i));
      auto results = co_await fanout::gather(urls, get, options);
      for (auto& r : results) {
        if (r) {
          ++t.ok;
          ++t.statuses[*r];
        } else {
          ++t.errors[fanout::error_name(r.error().code())];
        }
      }
      auto const before = done;
      done += urls.size();
      if (done / report_every != before / report_every || done == n) report(done);
    }
  };
  report(0);
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    if (e) std::fprintf(stderr, "soak: the run threw\n");
    http.close();
    io.stop();
  });
  io.run();

  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("totals: %zu requests in %.1f s (%.0f req/s), %zu responses\n", n, s, double(n) / s,
              t.ok);
  for (auto& [status, count] : t.statuses) std::printf("  status %d: %zu\n", status, count);
  for (auto& [name, count] : t.errors) std::printf("  error %s: %zu\n", name.c_str(), count);
  return 0;
}
