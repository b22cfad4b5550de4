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
  CHECK(rs[31].error().code() == fanout::http_errc::invalid_url);
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
  CHECK(rs[0].error().code() == fanout::http_errc::http_status);
  for (std::size_t i = 1; i < rs.size(); ++i) {
    REQUIRE_FALSE(rs[i].has_value());
    CHECK(rs[i].error().code() == fanout::errc::cancelled);
  }
}

TEST_CASE("fetch_all without a cap starts no more than the session can serve or queue") {
  // 200 URLs to one host, 2 connections to it and 10 waiting at most: without a cap of its
  // own, fetch_all used to start all 200 and the tail failed with too_many_pending.
  test_server server;
  std::vector<std::string> urls(200, server.url("/hello"));
  auto rs = fanout::fetch_all(
      urls, {}, {.max_connections_per_host = 2, .max_connections = 4, .max_pending_requests = 10});
  REQUIRE(rs.size() == urls.size());
  std::size_t ok = 0;
  for (auto& r : rs)
    if (r && r->body() == "hello world") ++ok;
  CHECK(ok == urls.size());
  CHECK(server.peak_connections() <= 2);
}
