#ifndef FANOUT_EXAMPLES_LOCAL_API_HPP
#define FANOUT_EXAMPLES_LOCAL_API_HPP

// The examples' stand-in for a real API: the project's loopback test server (tests/support)
// with the two endpoints of the seed programs, so every example runs offline.
//   GET /get-current-inventory/<id>  {"id": "<id>", "in_stock": N}  after 20 ms of "server work"
//   GET /colors/<name>               {"color": "<name>", "hex": "#rrggbb"}  after 100 ms

#include <support/test_server.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace examples {

class local_api {
 public:
  local_api() {
    server_.route("/get-current-inventory/*", [](fanout::test::exchange& x) {
      auto id = last_segment(x);
      x.delay = std::chrono::milliseconds(20);
      x.res.set(boost::beast::http::field::content_type, "application/json");
      x.res.body() =
          nlohmann::json{{"id", id}, {"in_stock", std::hash<std::string>{}(id) % 100}}.dump();
    });
    server_.route("/colors/*", [](fanout::test::exchange& x) {
      auto name = last_segment(x);
      char hex[8];
      std::snprintf(hex, sizeof hex, "#%06zx", std::hash<std::string>{}(name)&0xffffff);
      x.delay = std::chrono::milliseconds(100);
      x.res.set(boost::beast::http::field::content_type, "application/json");
      x.res.body() = nlohmann::json{{"color", name}, {"hex", hex}}.dump();
    });
  }

  /// "http://127.0.0.1:<port>": prefix of every endpoint.
  std::string base_url() const { return server_.url(""); }

  /// Requests the server has answered, and TCP connections it accepted.
  std::size_t requests() const { return server_.requests(); }
  std::size_t connections() const { return server_.connections(); }

 private:
  static std::string last_segment(const fanout::test::exchange& x) {
    std::string_view target = x.req.target();
    target = target.substr(0, target.find('?'));
    return std::string(target.substr(target.rfind('/') + 1));
  }

  fanout::test::test_server server_;
};

}  // namespace examples

#endif
