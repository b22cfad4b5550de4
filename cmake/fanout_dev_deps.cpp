// The compiled halves of Asio, Asio.SSL, Beast and fanout's session for fanout's own binaries (see
// fanout_dev.cmake).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
// And fanout's own session, compiled once (FANOUT_SEPARATE_COMPILATION, fanout/config.hpp).
#include <fanout/src.hpp>
