// A deliberate violation for layering_check_catches_violations: the policy reaching into the wire.
#include <fanout/http/detail/http1/connection_pool.hpp>
