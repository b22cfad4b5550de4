#ifndef FANOUT_CORE_RUN_HPP
#define FANOUT_CORE_RUN_HPP

#include <fanout/core/gather.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace fanout {

/// Runs the coroutine `make(executor)` returns on a fresh single-threaded `io_context` on the
/// calling thread, and returns its value (or rethrows its exception). For code that is not a
/// coroutine.
///
/// \code
/// int n = fanout::run([](auto ex) -> boost::asio::awaitable<int> { co_return 42; });
/// \endcode
template <class Make>
requires std::invocable<Make&, asio::io_context::executor_type>
auto run(Make make) {
  using awaitable_type = std::invoke_result_t<Make&, asio::io_context::executor_type>;
  using value_type = typename awaitable_type::value_type;
  asio::io_context ctx(1);
  std::exception_ptr failure;
  if constexpr (std::is_void_v<value_type>) {
    asio::co_spawn(ctx, make(ctx.get_executor()), [&](std::exception_ptr ep) { failure = ep; });
    ctx.run();
    if (failure) std::rethrow_exception(failure);
  } else {
    std::optional<value_type> value;
    asio::co_spawn(ctx, make(ctx.get_executor()), [&](std::exception_ptr ep, value_type v) {
      failure = ep;
      if (!ep) value.emplace(std::move(v));
    });
    ctx.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*value);
  }
}

/// `gather` for code that is not a coroutine: runs it on its own single-threaded `io_context` on
/// the calling thread and returns the results in input order. `fn` runs on that io_context.
///
/// \code
/// std::vector<fanout::result<int>> out = fanout::run_gather(ids, twice, {.max_concurrency = 64});
/// \endcode
template <class Range, class F>
requires detail::item_callable<F, Range> std::vector<result<detail::item_value_t<Range, F>>>
run_gather(Range&& inputs, F&& fn, gather_options options = {}) {
  auto run_all = gather(std::forward<Range>(inputs), std::forward<F>(fn), std::move(options));
  return run([&](auto) { return std::move(run_all); });
}

}  // namespace fanout

#endif
