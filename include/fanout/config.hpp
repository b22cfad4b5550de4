#ifndef FANOUT_CONFIG_HPP
#define FANOUT_CONFIG_HPP

// Two ways to build fanout, as Asio and Beast offer:
// - header-only (the default): every header includes its definitions (its impl/*.ipp), and
//   FANOUT_DECL is `inline`;
// - compiled: define FANOUT_SEPARATE_COMPILATION in every translation unit and include
//   <fanout/src.hpp> in exactly one of them (CMake: link `fanout::compiled`, which does both).
//   The other units then see only declarations; FANOUT_DECL is empty.
// Templates and the small inline helpers of the detail/ folders stay in the headers.
#ifdef FANOUT_SEPARATE_COMPILATION
#define FANOUT_DECL
#else
#define FANOUT_DECL inline
#endif

namespace boost::asio {}
namespace fanout {
/// fanout's headers say `asio::` for `boost::asio::`, as Beast says `net::`.
namespace asio = boost::asio;
}  // namespace fanout

#endif
