#ifndef FANOUT_HTTP_DETAIL_NET_TUNNEL_HPP
#define FANOUT_HTTP_DETAIL_NET_TUNNEL_HPP

// The CONNECT exchange that opens a tunnel through an HTTP proxy for https (what to send and to
// whom is decided in sansio/proxy.hpp).

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/proxy.hpp>
#include <fanout/http/detail/sansio/request_builder.hpp>
#include <fanout/http/detail/sansio/serialize.hpp>
#include <fanout/http/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace fanout::detail {

/// Sends `CONNECT authority` on `socket` and reads the proxy's response header. Completes with
/// an empty code once the tunnel is open (2xx), the socket's own code on an I/O failure, or
/// `http_errc::proxy` with `what` set ("proxy 127.0.0.1:3128 refused CONNECT: HTTP 407 Proxy
/// Authentication Required"). Runs on the socket's executor; deadlines are the caller's.
template <class Socket>
boost::asio::awaitable<boost::system::error_code, typename Socket::executor_type> async_open_tunnel(
    Socket& socket, boost::beast::flat_buffer& buffer, const tunnel_target& t,
    std::size_t max_header, std::string& what) {
  namespace http = boost::beast::http;
  constexpr asio::use_awaitable_t<typename Socket::executor_type> use{};
  boost::system::error_code ec;
  // The session's message type, so that its serializer is compiled once (it has no body, and
  // no Content-Length: RFC 9110 9.3.6).
  request_message req{http::verb::connect, t.authority, 11};
  req.set(http::field::host, t.authority);
  if (!t.authorization.empty()) req.set(http::field::proxy_authorization, t.authorization);
  std::string wire;
  serialize_message(req, wire, false, ec);
  if (ec) co_return ec;
  co_await asio::async_write(socket, asio::buffer(wire), asio::redirect_error(use, ec));
  if (ec) co_return ec;
  http::response_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(max_header, 1u << 30)));
  parser.skip(true);  // a 2xx to CONNECT has no body: the tunnel starts after the header
  // Beast's parser, fed by plain reads (as the connection reads its responses): its
  // async_read_header would be compiled for this one use.
  while (!parser.is_header_done()) {
    if (buffer.size() != 0) {
      buffer.consume(parser.put(buffer.data(), ec));
      if (ec == http::error::need_more) ec = {};
      if (ec) co_return ec;
      if (parser.is_header_done()) break;
    }
    auto const n = co_await socket.async_read_some(
        buffer.prepare(boost::beast::read_size(buffer, 65536)), asio::redirect_error(use, ec));
    if (ec == asio::error::eof)  // as Beast's read says it
      ec = parser.got_some() ? http::error::partial_message : http::error::end_of_stream;
    if (ec) co_return ec;
    buffer.commit(n);
  }
  auto const& res = parser.get();
  if (res.result_int() / 100 != 2) {
    what = "proxy " + t.proxy_name + " refused CONNECT: HTTP " + std::to_string(res.result_int()) +
           " " + std::string(res.reason());
    co_return make_error_code(http_errc::proxy);
  }
  if (buffer.size() != 0) {
    what = "proxy " + t.proxy_name + " sent data after its CONNECT response";
    co_return make_error_code(http_errc::proxy);
  }
  co_return ec;
}

}  // namespace fanout::detail

#endif
