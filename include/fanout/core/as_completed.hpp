#ifndef FANOUT_CORE_AS_COMPLETED_HPP
#define FANOUT_CORE_AS_COMPLETED_HPP

#include <fanout/core/detail/gather_engine.hpp>
#include <fanout/core/options.hpp>
#include <fanout/core/result.hpp>
#include <fanout/core/stream.hpp>

namespace fanout {

/// Runs `fn` on every element of `inputs` like `gather`, but yields each outcome as soon as its
/// item finishes, with the item's index: Python's `asyncio.as_completed`.
///
/// Nothing runs until the first `next()`. At most `options.max_concurrency` items run at once,
/// and at most as many finished outcomes wait to be taken: items start as earlier ones finish
/// until then, so a slow consumer holds back the producers.
/// Lifetime: an lvalue `inputs` range, and anything `fn` captures by reference, must outlive the
/// stream; an rvalue range is moved into it.
///
/// \code
/// auto stream = fanout::as_completed(ids, twice, {.max_concurrency = 8});
/// while (auto done = co_await stream.next()) use(done->index, done->result);
/// \endcode
template <class Range, class F>
requires detail::item_callable<F, Range> result_stream<detail::item_value_t<Range, F>> as_completed(
    Range&& inputs, F&& fn, gather_options options = {}) {
  return result_stream<detail::item_value_t<Range, F>>(detail::make_stream_engine(
      std::forward<Range>(inputs), std::forward<F>(fn), std::move(options)));
}

}  // namespace fanout

#endif
