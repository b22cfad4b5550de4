#ifndef FANOUT_HTTP_IMPL_ERROR_IPP
#define FANOUT_HTTP_IMPL_ERROR_IPP

// The definitions of fanout/http/error.hpp: included by it (header-only), or once by
// <fanout/src.hpp> (FANOUT_SEPARATE_COMPILATION).

#include <fanout/http/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

#include <string_view>

namespace fanout {

FANOUT_DECL const boost::system::error_category& http_category() noexcept {
  static constexpr detail::table_category category(0x6661'6e6f'7574'0002, "fanout.http",
                                                   detail::http_codes);
  return category;
}

FANOUT_DECL bool is_retryable(const boost::system::error_code& ec) noexcept {
  namespace ae = boost::asio::error;
  return ec == errc::timeout || ec == http_errc::connect || detail::is_stale_connection_error(ec) ||
         ec == ae::connection_refused || ec == ae::timed_out || ec == ae::host_unreachable ||
         ec == ae::network_unreachable || ec == ae::network_down || ec == ae::try_again ||
         ec == ae::host_not_found_try_again;
}

FANOUT_DECL bool is_idempotent(std::string_view m) noexcept {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" || m == "TRACE";
}

namespace detail {

FANOUT_DECL bool is_stale_connection_error(const boost::system::error_code& ec) noexcept {
  namespace ae = boost::asio::error;
  return ec == ae::eof || ec == ae::connection_reset || ec == ae::broken_pipe ||
         ec == ae::connection_aborted || ec == ae::not_connected ||
         ec == boost::beast::http::error::end_of_stream ||
         ec == boost::asio::ssl::error::stream_truncated;
}

}  // namespace detail

}  // namespace fanout

#endif
