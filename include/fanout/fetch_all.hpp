#ifndef FANOUT_FETCH_ALL_HPP
#define FANOUT_FETCH_ALL_HPP

// The blocking facade over both layers: one pooled session, one gather, its own io_context.

#include <fanout/core/gather.hpp>
#include <fanout/core/run.hpp>
#include <fanout/http/request.hpp>
#include <fanout/http/response.hpp>
#include <fanout/http/session.hpp>

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <ranges>
#include <string>
#include <type_traits>
#include <vector>

namespace fanout {

/// Fetches every element of `inputs` through one pooled `fanout::session` and returns the
/// responses in input order, each failure kept at its index (with the method and URL in its
/// message). For code that is not a coroutine: it runs its own single-threaded `io_context` on
/// the calling thread and returns when every request has finished.
///
/// \param inputs URLs (anything convertible to `std::string`: each is a GET), or
///   `fanout::request`s for other methods, headers and bodies.
/// \param options the gather's: concurrency cap (per session, on top of the session's per-host
///   cap), fail-fast, a deadline for the whole batch, a progress hook. Without a cap
///   (`max_concurrency = 0`) the cap is the smaller of the session's `max_connections` and
///   `max_pending_requests` (of those not 0): no more requests start than can be served or
///   queued, so a long list to one host never fails its tail with `http_errc::too_many_pending`.
/// \param session the session's options: connection caps, timeouts, TLS, redirects.
///
/// \code
/// std::vector<fanout::result<fanout::response>> rs = fanout::fetch_all(urls, {.max_concurrency =
/// 64}); \endcode
template <std::ranges::input_range Range>
requires std::convertible_to<std::ranges::range_reference_t<Range>, std::string> ||
    std::same_as<std::remove_cvref_t<std::ranges::range_reference_t<Range>>, request>
        std::vector<result<response>> fetch_all(Range&& inputs, gather_options options = {},
                                                session_options session = {}) {
  if (options.max_concurrency == 0) {
    for (std::size_t limit : {session.max_connections, session.max_pending_requests})
      if (limit && (options.max_concurrency == 0 || limit < options.max_concurrency))
        options.max_concurrency = limit;
  }
  return run([&](auto executor) -> asio::awaitable<std::vector<result<response>>> {
    fanout::session http(executor, std::move(session));
    auto fetch_one = [&](const auto& input) -> asio::awaitable<response> {
      if constexpr (std::same_as<std::remove_cvref_t<decltype(input)>, request>)
        return http.request(input);
      else
        return http.get(std::string(input));
    };
    auto out = co_await gather(std::forward<Range>(inputs), fetch_one, std::move(options));
    http.close();  // idle keep-alive connections must not keep the io_context running
    co_return out;
  });
}

}  // namespace fanout

#endif
