// 03_colors: the seed question, answered. 300 API calls that ran one after another now run 64
// at a time over pooled keep-alive connections, and the answers come back in order.
//
//   example-03-colors [BASE_URL]   (default: an embedded local server; each call takes 100 ms)

#include "support/local_api.hpp"

#include <fanout/fanout.hpp>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  std::optional<examples::local_api> local;
  const std::string base = argc > 1 ? argv[1] : (local.emplace(), local->base_url());

  std::vector<std::string> colors{"yellow", "green", "blue"};
  while (colors.size() < 300) colors.push_back("color" + std::to_string(colors.size()));

  const auto started = std::chrono::steady_clock::now();
  auto infos = fanout::run(
      [&](auto executor) -> asio::awaitable<std::vector<fanout::result<nlohmann::json>>> {
        fanout::session http(executor, {.max_connections_per_host = 64});
        auto get_color_info = [&](const std::string& color) -> asio::awaitable<nlohmann::json> {
          auto r = co_await http.get(base + "/colors/" + color);
          co_return r.json();
        };
        auto out = co_await fanout::gather(colors, get_color_info, {.max_concurrency = 64});
        http.close();
        co_return out;
      });
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;

  std::size_t ok = 0;
  for (auto& info : infos) ok += info.has_value();
  std::cout << "first: " << infos.front()->dump() << "\n";
  std::cout << "last: " << infos.back()->dump() << "\n";
  std::cout << ok << "/" << colors.size() << " colors in " << elapsed.count() << " s\n";
  return ok == colors.size() ? 0 : 1;
}
