#ifndef FANOUT_CORE_OPTIONS_HPP
#define FANOUT_CORE_OPTIONS_HPP

#include <fanout/core/error.hpp>

#include <chrono>
#include <cstddef>
#include <functional>

namespace fanout {

/// How `gather` and `as_completed` run their items. Every member has its default written here,
/// so designated initialisers read like configuration: `{.max_concurrency = 64}`.
struct gather_options {
  /// At most this many items run at once; 0 means no cap (every item starts at once).
  /// Items start lazily as slots free, so at most this many item coroutines exist at a time.
  std::size_t max_concurrency = 0;

  /// On the first item error, cancel the items in flight and start no more: they report
  /// `errc::cancelled`, while the first error stays at its own index.
  bool fail_fast = false;

  /// A deadline for the whole run, counted from its start; zero means none. Items not finished
  /// by then are cancelled and report `errc::timeout`, unstarted ones too.
  std::chrono::steady_clock::duration timeout = {};

  /// Called once per item as its outcome becomes known, with the item's index and its error
  /// (null on success). Runs on the run's strand, so it is never called concurrently with
  /// itself; keep it short. Exceptions it throws are ignored.
  std::function<void(std::size_t index, const fanout::error* error)> on_result{};
};

}  // namespace fanout

#endif
