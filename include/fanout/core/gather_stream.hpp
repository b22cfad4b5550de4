#ifndef FANOUT_CORE_GATHER_STREAM_HPP
#define FANOUT_CORE_GATHER_STREAM_HPP

#include <fanout/core/detail/gather_engine.hpp>
#include <fanout/core/options.hpp>
#include <fanout/core/result.hpp>
#include <fanout/core/stream.hpp>

#include <cstddef>
#include <limits>

namespace fanout {

/// `gather` as a stream: yields each outcome in input order as soon as it and every earlier one
/// are done, so output can start before the input ends and memory stays bounded for inputs of
/// any length (lines of a 3-million-line file, a generator).
///
/// At most `options.max_concurrency` items run at once, and at most `window` items span from the
/// oldest not yet yielded to the newest started: a slow item holds back at most `window - 1`
/// finished ones. `window` 0 means 4 x `max_concurrency` (unbounded with no cap). Items start from
/// the first `next()` on, as earlier ones finish, within those bounds. Lifetimes, cancellation and
/// threading as for `as_completed`.
///
/// \code
/// auto stream = fanout::gather_stream(lines, fetch, {.max_concurrency = 64});
/// while (auto done = co_await stream.next()) print(done->index, done->result);  // 0, 1, 2, ...
/// \endcode
template <class Range, class F>
requires detail::item_callable<F, Range> result_stream<detail::item_value_t<Range, F>>
gather_stream(Range&& inputs, F&& fn, gather_options options = {}, std::size_t window = 0) {
  if (window == 0)
    window = options.max_concurrency == 0 ? std::numeric_limits<std::size_t>::max()
                                          : 4 * options.max_concurrency;
  if (options.max_concurrency > window) window = options.max_concurrency;
  return result_stream<detail::item_value_t<Range, F>>(detail::make_stream_engine(
      std::forward<Range>(inputs), std::forward<F>(fn), std::move(options), window));
}

}  // namespace fanout

#endif
