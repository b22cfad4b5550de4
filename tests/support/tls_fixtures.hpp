// TLS fixtures shared by the HTTP tests: servers presenting the run-time test certificates, and
// sessions that trust the test CA.
#ifndef FANOUT_TESTS_SUPPORT_TLS_FIXTURES_HPP
#define FANOUT_TESTS_SUPPORT_TLS_FIXTURES_HPP

#include "support/certs.hpp"
#include "support/test_server.hpp"

#include <fanout/http/options.hpp>

namespace fanout::test {

/// A test server presenting `c`: by default the test CA's certificate for localhost/127.0.0.1.
inline test_server::options tls_with(const cert_pair& c = pki().server) {
  test_server::options o;
  o.cert_pem = c.cert_pem;
  o.key_pem = c.key_pem;
  return o;
}

/// Session options that trust the test CA (and only it).
inline fanout::session_options trusting_test_ca() {
  fanout::session_options o;
  o.ca_file = pki().ca_file;
  return o;
}

}  // namespace fanout::test

#endif
