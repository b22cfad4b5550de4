#ifndef FANOUT_CONFIG_HPP
#define FANOUT_CONFIG_HPP

// Every non-template function is declared with FANOUT_DECL, so a separate-compilation mode
// (as Asio's BOOST_ASIO_SEPARATE_COMPILATION) can later turn `inline` into an external definition
// without touching each file.
#ifndef FANOUT_DECL
#define FANOUT_DECL inline
namespace boost::asio {}
namespace fanout {
/// fanout's headers say `asio::` for `boost::asio::`, as Beast says `net::`.
namespace asio = boost::asio;
}  // namespace fanout

#endif

namespace boost::asio {}
namespace fanout {
/// fanout's headers say `asio::` for `boost::asio::`, as Beast says `net::`.
namespace asio = boost::asio;
}  // namespace fanout

#endif
