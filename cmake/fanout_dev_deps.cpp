// The compiled halves of Asio, Asio.SSL and Beast for fanout's own binaries (see fanout_dev.cmake).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
