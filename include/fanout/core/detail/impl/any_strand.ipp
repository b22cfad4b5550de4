#ifndef FANOUT_CORE_DETAIL_IMPL_ANY_STRAND_IPP
#define FANOUT_CORE_DETAIL_IMPL_ANY_STRAND_IPP

// The definition of core/detail/any_strand.hpp: included by it (header-only), or once by
// <fanout/src.hpp> (FANOUT_SEPARATE_COMPILATION).

#include <fanout/core/detail/any_strand.hpp>
#include <fanout/core/detail/io_executor.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

namespace fanout::detail {

FANOUT_DECL boost::asio::any_io_executor make_any_strand(const boost::asio::any_io_executor& ex) {
  if (auto const* io = ex.target<asio::io_context::executor_type>())
    return asio::any_io_executor(asio::make_strand(*io));
  return asio::any_io_executor(asio::strand<io_executor>(io_executor(ex)));
}

}  // namespace fanout::detail

#endif
