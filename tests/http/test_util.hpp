#ifndef FANOUT_TESTS_HTTP_TEST_UTIL_HPP
#define FANOUT_TESTS_HTTP_TEST_UTIL_HPP

#include <fanout/http.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace fanout {
// For Catch2's messages about results.
inline std::ostream& operator<<(std::ostream& os, const response& r) {
  return os << "HTTP " << r.status() << " " << r.url();
}
inline std::ostream& operator<<(std::ostream& os, const error& e) {
  return os << error_name(e.code()) << ": " << e.message();
}
}  // namespace fanout

namespace fanout::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Runs `body(session)` to completion on a fresh io_context, bounded in time; rethrows what it
/// threw. The session is closed afterwards.
inline void run_session(session_options o,
                        const std::function<asio::awaitable<void>(session&)>& body,
                        std::chrono::seconds limit = std::chrono::seconds(120)) {
  asio::io_context io;
  session s(io.get_executor(), std::move(o));
  std::exception_ptr ep;
  bool done = false;
  asio::co_spawn(io, body(s), [&](std::exception_ptr e) {
    ep = e;
    done = true;
    s.close();
  });
  io.run_for(limit);
  REQUIRE(done);
  if (ep) std::rethrow_exception(ep);
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

inline bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

/// Runs `body(w)` for w = 0 .. workers - 1 as concurrent coroutines on the caller's executor;
/// completes when every one has ended.
inline asio::awaitable<void> run_workers(std::size_t workers,
                                         std::function<asio::awaitable<void>(std::size_t)> body) {
  std::size_t done = 0;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  for (std::size_t w = 0; w < workers; ++w)
    asio::co_spawn(ex, body(w), [&](std::exception_ptr) {
      if (++done == workers) all_done.cancel();
    });
  boost::system::error_code ec;
  if (done < workers) co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

/// Runs `n` GETs of `urls[i % urls.size()]` from `workers` coroutines; counts 200s.
inline asio::awaitable<std::size_t> fan(fanout::session& s, std::vector<std::string> urls,
                                        std::size_t n, std::size_t workers) {
  std::size_t next = 0, ok = 0;
  co_await run_workers(workers, [&](std::size_t) -> asio::awaitable<void> {
    while (next < n) {
      fanout::request req{.url = urls[next++ % urls.size()]};
      auto r = co_await s.try_request(req);
      if (r && r->status() == 200) ++ok;
    }
  });
  co_return ok;
}

/// The same for one URL.
inline asio::awaitable<std::size_t> fan(fanout::session& s, std::string url, std::size_t n,
                                        std::size_t workers) {
  std::vector<std::string>
      urls;  // named: GCC 12 miscompiles a braced temporary inside co_await (README)
  urls.push_back(std::move(url));
  co_return co_await fan(s, std::move(urls), n, workers);
}

/// A loopback port nothing listens on: bound once by an acceptor that is closed again, so a
/// connect to it is refused.
inline std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace fanout::test

#endif
