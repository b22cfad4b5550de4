#ifndef FANOUT_HTTP_DETAIL_NET_COMPLETE_HPP
#define FANOUT_HTTP_DETAIL_NET_COMPLETE_HPP

#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <utility>

namespace fanout::detail {

/// Completes a type-erased handler with `args` later, never inside the caller's stack: posts to
/// `ex`, then dispatches to the handler's associated executor (Asio 1.26's
/// `any_completion_executor` cannot be posted to directly).
template <class Executor, class Handler, class... Args>
void complete_later(const Executor& ex, Handler&& handler, Args&&... args) {
  boost::asio::post(
      ex, [h = std::forward<Handler>(handler), ... a = std::forward<Args>(args)]() mutable {
        boost::asio::dispatch(boost::asio::append(std::move(h), std::move(a)...));
      });
}

}  // namespace fanout::detail

#endif
