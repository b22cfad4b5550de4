#ifndef FANOUT_CORE_ERROR_HPP
#define FANOUT_CORE_ERROR_HPP

#include <fanout/config.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace fanout {

/// The error codes fanout itself reports, in the category named "fanout".
///
/// Where an underlying Asio, OpenSSL or Beast code exists it is kept as it is (a refused
/// connection stays `boost::asio::error::connection_refused`); these codes name what has no
/// code of its own. Context such as the URL goes in `fanout::error::message()`.
enum class errc {
  // The concurrency core.
  cancelled = 1,  ///< the item was cancelled before it finished (fail-fast, outer cancellation)
  timeout,        ///< a deadline passed before the item finished
  exception,      ///< the callable threw an exception that carried no error code

  // The HTTP layer.
  invalid_url,         ///< the URL cannot be parsed, has no host, or an unsupported scheme
  invalid_request,     ///< a header name or value with CR, LF or NUL, or a bad method
  connect,             ///< no connection could be made to any address of the host
  tls,                 ///< the TLS handshake or certificate verification failed
  protocol,            ///< the server broke HTTP/1.1 (bad status line, bad chunk, ...)
  too_many_redirects,  ///< more redirects than `max_redirects`
  redirect_refused,    ///< a redirect the options forbid (https -> http, unknown scheme)
  body_too_large,      ///< the (decompressed) body is larger than `max_body_bytes`
  headers_too_large,   ///< the response header block is larger than the limit
  decompression,       ///< the body could not be decompressed
  json,                ///< the body is not the JSON the caller asked for
  http_status,         ///< the server answered >= 400 and `raise_for_status` was set
  proxy,               ///< the proxy refused to open a CONNECT tunnel (407, 403, 502...)
  too_many_pending,    ///< `max_pending_requests` were already waiting for a connection
};

}  // namespace fanout

template <>
struct boost::system::is_error_code_enum<fanout::errc> : std::true_type {};

namespace fanout {

namespace detail {

class error_category final : public boost::system::error_category {
 public:
  // A fixed id makes categories from different shared objects compare equal.
  constexpr error_category() noexcept : boost::system::error_category(0x6661'6e6f'7574'0001) {}

  const char* name() const noexcept override { return "fanout"; }

  std::string message(int ev) const override { return message(ev, nullptr, 0); }

  const char* message(int ev, char*, std::size_t) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::cancelled: return "cancelled";
      case errc::timeout: return "timed out";
      case errc::exception: return "the callable threw an exception";
      case errc::invalid_url: return "invalid URL";
      case errc::invalid_request: return "invalid request";
      case errc::connect: return "could not connect";
      case errc::tls: return "TLS handshake or certificate verification failed";
      case errc::protocol: return "HTTP protocol error";
      case errc::too_many_redirects: return "too many redirects";
      case errc::redirect_refused: return "redirect refused";
      case errc::body_too_large: return "response body too large";
      case errc::headers_too_large: return "response headers too large";
      case errc::decompression: return "response body could not be decompressed";
      case errc::json: return "invalid JSON";
      case errc::http_status: return "HTTP error status";
      case errc::proxy: return "the proxy refused the connection";
      case errc::too_many_pending: return "too many requests waiting for a connection";
    }
    return "unknown fanout error";
  }
};

}  // namespace detail

/// The category of `fanout::errc`, named "fanout".
FANOUT_DECL const boost::system::error_category& fanout_category() noexcept {
  static constexpr detail::error_category category;
  return category;
}

FANOUT_DECL boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), fanout_category()};
}

/// The short name of a code, for logs and machine-readable output: "timeout", "connect",
/// "connection_refused"... Codes of other categories fall back to "<category>:<value>".
FANOUT_DECL std::string error_name(const boost::system::error_code& ec);

/// Why one item failed: an error code, a human message with context, and the exception the
/// callable threw, if any.
///
/// Cheap to copy (the message and exception are shared), default-constructible (an empty
/// error has a success code).
class error {
 public:
  error() = default;

  /// An error with `code`; `message` adds context (a URL, an attempt count) and defaults to
  /// the code's own message.
  error(boost::system::error_code code, std::string message = {},
        std::exception_ptr exception = nullptr)
      : code_(code) {
    if (!message.empty() || exception)
      details_ = std::make_shared<const details>(details{std::move(message), std::move(exception)});
  }

  error(errc code, std::string message = {}, std::exception_ptr exception = nullptr)
      : error(make_error_code(code), std::move(message), std::move(exception)) {}

  /// The error code; compare with `fanout::errc` values or Asio's.
  const boost::system::error_code& code() const noexcept { return code_; }

  /// Human-readable text: the context given at construction (which names the code), or the
  /// code's own message.
  std::string message() const {
    if (details_ && !details_->message.empty()) return details_->message;
    return code_.message();
  }

  /// The exception the callable threw, or null.
  std::exception_ptr exception() const noexcept { return details_ ? details_->exception : nullptr; }

  friend bool operator==(const error& e, errc c) noexcept { return e.code_ == c; }

  /// Writes `message()`, for logs (and for `result<T>`'s own stream operator).
  template <class Ch, class Tr>
  friend std::basic_ostream<Ch, Tr>& operator<<(std::basic_ostream<Ch, Tr>& os, const error& e) {
    return os << e.message();
  }

 private:
  struct details {
    std::string message;
    std::exception_ptr exception;
  };
  boost::system::error_code code_;
  std::shared_ptr<const details> details_;
};

/// The exception that carries a `fanout::error`: what awaited fanout operations throw, and
/// what `gather` turns back into a per-item error without losing the message.
class system_error : public boost::system::system_error {
 public:
  explicit system_error(fanout::error e)
      : boost::system::system_error(e.code(), e.message()), error_(std::move(e)) {}

  const fanout::error& error() const noexcept { return error_; }

 private:
  fanout::error error_;
};

/// Throws `e`: the callable's own exception when there is one, else a `fanout::system_error`
/// (a `boost::system::system_error`) with the code and the message. `result<T>::value()` calls
/// this through argument-dependent lookup.
[[noreturn]] FANOUT_DECL void throw_exception_from_error(const error& e,
                                                         const boost::source_location& = {}) {
  if (auto ep = e.exception()) std::rethrow_exception(ep);
  throw system_error(e);
}

/// Turns the exception in flight into an error: a `fanout::system_error` keeps its error, a
/// `boost::system::system_error` its code, anything else becomes `errc::exception` with the
/// exception's `what()`. The exception itself is kept in `error::exception()`.
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
  if (ec.category() == fanout_category()) {
    switch (static_cast<errc>(ec.value())) {
      case errc::cancelled: return "cancelled";
      case errc::timeout: return "timeout";
      case errc::exception: return "exception";
      case errc::invalid_url: return "invalid_url";
      case errc::invalid_request: return "invalid_request";
      case errc::connect: return "connect";
      case errc::tls: return "tls";
      case errc::protocol: return "protocol";
      case errc::too_many_redirects: return "too_many_redirects";
      case errc::redirect_refused: return "redirect_refused";
      case errc::body_too_large: return "body_too_large";
      case errc::headers_too_large: return "headers_too_large";
      case errc::decompression: return "decompression";
      case errc::json: return "json";
      case errc::http_status: return "http_status";
      case errc::proxy: return "proxy";
      case errc::too_many_pending: return "too_many_pending";
    }
  }
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
