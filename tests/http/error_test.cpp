// The HTTP layer's error codes: their own category beside the core's, names and messages from
// one table, and `is_retryable` beside them.
#include <fanout/http/error.hpp>

#include <boost/asio/error.hpp>
#include <catch2/catch.hpp>

#include <set>
#include <string>

TEST_CASE("http_errc values are error codes in the fanout.http category", "[error]") {
  boost::system::error_code ec = fanout::http_errc::tls;
  CHECK(ec.category().name() == std::string("fanout.http"));
  CHECK(ec.category() == fanout::http_category());
  CHECK(ec.category() != fanout::fanout_category());
  CHECK(ec.message() == "TLS handshake or certificate verification failed");
  CHECK(ec == fanout::http_errc::tls);
  // A code of one layer never equals the same value of the other.
  CHECK(boost::system::error_code(fanout::http_errc::invalid_url) !=
        boost::system::error_code(static_cast<fanout::errc>(1)));

  // Every value has its own message and its own name, none of them the fallback.
  std::set<std::string> names, messages;
  auto const last = static_cast<int>(fanout::http_errc::resume_failed);
  for (int v = 1; v <= last; ++v) {
    boost::system::error_code code(v, fanout::http_category());
    CHECK(code.message() != "unknown error");
    CHECK(fanout::error_name(code).find(':') == std::string::npos);
    names.insert(fanout::error_name(code));
    messages.insert(code.message());
  }
  CHECK(names.size() == static_cast<std::size_t>(last));
  CHECK(messages.size() == static_cast<std::size_t>(last));
  CHECK(fanout::error_name(fanout::http_errc::too_many_redirects) == "too_many_redirects");
  CHECK(fanout::error_name(fanout::http_errc::connect) == "connect");
  CHECK(fanout::error_name({last + 1, fanout::http_category()}) ==
        "fanout.http:" + std::to_string(last + 1));
}

TEST_CASE("fanout::error takes and compares codes of either layer", "[error]") {
  fanout::error e(fanout::http_errc::proxy, "CONNECT 127.0.0.1:1: 407");
  CHECK(e == fanout::http_errc::proxy);
  CHECK_FALSE(e == fanout::http_errc::tls);
  CHECK_FALSE(e == fanout::errc::timeout);
  CHECK(e.message() == "CONNECT 127.0.0.1:1: 407");
  fanout::error t(fanout::errc::timeout);
  CHECK(t == fanout::errc::timeout);
  CHECK(t.message() == "timed out");
}

TEST_CASE("is_retryable: transient failures yes, bad input and verdicts no", "[error]") {
  CHECK(fanout::is_retryable(fanout::errc::timeout));
  CHECK(fanout::is_retryable(fanout::http_errc::connect));
  CHECK(fanout::is_retryable(boost::asio::error::connection_refused));
  CHECK(fanout::is_retryable(boost::asio::error::connection_reset));
  CHECK(fanout::is_retryable(boost::asio::error::eof));
  CHECK_FALSE(fanout::is_retryable(fanout::errc::cancelled));
  CHECK_FALSE(fanout::is_retryable(fanout::http_errc::tls));
  CHECK_FALSE(fanout::is_retryable(fanout::http_errc::protocol));
  CHECK_FALSE(fanout::is_retryable(fanout::http_errc::invalid_url));
  CHECK_FALSE(fanout::is_retryable(fanout::http_errc::body_too_large));
}
