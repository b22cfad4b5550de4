#ifndef FANOUT_HTTP_DETAIL_NET_STRAND_EXECUTOR_HPP
#define FANOUT_HTTP_DETAIL_NET_STRAND_EXECUTOR_HPP

#include <fanout/core/detail/io_executor.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>

#include <concepts>
#include <type_traits>
#include <utility>

namespace fanout::detail {

/// A connection's strand as a concrete, standard-executor-only type.
///
/// Why not `any_io_executor` around a strand: I/O objects typed on `any_io_executor`
/// type-erase the strand, which does not fit `any_io_executor`'s small buffer, so every
/// executor copy in every operation would allocate (dozens per request). Typed on the strand
/// itself, Beast 1.81 picks the Networking TS work guard (the strand also exposes the TS
/// interface) and fails to compile against `any_io_executor`. This wrapper forwards the
/// standard executor interface only (execute, query, require, prefer).
class strand_executor {
 public:
  using inner_type = boost::asio::strand<io_executor>;

  explicit strand_executor(inner_type s) noexcept : s_(std::move(s)) {}
  /// A new strand on `ex` (the exact type only: see io_executor's constructors).
  template <class Executor>
  requires std::same_as<Executor, boost::asio::any_io_executor>
  explicit strand_executor(const Executor& ex) : s_(io_executor(ex)) {}

  template <class F>
  void execute(F&& f) const {
    s_.execute(std::forward<F>(f));
  }

  template <class Property>
  auto query(const Property& p) const
      -> decltype(boost::asio::query(std::declval<const inner_type&>(), p)) {
    return boost::asio::query(s_, p);
  }

  template <class Property>
  auto require(const Property& p) const -> std::enable_if_t<
      std::is_same_v<decltype(boost::asio::require(std::declval<const inner_type&>(), p)),
                     inner_type>,
      strand_executor> {
    return strand_executor(boost::asio::require(s_, p));
  }

  template <class Property>
  auto prefer(const Property& p) const -> std::enable_if_t<
      std::is_same_v<decltype(boost::asio::prefer(std::declval<const inner_type&>(), p)),
                     inner_type>,
      strand_executor> {
    return strand_executor(boost::asio::prefer(s_, p));
  }

  friend bool operator==(const strand_executor& a, const strand_executor& b) noexcept {
    return a.s_ == b.s_;
  }
  friend bool operator!=(const strand_executor& a, const strand_executor& b) noexcept {
    return a.s_ != b.s_;
  }

 private:
  inner_type s_;
};

}  // namespace fanout::detail

#endif
