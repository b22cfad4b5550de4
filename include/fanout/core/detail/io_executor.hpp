#ifndef FANOUT_CORE_DETAIL_IO_EXECUTOR_HPP
#define FANOUT_CORE_DETAIL_IO_EXECUTOR_HPP

#include <fanout/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>

#include <concepts>
#include <type_traits>
#include <utility>

namespace fanout::detail {

/// The executor under fanout's strands (a gather run's, a connection's): an `any_io_executor`
/// with its `blocking` property kept beside it.
///
/// Why: the strand asks its inner executor's `blocking` property on every `execute` (to run a
/// handler inline when it may), and `any_io_executor` returns a queried value of class type
/// through a heap allocation, so every completion on the strand cost one. The value is read
/// once here and follows `require(blocking.never)` and `prefer(blocking.possibly)`; every other
/// query, requirement and preference goes to the wrapped executor.
class io_executor {
 public:
  using blocking_type = boost::asio::execution::blocking_t;

  // Templates on the exact type, so that overload resolution never tries converting another
  // executor to any_io_executor here: that check would recurse into Asio's is_executor.
  template <class Executor>
  requires std::same_as<Executor, boost::asio::any_io_executor>
  explicit io_executor(Executor ex)
      : ex_(std::move(ex)), blocking_(boost::asio::query(ex_, boost::asio::execution::blocking)) {}
  template <class Executor>
  requires std::same_as<Executor, boost::asio::any_io_executor> io_executor(Executor ex,
                                                                            blocking_type blocking)
  noexcept : ex_(std::move(ex)), blocking_(blocking) {}

  template <class F>
  void execute(F&& f) const {
    ex_.execute(std::forward<F>(f));
  }

  blocking_type query(const blocking_type&) const noexcept { return blocking_; }

  template <class Property>
  auto query(const Property& p) const
      -> decltype(boost::asio::query(std::declval<const boost::asio::any_io_executor&>(), p)) {
    return boost::asio::query(ex_, p);
  }

  template <class Property>
  auto require(const Property& p) const -> std::enable_if_t<
      std::is_same_v<
          decltype(boost::asio::require(std::declval<const boost::asio::any_io_executor&>(), p)),
          boost::asio::any_io_executor>,
      io_executor> {
    auto ex = boost::asio::require(ex_, p);
    if constexpr (std::is_same_v<Property, blocking_type::never_t>)
      return io_executor(std::move(ex), boost::asio::execution::blocking.never);
    else
      return io_executor(std::move(ex), blocking_);
  }

  template <class Property>
  auto prefer(const Property& p) const -> std::enable_if_t<
      std::is_same_v<
          decltype(boost::asio::prefer(std::declval<const boost::asio::any_io_executor&>(), p)),
          boost::asio::any_io_executor>,
      io_executor> {
    auto ex = boost::asio::prefer(ex_, p);
    if constexpr (std::is_same_v<Property, blocking_type::possibly_t>)
      return io_executor(std::move(ex));  // rare: ask what the target made of it
    else
      return io_executor(std::move(ex), blocking_);
  }

  friend bool operator==(const io_executor& a, const io_executor& b) noexcept {
    return a.ex_ == b.ex_ && a.blocking_ == b.blocking_;
  }
  friend bool operator!=(const io_executor& a, const io_executor& b) noexcept { return !(a == b); }

 private:
  boost::asio::any_io_executor ex_;
  blocking_type blocking_;
};

}  // namespace fanout::detail

#endif
