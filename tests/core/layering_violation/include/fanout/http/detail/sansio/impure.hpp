// A fixture for the layering check: a sans-I/O header that opens sockets.
#include <boost/asio/ip/tcp.hpp>
