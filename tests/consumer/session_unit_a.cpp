// One of two units that both use the session. Header-only (the default), the program links only if
// every definition the two share is inline (FANOUT_DECL); compiled (fanout::compiled), only if
// each is defined once, in the library.
#include <fanout/fanout.hpp>

#include <boost/asio/io_context.hpp>

std::size_t session_unit_a() {
  boost::asio::io_context io;
  fanout::session s(io, {.max_connections = 4});
  auto request = s.get("http://127.0.0.1:9/");  // made, never awaited: nothing is sent
  s.close();
  return s.stats().requests;
}
