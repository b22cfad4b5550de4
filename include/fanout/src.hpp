#ifndef FANOUT_SRC_HPP
#define FANOUT_SRC_HPP

// The definitions of fanout's compiled mode: include this in exactly one translation unit of a
// program built with FANOUT_SEPARATE_COMPILATION defined everywhere (see fanout/config.hpp).

#include <fanout/config.hpp>

#ifndef FANOUT_SEPARATE_COMPILATION
#error "<fanout/src.hpp> is for builds with FANOUT_SEPARATE_COMPILATION defined"
#endif

#include <fanout/fanout.hpp>

#include <fanout/core/detail/impl/any_strand.ipp>
#include <fanout/core/detail/impl/engine_base.ipp>
#include <fanout/core/impl/error.ipp>
#include <fanout/http/impl/error.ipp>
#include <fanout/http/impl/response.ipp>
#include <fanout/http/impl/session.ipp>
#include <fanout/http/impl/url.ipp>

#endif
