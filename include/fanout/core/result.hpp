#ifndef FANOUT_CORE_RESULT_HPP
#define FANOUT_CORE_RESULT_HPP

#include <fanout/core/error.hpp>

#include <boost/system/result.hpp>

#include <cstddef>

namespace fanout {

/// One item's outcome: a value of type T, or the `fanout::error` that explains why not.
///
/// `has_value()` / `operator bool` test it, `*r` and `r.value()` read the value (`value()` on an
/// error rethrows the callable's own exception when there is one, else throws
/// `fanout::system_error`), `r.error()` reads the error. `result<void>` holds no value.
template <class T>
using result = boost::system::result<T, error>;

/// What `as_completed` yields: an item's position in the input and its outcome.
template <class T>
struct completed {
  std::size_t index;  ///< the item's position in the input range
  ::fanout::result<T> result;
};

}  // namespace fanout

#endif
