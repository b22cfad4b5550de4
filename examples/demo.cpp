// The demo: 300 "API calls" of 100 ms each, one after another and then all at once with
// fanout::gather. The calls are simulated with timers here; once the HTTP client lands this
// demo talks to an embedded local HTTP server instead.

#include <fanout/core.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using seconds = std::chrono::duration<double>;

asio::awaitable<std::string> get_color_info(const std::string& color) {
  asio::steady_timer server_work(co_await asio::this_coro::executor, 100ms);
  co_await server_work.async_wait(asio::use_awaitable);
  co_return "{\"color\":\"" + color + "\"}";
}

int main(int argc, char** argv) {
  // --sequential N: how many calls the sequential run makes for real (default all 300).
  std::size_t sequential = 300;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--sequential") sequential = std::strtoul(argv[i + 1], nullptr, 10);

  std::vector<std::string> colors;
  for (int i = 0; i < 300; ++i) colors.push_back("color-" + std::to_string(i));

  auto t0 = std::chrono::steady_clock::now();
  fanout::run([&](auto) -> asio::awaitable<void> {
    for (std::size_t i = 0; i < sequential && i < colors.size(); ++i)
      (void)co_await get_color_info(colors[i]);
  });
  auto one_by_one = seconds(std::chrono::steady_clock::now() - t0).count();
  if (sequential < colors.size()) one_by_one *= double(colors.size()) / double(sequential);

  auto t1 = std::chrono::steady_clock::now();
  auto results = fanout::run_gather(colors, get_color_info, {.max_concurrency = 300});
  auto together = seconds(std::chrono::steady_clock::now() - t1).count();

  std::size_t ok = 0;
  for (auto& r : results) ok += r.has_value();
  std::cout << std::fixed << std::setprecision(3);
  std::cout << "300 calls one after another: " << one_by_one << " s"
            << (sequential < colors.size() ? " (projected from " + std::to_string(sequential) + ")" : "")
            << "\n";
  std::cout << "300 calls with fanout::gather: " << together << " s (" << ok << " ok)\n";
  std::cout << "speed-up: " << std::setprecision(0) << one_by_one / together << "x\n";
  return ok == colors.size() ? 0 : 1;
}
