#include <fanout/core/run.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace fanout::test;
using namespace std::chrono_literals;

namespace {
asio::awaitable<std::string> shout(const std::string& s) {
  co_await sleep_for(std::chrono::milliseconds(s.size()));
  if (s.empty()) throw std::invalid_argument("empty word");
  co_return s + "!";
}
}  // namespace

TEST_CASE("run_gather works from plain code, results in input order") {
  std::vector<std::string> words{"hello", "", "fan", "out"};
  std::vector<fanout::result<std::string>> out =
      fanout::run_gather(words, shout, {.max_concurrency = 2});
  REQUIRE(out.size() == 4);
  CHECK(*out[0] == "hello!");
  REQUIRE_FALSE(out[1]);
  CHECK(out[1].error().message() == "empty word");
  CHECK(*out[2] == "fan!");
  CHECK(*out[3] == "out!");
}

TEST_CASE("run_gather can be called from several plain threads at once") {
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> words(50, "x");
      auto out = fanout::run_gather(words, shout, {.max_concurrency = 10});
      for (auto& r : out)
        if (r && *r == "x!") ++good;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good == 200);
}

TEST_CASE("run returns a coroutine's value or rethrows its exception") {
  CHECK(fanout::run([](auto) -> asio::awaitable<int> {
          co_await sleep_for(1ms);
          co_return 42;
        }) == 42);
  CHECK_THROWS_AS(fanout::run([](auto) -> asio::awaitable<void> {
                    co_await sleep_for(1ms);
                    throw std::out_of_range("nope");
                  }),
                  std::out_of_range);
}
