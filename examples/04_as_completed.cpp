// 04_as_completed: handle each response as soon as it arrives (Python's asyncio.as_completed),
// with a progress line, instead of waiting for the whole batch.
//
//   example-04-as-completed [BASE_URL]   (default: an embedded local server)

#include "support/local_api.hpp"

#include <fanout/fanout.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  std::optional<examples::local_api> local;
  const std::string base = argc > 1 ? argv[1] : (local.emplace(), local->base_url());

  std::vector<std::string> urls;
  for (int i = 0; i < 40; ++i) urls.push_back(base + "/colors/c" + std::to_string(i));
  urls.push_back("http://127.0.0.1:1/nobody-listens-here");

  int failed = fanout::run([&](auto executor) -> asio::awaitable<int> {
    fanout::session http(executor);
    auto fetch = [&](const std::string& url) { return http.get(url); };
    auto stream = fanout::as_completed(urls, fetch, {.max_concurrency = 16});
    std::size_t done = 0;
    int failed = 0;
    while (auto next = co_await stream.next()) {  // in completion order
      ++done;
      if (!next->result) {
        ++failed;
        std::cout << "\nitem " << next->index << " failed: " << next->result.error().message()
                  << "\n";
      }
      std::cout << "\r" << done << "/" << urls.size() << " done" << std::flush;
    }
    std::cout << "\n";
    http.close();
    co_return failed;
  });
  return failed == 1 ? 0 : 1;  // exactly the URL nobody listens on
}
