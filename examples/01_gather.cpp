// 01_gather: the concurrency core on its own, no network.
//
// Python's
//     results = await asyncio.gather(*[call(x) for x in ids], return_exceptions=True)
// is, in C++ with fanout,
//     auto results = co_await fanout::gather(ids, call, {.max_concurrency = 64});
// with the results in input order and each failure kept at its own index.

#include <fanout/core.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Stands in for an API call: 50 ms of "server time", and id 13 always fails.
asio::awaitable<int> lookup(const int& id) {
  asio::steady_timer timer(co_await asio::this_coro::executor, 50ms);
  co_await timer.async_wait(asio::use_awaitable);
  if (id == 13) throw std::runtime_error("id 13 is not for sale");
  co_return id * 100;
}

int main() {
  std::vector<int> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(i);

  auto started = std::chrono::steady_clock::now();
  // Outside a coroutine, run_gather runs the whole fan-out on this thread.
  std::vector<fanout::result<int>> prices =
      fanout::run_gather(ids, lookup, {.max_concurrency = 64});
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);

  int ok = 0;
  for (std::size_t i = 0; i < prices.size(); ++i) {
    if (prices[i])
      ++ok;
    else
      std::cout << "id " << ids[i] << " failed: " << prices[i].error().message() << "\n";
  }
  std::cout << ok << " of " << ids.size() << " lookups succeeded in " << elapsed.count()
            << " s (one after another they would take " << 0.05 * ids.size() << " s)\n";
  return ok == 99 ? 0 : 1;
}
