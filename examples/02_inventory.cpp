// 02_inventory: the seed article's program in C++. Python:
//     futures = [get_current_inventory(p["id"]) for p in products]
//     results = await asyncio.gather(*futures)
// fanout: one pooled session, one gather, a result (or a precise error) per product, in order.
//
//   example-02-inventory [BASE_URL]   (default: an embedded local server)

#include "support/local_api.hpp"

#include <fanout/fanout.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using inventory_list = std::vector<fanout::result<nlohmann::json>>;

struct product {
  std::string id;
  std::string name;
};

int main(int argc, char** argv) {
  std::optional<examples::local_api> local;
  const std::string base = argc > 1 ? argv[1] : (local.emplace(), local->base_url());

  // The last id cannot be part of a URL: it fails alone, before any I/O, and the rest go on.
  std::vector<product> products{
      {"k3is9dj", "t-shirt"}, {"en93mdo", "shorts"}, {"pw2n9f3", "sandals"}, {"no such id", "?"}};

  auto inventory = fanout::run([&](auto executor) -> asio::awaitable<inventory_list> {
    fanout::session http(executor);  // one session for every request: pooled keep-alive
    auto get_current_inventory = [&](const product& p) -> asio::awaitable<nlohmann::json> {
      auto r = co_await http.get(base + "/get-current-inventory/" + p.id);
      co_return r.json();  // a body that is not JSON becomes this item's error, naming the URL
    };
    auto results =
        co_await fanout::gather(products, get_current_inventory, {.max_concurrency = 64});
    http.close();
    co_return results;
  });

  for (std::size_t i = 0; i < products.size(); ++i) {
    if (inventory[i])
      std::cout << products[i].name << ": " << (*inventory[i])["in_stock"] << " in stock\n";
    else
      std::cout << products[i].id << ": failed: " << inventory[i].error().message() << "\n";
  }
}
