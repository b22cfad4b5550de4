#ifndef FANOUT_CONFIG_HPP
#define FANOUT_CONFIG_HPP

// Every non-template function is declared with FANOUT_DECL (inline: fanout is header-only).
#ifndef FANOUT_DECL
#define FANOUT_DECL inline
#endif

// The session's definitions (http/impl/session.hpp: the pool, connections, TLS, DNS, the
// request policy) are the heavy part of fanout to compile. Define FANOUT_SEPARATE_COMPILATION in
// every translation unit and include <fanout/src.hpp> in exactly one of them (as Asio's
// BOOST_ASIO_SEPARATE_COMPILATION and <boost/asio/impl/src.hpp>): the other units then see only
// the session's declarations and compile much faster. FANOUT_SRC_DECL marks those definitions.
#ifdef FANOUT_SEPARATE_COMPILATION
#define FANOUT_SRC_DECL
#else
#define FANOUT_SRC_DECL inline
#endif

namespace boost::asio {}
namespace fanout {
/// fanout's headers say `asio::` for `boost::asio::`, as Beast says `net::`.
namespace asio = boost::asio;
}  // namespace fanout

#endif
