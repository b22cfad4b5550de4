// Integration test against a real nginx (started by tests/support/nginx_run.sh, which exports
// FANOUT_NGINX_HTTP, FANOUT_NGINX_HTTPS and FANOUT_NGINX_CA): correctness over HTTP and HTTPS,
// then 20,000 GETs of a 100-byte file at concurrency 64 per scheme, printing requests/s and the
// TCP connections opened. Exit status 0 when every check passed.
#include <fanout/http.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;

namespace {

int failures = 0;
void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

asio::awaitable<void> correctness(fanout::session& s, std::string base) {
  auto r = co_await s.get(base + "/100b");
  check(r.status() == 200 && r.body() == std::string(99, 'x') + "\n", "GET 100-byte file");
  check(r.header("server").value_or("").substr(0, 5) == "nginx", "Server: nginx");
  auto j = co_await s.get(base + "/4k.json");
  check(j.body().size() == 4096 && j.json()["items"][0]["id"] == 0, "4 KiB JSON body");
  auto h = co_await s.head(base + "/100b");
  check(h.status() == 200 && h.body().empty(), "HEAD has no body");
  auto n = co_await s.get(base + "/missing");
  check(n.status() == 404, "404 is a response, not an error");
  auto again = co_await s.get(base + "/100b");
  check(again.timings().reused, "keep-alive connection reused");
}

asio::awaitable<void> load(fanout::session& s, std::string url, std::size_t n, std::size_t c,
                           std::size_t& ok) {
  std::size_t next = 0, done = 0;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer all(ex, asio::steady_timer::time_point::max());
  for (std::size_t w = 0; w < c; ++w)
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          fanout::request req{.url = url};
          while (next < n) {
            ++next;
            auto r = co_await s.try_request(req);
            if (r && r->status() == 200 && r->body().size() == 100) ++ok;
          }
        },
        [&](std::exception_ptr) {
          if (++done == c) all.cancel();
        });
  boost::system::error_code ec;
  co_await all.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void run(const char* name, std::string base, fanout::session_options o, std::size_t n) {
  asio::io_context io;
  fanout::session s(io, o);
  std::size_t ok = 0;
  double seconds = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await correctness(s, base);
        auto before = s.stats().connections_opened;
        auto t0 = std::chrono::steady_clock::now();
        co_await load(s, base + "/100b", n, 64, ok);
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        auto st = s.stats();
        std::printf(
            "%s: %zu GETs of 100 bytes at concurrency 64: %.0f requests/s, %zu ok, "
            "%zu TCP connections opened (%zu TLS resumed)\n",
            name, n, static_cast<double>(n) / seconds, ok, st.connections_opened - before,
            st.tls_resumed);
      },
      [&](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            std::printf("FAIL %s: %s\n", name, ex.what());
            ++failures;
          }
        }
        s.close();
      });
  io.run_for(std::chrono::seconds(300));
  check(ok == n, "every load request succeeded");
}

}  // namespace

int main(int argc, char** argv) {
  const char* http = std::getenv("FANOUT_NGINX_HTTP");
  const char* https = std::getenv("FANOUT_NGINX_HTTPS");
  const char* ca = std::getenv("FANOUT_NGINX_CA");
  if (!http || !https || !ca) {
    std::printf("run me through tests/support/nginx_run.sh\n");
    return 1;
  }
  std::size_t n = argc > 1 ? std::stoul(argv[1]) : 20000;
  fanout::session_options o{.max_connections_per_host = 64};
  run("http", http, o, n);
  o.ca_file = ca;
  run("https", https, o, n);
  return failures == 0 ? 0 : 1;
}
