// The core layer must not drag in the HTTP layer's dependencies: this file fails to compile if
// <fanout/core.hpp> includes Beast, Boost.URL, OpenSSL or nlohmann/json.
#include <fanout/core.hpp>

#include <catch2/catch.hpp>

#if defined(BOOST_BEAST_VERSION) || defined(BOOST_BEAST_CORE_HPP)
#error "fanout/core.hpp must not include Beast"
#endif
#if defined(BOOST_URL_URL_HPP) || defined(BOOST_URL_PARSE_HPP)
#error "fanout/core.hpp must not include Boost.URL"
#endif
#if defined(OPENSSL_VERSION_NUMBER) || defined(HEADER_SSL_H) || defined(OPENSSL_SSL_H)
#error "fanout/core.hpp must not include OpenSSL"
#endif
#if defined(NLOHMANN_JSON_VERSION_MAJOR)
#error "fanout/core.hpp must not include nlohmann/json"
#endif

TEST_CASE("core.hpp stands alone without the HTTP layer's dependencies") {
  // The real check is the preprocessor's, above; this keeps the file a test.
  STATIC_REQUIRE(std::is_class_v<fanout::gather_options>);
}
