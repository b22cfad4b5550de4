#ifndef FANOUT_CORE_IMPL_ERROR_IPP
#define FANOUT_CORE_IMPL_ERROR_IPP

// The definitions of fanout/core/error.hpp: included by it (header-only), or once by
// <fanout/src.hpp> (FANOUT_SEPARATE_COMPILATION).

#include <fanout/core/error.hpp>

namespace fanout {

FANOUT_DECL const boost::system::error_category& fanout_category() noexcept {
  static constexpr detail::table_category category(0x6661'6e6f'7574'0001, "fanout",
                                                   detail::core_codes);
  return category;
}

[[noreturn]] FANOUT_DECL void throw_exception_from_error(const error& e,
                                                         const boost::source_location&) {
  if (auto ep = e.exception()) std::rethrow_exception(ep);
  throw system_error(e);
}

FANOUT_DECL error error_from_current_exception() {
  auto ep = std::current_exception();
  try {
    throw;
  } catch (const fanout::system_error& e) {
    auto const& inner = e.error();
    return error(inner.code(), inner.message(), inner.exception() ? inner.exception() : ep);
  } catch (const boost::system::system_error& e) {
    return error(e.code(), e.what(), ep);
  } catch (const std::exception& e) {
    return error(errc::exception, e.what(), ep);
  } catch (...) {
    return error(errc::exception, "unknown exception", ep);
  }
}

FANOUT_DECL std::string error_name(const boost::system::error_code& ec) {
  if (auto const* table = dynamic_cast<const detail::table_category*>(&ec.category()))
    if (auto const* name = table->code_name(ec.value())) return name;
  // The common system errors by their POSIX names, so output stays portable and greppable.
  namespace se = boost::system::errc;
  if (ec == se::connection_refused) return "connection_refused";
  if (ec == se::connection_reset) return "connection_reset";
  if (ec == se::connection_aborted) return "connection_aborted";
  if (ec == se::timed_out) return "timed_out";
  if (ec == se::host_unreachable) return "host_unreachable";
  if (ec == se::network_unreachable) return "network_unreachable";
  if (ec == se::broken_pipe) return "broken_pipe";
  if (ec == se::operation_canceled) return "operation_canceled";
  return std::string(ec.category().name()) + ":" + std::to_string(ec.value());
}

}  // namespace fanout

#endif
