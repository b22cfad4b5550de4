// The demo (the README's first command): the seed question, "300 API calls run one after
// another instead of at once", measured. An embedded local server answers 300 color endpoints,
// each after 100 ms of simulated server work; we fetch them all one after another, then all at
// once with fanout, and print both wall times.
//
//   fanout-demo [--sequential N]   (N: how many of the 300 the sequential run makes for real;
//                                   default 300, about 30 s; the rest is projected)

#include "support/local_api.hpp"

#include <fanout/fanout.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
using seconds = std::chrono::duration<double>;

int main(int argc, char** argv) {
  std::size_t sequential = 300;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--sequential" && i + 1 < argc) {
      sequential = std::strtoul(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: fanout-demo [--sequential N]\n");
      return 2;
    }
  }

  examples::local_api api;
  std::vector<std::string> urls;
  for (int i = 0; i < 300; ++i)
    urls.push_back(api.base_url() + "/colors/color" + std::to_string(i));
  sequential = std::min(sequential, urls.size());
  std::printf("local API at %s: 300 color endpoints, 100 ms of server work each\n\n",
              api.base_url().c_str());

  // 1. What the question's code did: one request after another.
  const bool progress = isatty(STDOUT_FILENO);  // a live count on a terminal only
  auto t0 = std::chrono::steady_clock::now();
  std::size_t sequential_ok = fanout::run([&](auto executor) -> asio::awaitable<std::size_t> {
    fanout::session http(executor);
    std::size_t ok = 0;
    for (std::size_t i = 0; i < sequential; ++i) {
      auto r = co_await http.get(urls[i]);
      ok += r.ok();
      if (progress && (i + 1) % 25 == 0) {
        std::printf("\r  one after another: %zu/%zu", i + 1, sequential);
        std::fflush(stdout);
      }
    }
    http.close();
    if (progress) std::printf("\r%40s\r", "");  // clear the progress line
    co_return ok;
  });
  double one_by_one = seconds(std::chrono::steady_clock::now() - t0).count();
  const bool projected = sequential > 0 && sequential < urls.size();
  if (projected) one_by_one *= double(urls.size()) / double(sequential);

  // 2. fanout: all 300 at once over one pooled session.
  auto t1 = std::chrono::steady_clock::now();
  auto responses = fanout::fetch_all(urls, {.max_concurrency = 300},
                                     {.max_connections_per_host = 300, .max_connections = 300});
  double together = seconds(std::chrono::steady_clock::now() - t1).count();

  std::size_t ok = 0;
  for (auto& r : responses) ok += r && r->ok();
  std::printf(
      "300 calls one after another: %7.3f s%s\n", one_by_one,
      projected ? (" (projected from " + std::to_string(sequential) + " real calls)").c_str() : "");
  std::printf("300 calls with fanout:       %7.3f s (%zu/300 ok, in input order)\n", together, ok);
  std::printf("speed-up: %.0fx\n", one_by_one / together);
  return ok == 300 && sequential_ok == sequential ? 0 : 1;
}
