// The compiled mode's one unit (fanout/config.hpp): fanout's definitions, with Asio's, Asio.SSL's
// and Beast's (their own separate compilation), for the CMake target fanout::compiled and for
// fanout's own binaries (cmake/fanout_dev.cmake).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <fanout/src.hpp>
