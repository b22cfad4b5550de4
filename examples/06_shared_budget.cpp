// 06_shared_budget: one async_semaphore caps two gathers (or any code) to one budget, like an
// asyncio.Semaphore shared by several tasks: never more than 8 requests in flight in total.
//
//   example-06-shared-budget [BASE_URL]   (default: an embedded local server)

#include "support/local_api.hpp"

#include <fanout/fanout.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <atomic>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

int main(int argc, char** argv) {
  std::optional<examples::local_api> local;
  const std::string base = argc > 1 ? argv[1] : (local.emplace(), local->base_url());

  std::vector<std::string> colors, ids;
  // Appended, not "c" + std::to_string(i): g++ 12 -O3 reports a false -Wrestrict on that.
  for (int i = 0; i < 30; ++i) colors.push_back(std::string("c").append(std::to_string(i)));
  for (int i = 0; i < 30; ++i) ids.push_back(std::string("id").append(std::to_string(i)));

  int in_flight = 0, peak = 0;  // one thread: plain ints are fine
  auto [color_count, id_count] =
      fanout::run([&](auto executor) -> asio::awaitable<std::pair<int, int>> {
        fanout::session http(executor);
        fanout::async_semaphore budget(executor, 8);
        auto budgeted_get = [&](std::string url) -> asio::awaitable<fanout::response> {
          auto permit = co_await budget.acquire();  // released when this coroutine ends
          struct counted {
            int& n;
            ~counted() { --n; }
          } in_flight_now{++in_flight};
          peak = std::max(peak, in_flight);
          co_return co_await http.get(url);
        };
        auto color = [&](const std::string& c) { return budgeted_get(base + "/colors/" + c); };
        auto stock = [&](const std::string& i) {
          return budgeted_get(base + "/get-current-inventory/" + i);
        };
        // Both gathers run at once and share the budget of 8.
        auto [a, b] = co_await (fanout::gather(colors, color) && fanout::gather(ids, stock));
        http.close();
        int na = 0, nb = 0;
        for (auto& r : a) na += r && r->ok();
        for (auto& r : b) nb += r && r->ok();
        co_return std::pair{na, nb};
      });
  std::cout << color_count << " colors and " << id_count << " stock levels; at most " << peak
            << " requests in flight\n";
  return color_count == 30 && id_count == 30 && peak <= 8 ? 0 : 1;
}
