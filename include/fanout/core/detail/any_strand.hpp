#ifndef FANOUT_CORE_DETAIL_ANY_STRAND_HPP
#define FANOUT_CORE_DETAIL_ANY_STRAND_HPP

#include <fanout/config.hpp>

#include <boost/asio/any_io_executor.hpp>

namespace fanout::detail {

/// A new strand on `ex`, type-erased. On an io_context's own executor (the common case) it is
/// a strand of that executor: small enough for `any_io_executor`'s small buffer, so the copies
/// and work-tracking variants every asynchronous operation makes of a coroutine's executor
/// allocate nothing, and it queries `blocking` without one. Any other executor gets a strand
/// of `io_executor`.
///
/// Out of line: converting a strand to `any_io_executor` instantiates Asio's property machinery
/// for it, a large part of what a user's file would compile for one gather (issue 15).
FANOUT_DECL boost::asio::any_io_executor make_any_strand(const boost::asio::any_io_executor& ex);

}  // namespace fanout::detail

#ifndef FANOUT_SEPARATE_COMPILATION
#include <fanout/core/detail/impl/any_strand.ipp>
#endif

#endif
