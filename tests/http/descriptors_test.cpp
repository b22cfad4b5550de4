// File descriptors: a session gives back every one it used, and a socket it cannot open for
// lack of them (EMFILE) fails with that code when no connection of its own can free one. The
// case where one can (requests wait for it) is run in a child process with `ulimit -n 256`:
// tests/tools/fanout_fetch_test.cpp.
#include <fanout/http/session.hpp>

#include "http/test_util.hpp"
#include "support/test_server.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

using namespace fanout::test;
using namespace std::chrono_literals;

namespace {

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto const& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the directory_iterator's own
}

// Lowers this process's soft limit on open files so that no new descriptor can be had (the
// lowest free number becomes the limit), and restores it when destroyed.
class no_more_descriptors {
 public:
  no_more_descriptors() {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    int const lowest_free = ::dup(0);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~no_more_descriptors() { setrlimit(RLIMIT_NOFILE, &saved_); }
  no_more_descriptors(const no_more_descriptors&) = delete;
  no_more_descriptors& operator=(const no_more_descriptors&) = delete;

 private:
  rlimit saved_{};
};

}  // namespace

TEST_CASE("session: every descriptor is given back once the session is closed", "[session][fd]") {
  {
    // What the process opens once and keeps (OpenSSL's, say) is not the session's.
    asio::io_context warm;
    fanout::session(warm.get_executor(), {}).close();
  }
  auto const before = open_descriptors();
  {
    test_server server;
    std::size_t ok = 0;
    run_session({.max_connections_per_host = 50}, [&](fanout::session& s) -> asio::awaitable<void> {
      ok = co_await fan(s, server.url("/delay/5"), 300, 100);
      CHECK(s.stats().connections_opened == 50);
      CHECK(s.stats().open_connections == 50);  // kept alive until close()
    });
    CHECK(ok == 300);
    CHECK(server.connections() == 50);
  }
  CHECK(open_descriptors() == before);
}

TEST_CASE("session: out of descriptors with no connection of its own, a request fails with EMFILE",
          "[session][fd]") {
  test_server server;
  asio::io_context io;
  fanout::session s(io.get_executor(), {});
  std::optional<fanout::session::result_type> got;
  auto const url = server.url("/hello");
  {
    no_more_descriptors limit;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          fanout::request req{.url = url};
          got = co_await s.try_request(req);
        },
        asio::detached);
    io.run_for(30s);
  }
  REQUIRE(got);
  REQUIRE_FALSE(*got);
  CHECK(got->error().code() == boost::system::error_code(EMFILE, boost::system::system_category()));
  CHECK(got->error().message() == "GET " + url + ": Too many open files (while connecting)");
  CHECK(s.stats().connections_opened == 0);
  CHECK(s.stats().open_connections == 0);
  CHECK(server.connections() == 0);
  s.close();
}
