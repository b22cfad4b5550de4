// bench/build_cost.sh: what a user's file looks like, a gather of GETs over one session.
#include <fanout/fanout.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  std::vector<std::string> urls(argv + 1, argv + argc);
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        fanout::session http(co_await asio::this_coro::executor);
        auto get = [&](const std::string& url) -> asio::awaitable<nlohmann::json> {
          auto r = co_await http.get(url);
          co_return r.json();
        };
        auto results = co_await fanout::gather(urls, get, {.max_concurrency = 8});
        for (auto& r : results) std::cout << (r ? r->dump() : r.error().message()) << "\n";
      },
      asio::detached);
  io.run();
}
