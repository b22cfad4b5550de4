#include <fanout/core/error.hpp>
#include <fanout/core/result.hpp>

#include <boost/asio/error.hpp>
#include <catch2/catch.hpp>

#include <stdexcept>

TEST_CASE("errc values are registered error codes in the fanout category") {
  boost::system::error_code ec = fanout::errc::timeout;
  CHECK(ec.category().name() == std::string("fanout"));
  CHECK(ec.message() == "timed out");
  CHECK(ec == fanout::errc::timeout);
  CHECK(ec != fanout::errc::cancelled);
  // Every value has its own message and name.
  for (int v = 1; v <= static_cast<int>(fanout::errc::exception); ++v) {
    boost::system::error_code code(v, fanout::fanout_category());
    CHECK(code.message() != "unknown error");
    CHECK(fanout::error_name(code).find(':') == std::string::npos);
  }
  // Past the table: the generic message and the "<category>:<value>" name.
  boost::system::error_code past(4, fanout::fanout_category());
  CHECK(past.message() == "unknown error");
  CHECK(fanout::error_name(past) == "fanout:4");
  CHECK(fanout::error_name(fanout::errc::exception) == "exception");
  CHECK(fanout::error_name(boost::asio::error::connection_refused) == "connection_refused");
}

TEST_CASE("error keeps code, context message and exception") {
  fanout::error empty;
  CHECK(!empty.code());
  CHECK(empty.exception() == nullptr);

  fanout::error plain(fanout::errc::cancelled);
  CHECK(plain.message() == "cancelled");

  fanout::error with_context(boost::asio::error::connection_refused,
                             "GET http://127.0.0.1:1/: connection refused");
  CHECK(with_context.code() == boost::asio::error::connection_refused);
  CHECK(with_context.message() == "GET http://127.0.0.1:1/: connection refused");
}

TEST_CASE("result::value() rethrows the callable's own exception, else a system_error") {
  fanout::result<int> ok = 7;
  CHECK(ok.has_value());
  CHECK(*ok == 7);

  fanout::error thrown;
  try {
    throw std::invalid_argument("bad id 42");
  } catch (...) {
    thrown = fanout::error_from_current_exception();
  }
  CHECK(thrown.code() == fanout::errc::exception);
  CHECK(thrown.message() == "bad id 42");
  fanout::result<int> failed = thrown;
  CHECK_FALSE(failed);
  CHECK_THROWS_AS(failed.value(), std::invalid_argument);

  fanout::result<int> coded = fanout::error(fanout::errc::timeout, "GET /x: timed out");
  try {
    (void)coded.value();
    FAIL("value() did not throw");
  } catch (const fanout::system_error& e) {
    CHECK(e.code() == fanout::errc::timeout);
    CHECK(std::string(e.what()).find("GET /x: timed out") != std::string::npos);
    CHECK(e.error().message() == "GET /x: timed out");
  }

  fanout::result<void> done;
  CHECK(done.has_value());
}

TEST_CASE("a system_error keeps its code when it becomes an error") {
  fanout::error e;
  try {
    throw boost::system::system_error(boost::asio::error::connection_reset, "reading");
  } catch (...) {
    e = fanout::error_from_current_exception();
  }
  CHECK(e.code() == boost::asio::error::connection_reset);
  CHECK(e.message().find("reading") != std::string::npos);
  CHECK(e.exception() != nullptr);

  try {
    throw fanout::system_error(
        fanout::error(fanout::errc::timeout, "GET https://127.0.0.1:1/: timed out"));
  } catch (...) {
    e = fanout::error_from_current_exception();
  }
  CHECK(e.code() == fanout::errc::timeout);
  CHECK(e.message() == "GET https://127.0.0.1:1/: timed out");
}
