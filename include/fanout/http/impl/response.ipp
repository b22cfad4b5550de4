#ifndef FANOUT_HTTP_IMPL_RESPONSE_IPP
#define FANOUT_HTTP_IMPL_RESPONSE_IPP

// The definitions of fanout/http/response.hpp: included by it (header-only), or once by
// <fanout/src.hpp> (FANOUT_SEPARATE_COMPILATION). `json()` is here because parsing is the
// heavy part of nlohmann/json to compile: a user's file that only asks for `r.json()` does not
// compile the parser again.

#include <fanout/http/response.hpp>

#include <string>
#include <utility>

namespace fanout {

FANOUT_DECL void response::throw_json_error(const char* what) const {
  std::string m;
  m.append(method()).append(" ").append(url()).append(": invalid JSON: ").append(what);
  throw system_error(error(http_errc::json, std::move(m)));
}

FANOUT_DECL nlohmann::json response::json() const {
  auto const b = body();
  try {
    return nlohmann::json::parse(b.begin(), b.end());
  } catch (const nlohmann::json::exception& e) {
    throw_json_error(e.what());
  }
}

}  // namespace fanout

#endif
