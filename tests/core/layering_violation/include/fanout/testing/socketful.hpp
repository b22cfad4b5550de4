// A deliberate violation for layering_check_catches_violations: a mock with a socket.
#include <boost/asio/ip/tcp.hpp>
