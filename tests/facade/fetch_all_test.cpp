#include <fanout/fetch_all.hpp>

#include <support/test_server.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using fanout::test::test_server;

TEST_CASE("fetch_all returns responses in input order, failures at their index") {
  test_server server;
  std::vector<std::string> urls;
  for (int i = 0; i < 30; ++i) urls.push_back(server.url("/delay/" + std::to_string(30 - i)));
  urls.push_back("http://127.0.0.1:1/refused");
  urls.push_back("not a url");
  urls.push_back(server.url("/status/404"));

  auto rs = fanout::fetch_all(urls, {.max_concurrency = 8});
  REQUIRE(rs.size() == urls.size());
  for (int i = 0; i < 30; ++i) {
    REQUIRE(rs[i].has_value());
    CHECK(rs[i]->status() == 200);
    CHECK(rs[i]->url() == urls[i]);
    CHECK(rs[i]->body() == "late");
  }
  REQUIRE_FALSE(rs[30].has_value());
  CHECK(rs[30].error().code() == boost::asio::error::connection_refused);
  CHECK(rs[30].error().message().find("http://127.0.0.1:1/refused") != std::string::npos);
  REQUIRE_FALSE(rs[31].has_value());
  CHECK(rs[31].error().code() == fanout::errc::invalid_url);
  REQUIRE(rs[32].has_value());
  CHECK(rs[32]->status() == 404);  // a status is not an error unless asked
  CHECK(server.peak_connections() <= 8);
}

TEST_CASE("fetch_all passes the session options and takes requests") {
  test_server server;
  std::vector<fanout::request> reqs;
  for (int i = 0; i < 10; ++i) {
    fanout::request r;
    r.method = "POST";
    r.url = server.url("/echo");
    r.json = nlohmann::json{{"i", i}};
    reqs.push_back(r);
  }
  auto rs = fanout::fetch_all(reqs, {.max_concurrency = 10}, {.max_connections_per_host = 2});
  REQUIRE(rs.size() == 10);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(rs[i].has_value());
    auto echoed = rs[i]->json();
    CHECK(echoed["method"] == "POST");
    CHECK(nlohmann::json::parse(echoed["body"].get<std::string>())["i"] == i);
  }
  CHECK(server.peak_connections() <= 2);
  CHECK(server.connections() == 2);  // two pooled connections served all ten
}

TEST_CASE("fetch_all with raise_for_status and fail_fast stops the batch") {
  test_server server;
  std::vector<std::string> urls{server.url("/status/500")};
  for (int i = 0; i < 20; ++i) urls.push_back(server.url("/delay/5000"));
  auto rs = fanout::fetch_all(urls, {.max_concurrency = 4, .fail_fast = true},
                              {.raise_for_status = true});
  REQUIRE(rs.size() == 21);
  REQUIRE_FALSE(rs[0].has_value());
  CHECK(rs[0].error().code() == fanout::errc::http_status);
  for (std::size_t i = 1; i < rs.size(); ++i) {
    REQUIRE_FALSE(rs[i].has_value());
    CHECK(rs[i].error().code() == fanout::errc::cancelled);
  }
}
