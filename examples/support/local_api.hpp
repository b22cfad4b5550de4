#ifndef FANOUT_EXAMPLES_LOCAL_API_HPP
#define FANOUT_EXAMPLES_LOCAL_API_HPP

// The examples' stand-in for a real API, so every example runs offline: a small HTTP/1.1
// keep-alive server on 127.0.0.1 (an ephemeral port), on a thread of its own, with the two
// endpoints of the seed programs. Self-contained (Asio, Beast, nlohmann/json): copy it out of
// the tree with the example.
//   GET /get-current-inventory/<id>  {"id": "<id>", "in_stock": N}  after 20 ms of "server work"
//   GET /colors/<name>               {"color": "<name>", "hex": "#rrggbb"}  after 100 ms
//   GET /files/<name>                1 MiB of "<name>\n" lines  after 20 ms
//   anything else                    404

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>

namespace examples {

class local_api {
 public:
  local_api() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  local_api(const local_api&) = delete;
  local_api& operator=(const local_api&) = delete;

  ~local_api() {
    // Close everything on the server's own thread, then let the coroutines unwind and stop.
    boost::asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto* s : open_) s->close(ec);
    });
    boost::asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }

  /// "http://127.0.0.1:<port>": prefix of every endpoint.
  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

  /// Requests the server has answered, and TCP connections it accepted.
  std::size_t requests() const { return requests_.load(); }
  std::size_t connections() const { return connections_.load(); }

 private:
  using tcp = boost::asio::ip::tcp;
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_.async_accept(
          boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) co_return;
      connections_.fetch_add(1);
      boost::asio::co_spawn(io_, serve(std::move(socket)), boost::asio::detached);
    }
  }

  // One connection: read a request, wait the endpoint's "server work", answer; until the
  // client closes or asks to.
  boost::asio::awaitable<void> serve(tcp::socket socket) {
    open_.insert(&socket);
    boost::beast::flat_buffer buffer;
    boost::asio::steady_timer work(io_);
    for (;;) {
      boost::system::error_code ec;
      request req;
      co_await boost::beast::http::async_read(
          socket, buffer, req, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) break;
      response res{boost::beast::http::status::ok, req.version()};
      auto delay = answer(req.target(), res);
      work.expires_after(delay);
      co_await work.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) break;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      co_await boost::beast::http::async_write(
          socket, res, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      requests_.fetch_add(1);
      if (ec || !req.keep_alive()) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    open_.erase(&socket);
  }

  // Fills `res` for `target`; returns how long the server "works" on it.
  static std::chrono::milliseconds answer(std::string_view target, response& res) {
    target = target.substr(0, target.find('?'));
    auto const last = std::string(target.substr(target.rfind('/') + 1));
    res.set(boost::beast::http::field::content_type, "application/json");
    if (target.starts_with("/get-current-inventory/")) {
      res.body() =
          nlohmann::json{{"id", last}, {"in_stock", std::hash<std::string>{}(last) % 100}}.dump();
      return std::chrono::milliseconds(20);
    }
    if (target.starts_with("/colors/")) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "#%06zx", std::hash<std::string>{}(last)&0xffffff);
      res.body() = nlohmann::json{{"color", last}, {"hex", hex}}.dump();
      return std::chrono::milliseconds(100);
    }
    if (target.starts_with("/files/")) {  // 1 MiB of the file's name, over and over
      res.set(boost::beast::http::field::content_type, "application/octet-stream");
      std::string& body = res.body();
      while (body.size() < (1u << 20)) body += last + "\n";
      body.resize(1u << 20);
      return std::chrono::milliseconds(20);
    }
    res.result(boost::beast::http::status::not_found);
    res.body() = R"({"error": "not found"})";
    return std::chrono::milliseconds(0);
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::set<tcp::socket*> open_;  // touched only on the server's thread
  std::atomic<std::size_t> requests_{0};
  std::atomic<std::size_t> connections_{0};
  std::thread thread_;
};

}  // namespace examples

#endif
