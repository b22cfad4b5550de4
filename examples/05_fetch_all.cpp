// 05_fetch_all: no coroutine in sight. A plain main() hands over URLs and gets the responses
// back in order: fanout::fetch_all runs a pooled session and a gather on its own io_context.
//
//   example-05-fetch-all [BASE_URL]   (default: an embedded local server)

#include "support/local_api.hpp"

#include <fanout/fanout.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::optional<examples::local_api> local;
  const std::string base = argc > 1 ? argv[1] : (local.emplace(), local->base_url());

  std::vector<std::string> urls;
  for (int id = 0; id < 100; ++id)
    urls.push_back(base + "/get-current-inventory/" + std::to_string(id));

  std::vector<fanout::result<fanout::response>> responses =
      fanout::fetch_all(urls, {.max_concurrency = 32});

  int ok = 0;
  for (auto& r : responses)
    if (r && r->ok()) ++ok;
  std::cout << ok << "/" << urls.size() << " ok; first body: " << responses.front()->body() << "\n";
  return ok == 100 ? 0 : 1;
}
