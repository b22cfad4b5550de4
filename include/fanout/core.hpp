#ifndef FANOUT_CORE_HPP
#define FANOUT_CORE_HPP

// The generic concurrency core: gather, as_completed, async_semaphore and the blocking facade.
// Asio and the standard library only; nothing here knows of HTTP.

#include <fanout/core/as_completed.hpp>
#include <fanout/core/error.hpp>
#include <fanout/core/gather.hpp>
#include <fanout/core/gather_stream.hpp>
#include <fanout/core/options.hpp>
#include <fanout/core/rate_limiter.hpp>
#include <fanout/core/result.hpp>
#include <fanout/core/run.hpp>
#include <fanout/core/semaphore.hpp>
#include <fanout/core/stream.hpp>
#include <fanout/version.hpp>

#endif
