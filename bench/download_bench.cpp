// download-bench BASE N C OUT: downloads the N URLs `BASE/f<i>` for i in [0, N), at concurrency C
// (and C connections to the host), through one fanout::session: with OUT a directory, each to
// OUT/f<i> (session::download: .part, rename); with OUT "-", each to a callback sink that drops the
// bytes (the /dev/null case). bench/ download.sh runs it beside curl --parallel and aria2c.
//
// Last line, exactly:
//   fanout-download N C seconds bytes errors
// Exit status non-zero when errors > 0.

#include <fanout/fanout.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: download-bench BASE N C OUT|-\n");
    return 2;
  }
  std::string const base = argv[1], out = argv[4];
  std::size_t const n = std::strtoull(argv[2], nullptr, 10);
  std::size_t const c = std::strtoull(argv[3], nullptr, 10);
  std::vector<std::size_t> items(n);
  for (std::size_t i = 0; i < n; ++i) items[i] = i;

  asio::io_context io;
  fanout::session_options o;
  o.max_connections_per_host = c;
  o.request_timeout = std::chrono::milliseconds(0);  // a download takes what it takes
  fanout::session s(io, o);
  std::uint64_t bytes = 0;
  std::size_t errors = 0;
  double seconds = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto const t0 = std::chrono::steady_clock::now();
        auto results = co_await fanout::gather(
            items,
            [&](std::size_t i) -> asio::awaitable<fanout::response> {
              auto const url = base + "/f" + std::to_string(i);
              if (out != "-") co_return co_await s.download(url, out + "/f" + std::to_string(i));
              fanout::request req{
                  .url = url,
                  .raise_for_status = true,
                  .sink = fanout::body_sink::callback(
                      [](std::span<const std::byte>) -> asio::awaitable<void> { co_return; })};
              co_return co_await s.request(std::move(req));
            },
            {.max_concurrency = c});
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        s.close();  // pooled connections would keep io.run() going until their idle timeout
        for (auto const& r : results) {
          if (!r) {
            ++errors;
            std::fprintf(stderr, "%s\n", r.error().message().c_str());
            continue;
          }
          bytes += r->bytes_written();
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  std::printf("fanout-download %zu %zu %.3f %llu %zu\n", n, c, seconds,
              static_cast<unsigned long long>(bytes), errors);
  return errors ? 1 : 0;
}
