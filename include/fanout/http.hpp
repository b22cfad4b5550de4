#ifndef FANOUT_HTTP_HPP
#define FANOUT_HTTP_HPP

// The HTTP layer: a shared, connection-pooled HTTP/1.1 + HTTPS client on Beast. Knows nothing
// of gather; `fetch_all` (fanout/fetch_all.hpp) joins the two layers.
#include <fanout/http/error.hpp>
#include <fanout/http/options.hpp>
#include <fanout/http/request.hpp>
#include <fanout/http/response.hpp>
#include <fanout/http/session.hpp>
#include <fanout/http/stats.hpp>
#include <fanout/http/url.hpp>

#endif
