// 07_testing_with_mock: testing your own code that uses a fanout::session, with no server.
//
// `fetch_prices` below is "application code": it fans out over a session and copes with
// failures. The test gives it a session on a `fanout::testing::mock_transport`, whose handler
// plays the API: one item has moved (a redirect), one is rate-limited once (429 with
// Retry-After), one does not exist (404), one body comes gzip'd. Redirects, retries,
// decompression and gather all run for real; no socket is opened and no port is bound.
// (Python: httpx.MockTransport; Go: httptest.Server.)

#include <fanout/fanout.hpp>
#include <fanout/testing/mock_transport.hpp>

#include <zlib.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// ---- The application code under test ---------------------------------------------------------

// The price of each item, or nullopt when it has none; in the order asked.
asio::awaitable<std::vector<std::optional<double>>> fetch_prices(
    fanout::session& http, const std::vector<std::string>& ids) {
  auto price = [&](const std::string& id) -> asio::awaitable<double> {
    auto r = co_await http.get("https://shop.example/api/items/" + id);
    co_return r.json().at("price").get<double>();
  };
  auto results = co_await fanout::gather(ids, price, {.max_concurrency = 8});
  std::vector<std::optional<double>> out;
  for (auto& r : results) out.push_back(r ? std::optional<double>(*r) : std::nullopt);
  co_return out;
}

// ---- The test ---------------------------------------------------------------------------------

// `text` gzip'd, as a server would send it with `Content-Encoding: gzip`.
std::string gzip(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(text.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

int main() {
  std::atomic<int> busy_calls{0};
  // The fake API: one handler call per request the session sends (each redirect hop, each
  // retry).
  fanout::testing::mock_transport api{
      [&](const fanout::request& r) -> asio::awaitable<fanout::testing::mock_response> {
        using fanout::testing::mock_response;
        std::string const prefix = "https://shop.example/api/items/";
        std::string const id = r.url.substr(prefix.size());
        if (id == "old-mug")  // moved: the session follows the redirect
          co_return mock_response{.status = 301, .headers = {{"Location", prefix + "mug"}}};
        if (id == "busy" && busy_calls++ == 0)  // rate-limited once: retried after 1 s
          co_return mock_response{.status = 429, .headers = {{"Retry-After", "1"}}};
        if (id == "ghost") co_return mock_response{.status = 404, .body = R"({"error":"no"})"};
        std::map<std::string, double> const prices{{"mug", 7.5}, {"busy", 3}, {"shirt", 20}};
        std::string body = R"({"price":)" + std::to_string(prices.at(id)) + "}";
        if (id == "shirt")  // compressed: the session inflates it
          co_return mock_response{.headers = {{"Content-Encoding", "gzip"}}, .body = gzip(body)};
        co_return mock_response{.body = body, .delay = 20ms};
      }};

  std::vector<std::string> const ids{"old-mug", "busy", "ghost", "shirt"};
  std::vector<std::optional<double>> const expected{7.5, 3, std::nullopt, 20};
  std::vector<std::optional<double>> got;

  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto const ex = co_await asio::this_coro::executor;  // g++ 12: not in the next statement
        fanout::session http(
            ex, {.raise_for_status = true, .retry = {.max_attempts = 3}, .transport = api});
        got = co_await fetch_prices(http, ids);
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(30s);

  bool const passed = got == expected && busy_calls == 2;
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::cout << ids[i] << ": "
              << (i < got.size() && got[i] ? std::to_string(*got[i]) : std::string("no price"))
              << "\n";
  std::cout << (passed ? "fetch_prices: PASSED against the mock API (no socket opened)"
                       : "fetch_prices: FAILED")
            << "\n";
  return passed ? 0 : 1;
}
