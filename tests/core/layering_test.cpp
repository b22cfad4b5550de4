// The layering, seen by the compiler (cmake/check_layers.cmake checks the folder rules on the
// include lines). The core layer must not drag in the HTTP layer's dependencies: this file fails
// to compile if <fanout/core.hpp> includes Beast, Boost.URL, OpenSSL or nlohmann/json.
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

// The HTTP layer's pure pieces (http/detail/sansio) open no sockets, not even through what they
// include: this file is the first of its binary, so nothing else has included them yet.
#include <fanout/http/detail/sansio/content_coding.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/detail/sansio/lru_map.hpp>
#include <fanout/http/detail/sansio/pool_state.hpp>
#include <fanout/http/detail/sansio/proxy.hpp>
#include <fanout/http/detail/sansio/request_builder.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>

#if defined(BOOST_ASIO_BASIC_SOCKET_HPP) || defined(BOOST_ASIO_IP_TCP_HPP) || \
    defined(BOOST_ASIO_SSL_STREAM_HPP) || defined(BOOST_BEAST_CORE_TCP_STREAM_HPP)
#error "http/detail/sansio must not include sockets or TLS streams"
#endif

TEST_CASE("core.hpp stands alone without the HTTP layer's dependencies") {
  // The real check is the preprocessor's, above; this keeps the file a test.
  STATIC_REQUIRE(std::is_class_v<fanout::gather_options>);
}
