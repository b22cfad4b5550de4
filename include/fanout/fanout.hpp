#ifndef FANOUT_FANOUT_HPP
#define FANOUT_FANOUT_HPP

// Everything: the concurrency core, the HTTP client, and the blocking facade over both.

#include <fanout/core.hpp>
#include <fanout/fetch_all.hpp>
#include <fanout/http.hpp>

#endif
