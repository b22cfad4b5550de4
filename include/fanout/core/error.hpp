#ifndef FANOUT_CORE_ERROR_HPP
#define FANOUT_CORE_ERROR_HPP

#include <fanout/config.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace fanout {

/// The error codes of the concurrency core, in the category named "fanout".
///
/// Where an underlying Asio, OpenSSL or Beast code exists it is kept as it is (a refused
/// connection stays `boost::asio::error::connection_refused`); these codes name what has no
/// code of its own. The HTTP layer's codes are `fanout::http_errc` (<fanout/http/error.hpp>).
/// Context such as the URL goes in `fanout::error::message()`.
enum class errc {
  cancelled = 1,  ///< the item was cancelled before it finished (fail-fast, outer cancellation)
  timeout,        ///< a deadline passed before the item finished
  exception,      ///< the callable threw an exception that carried no error code
};

}  // namespace fanout

template <>
struct boost::system::is_error_code_enum<fanout::errc> : std::true_type {};

namespace fanout {

namespace detail {

/// One code of a `table_category`: its short name (for logs, `error_name`) and its message.
struct code_text {
  const char* name;
  const char* message;
};

/// An error category whose codes 1..N are described by one table, `codes[value - 1]`: each
/// layer of fanout defines its codes once, in one place, and `error_name` finds the names of
/// every such category without a switch per category.
class table_category : public boost::system::error_category {
 public:
  // A fixed id makes categories from different shared objects compare equal.
  constexpr table_category(unsigned long long id, const char* name,
                           std::span<const code_text> codes) noexcept
      : boost::system::error_category(id), name_(name), codes_(codes) {}

  const char* name() const noexcept override { return name_; }

  std::string message(int ev) const override { return message(ev, nullptr, 0); }

  const char* message(int ev, char*, std::size_t) const noexcept override {
    auto const* code = find(ev);
    return code ? code->message : "unknown error";
  }

  /// The short name of code `ev`, or null when the table has none.
  const char* code_name(int ev) const noexcept {
    auto const* code = find(ev);
    return code ? code->name : nullptr;
  }

 private:
  const code_text* find(int ev) const noexcept {
    if (ev < 1 || static_cast<std::size_t>(ev) > codes_.size()) return nullptr;
    return &codes_[static_cast<std::size_t>(ev) - 1];
  }

  const char* name_;
  std::span<const code_text> codes_;
};

/// An enum Boost.System knows as error codes: `fanout::errc`, `fanout::http_errc`, Asio's...
template <class E>
concept error_code_enum = boost::system::is_error_code_enum<E>::value;

/// `fanout::errc`'s names and messages, in the enum's order.
inline constexpr code_text core_codes[] = {
    {"cancelled", "cancelled"},
    {"timeout", "timed out"},
    {"exception", "the callable threw an exception"},
};

}  // namespace detail

/// The category of `fanout::errc`, named "fanout".
FANOUT_DECL const boost::system::error_category& fanout_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), fanout_category()};
}

/// The short name of a code, for logs and machine-readable output: "timeout", "connect",
/// "connection_refused"... fanout's codes (of every layer) are named by their enumerator;
/// codes of other categories fall back to "<category>:<value>".
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

  /// An error with the code of an error-code enum (`fanout::errc`, `fanout::http_errc`, ...).
  template <detail::error_code_enum Enum>
  error(Enum code, std::string message = {}, std::exception_ptr exception = nullptr)
      : error(boost::system::error_code(code), std::move(message), std::move(exception)) {}

  /// The error code; compare with `fanout::errc` / `fanout::http_errc` values or Asio's.
  const boost::system::error_code& code() const noexcept { return code_; }

  /// Human-readable text: the context given at construction (which names the code), or the
  /// code's own message.
  std::string message() const {
    if (details_ && !details_->message.empty()) return details_->message;
    return code_.message();
  }

  /// The exception the callable threw, or null.
  std::exception_ptr exception() const noexcept { return details_ ? details_->exception : nullptr; }

  template <detail::error_code_enum Enum>
  friend bool operator==(const error& e, Enum c) noexcept {
    return e.code_ == c;
  }

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
                                                         const boost::source_location& = {});

/// Turns the exception in flight into an error: a `fanout::system_error` keeps its error, a
/// `boost::system::system_error` its code, anything else becomes `errc::exception` with the
/// exception's `what()`. The exception itself is kept in `error::exception()`.
FANOUT_DECL error error_from_current_exception();

}  // namespace fanout

#ifndef FANOUT_SEPARATE_COMPILATION
#include <fanout/core/impl/error.ipp>
#endif

#endif
