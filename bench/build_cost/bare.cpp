// bench/build_cost.sh: the yardstick, fanout's dependencies alone doing one HTTPS request
// (Asio coroutines, Beast over an SSL stream, Boost.URL for the URL, nlohmann/json for the body).
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

asio::awaitable<nlohmann::json> get(asio::ssl::context& tls, std::string text) {
  auto url = boost::urls::parse_uri(text).value();
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(std::string(url.host()), std::string(url.port()),
                                                   asio::use_awaitable);
  beast::ssl_stream<beast::tcp_stream> stream(ex, tls);
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  http::request<http::empty_body> req(http::verb::get, url.encoded_target(), 11);
  req.set(http::field::host, url.host());
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  co_await http::async_read(stream, buffer, res, asio::use_awaitable);
  co_return nlohmann::json::parse(res.body());
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_default_verify_paths();
  tls.set_verify_mode(asio::ssl::verify_peer);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> { std::cout << (co_await get(tls, argv[1])).dump() << "\n"; },
      asio::detached);
  io.run();
}
