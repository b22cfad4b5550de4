#ifndef FANOUT_HTTP_BODY_HPP
#define FANOUT_HTTP_BODY_HPP

#include <fanout/config.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace fanout {

/// Takes a response body piece by piece (`body_sink::callback`): the body as decoded
/// (gzip/deflate undone unless the request asked for its own `Accept-Encoding`), in pieces of
/// at most 64 KiB, in order. A piece is valid until the returned awaitable completes, and the
/// connection reads nothing more meanwhile: a slow callback slows the download instead of
/// filling memory. It runs on a strand of the executor of the coroutine that awaits the
/// request (never two pieces at once, even on a thread pool). An
/// exception it throws fails the request with it (`errc::exception`, or the code of a
/// `boost::system::system_error`); the rest of the body is not read. Cancelling the request,
/// or its deadline, cancels the callback's own waits (terminal cancellation of the coroutine it
/// runs in): the request ends with `errc::cancelled` or `errc::timeout`, never held by it.
using body_callback = std::function<boost::asio::awaitable<void>(std::span<const std::byte>)>;

/// How a file sink treats the file and its `.part` (see `session::download`).
struct file_options {
  /// Continue from a `<path>.part` left by an earlier attempt: `Range: bytes=N-` with
  /// `If-Range` (the validator the earlier response gave), appended on 206, started over on
  /// 200. Asks for the identity coding (a range counts bytes of the representation as coded).
  bool resume = false;
  /// Replace `<path>` when it exists; otherwise such a download fails before any I/O with
  /// `std::errc::file_exists`.
  bool overwrite = false;
  /// `fsync` the file before it is renamed into place, so that a crash never leaves a
  /// complete-looking file with lost bytes.
  bool fsync = false;
};

/// Where a response's body goes: `request::sink`. Only the final response's body goes to a
/// callback or a file: not that of a redirect the session follows, nor that of an attempt the
/// retry policy repeats. A request whose sink has taken any bytes is not retried.
class body_sink {
 public:
  enum class kind : unsigned char { memory, callback, file };

  /// In the response (the default): `response::body()`, at most `max_body_bytes`.
  body_sink() = default;
  /// To `f`, piece by piece, at most `session_options::max_download_bytes`; the response's
  /// `body()` is empty.
  static body_sink callback(body_callback f) {
    return body_sink(state{kind::callback, std::move(f), {}, {}});
  }
  /// A 2xx body to the file `path`, as `session::download` writes it (through `<path>.part`,
  /// renamed into place when complete); another status's body stays in the response.
  static body_sink file(std::string path, file_options options = {}) {
    return body_sink(state{kind::file, {}, std::move(path), options});
  }

  kind type() const noexcept { return s_ ? s_->type : kind::memory; }
  bool in_memory() const noexcept { return !s_; }
  const body_callback& on_piece() const noexcept { return s_ ? s_->callback : none().callback; }
  const std::string& path() const noexcept { return s_ ? s_->path : none().path; }
  const file_options& options() const noexcept { return s_ ? s_->options : none().options; }

 private:
  // Shared and immutable: a request (copied per attempt, moved along the way) carries a
  // pointer, and the default is a null one.
  struct state {
    kind type;
    body_callback callback;
    std::string path;
    file_options options;
  };
  explicit body_sink(state s) : s_(std::make_shared<const state>(std::move(s))) {}
  static const state& none() noexcept {
    static const state empty{kind::memory, {}, {}, {}};
    return empty;
  }
  std::shared_ptr<const state> s_;
};

/// Produces a request body piece by piece (`body::callback`): writes the next bytes into
/// `into` and returns how many, 0 at the end. Awaited one piece at a time, each only once the
/// previous one is on its way (back-pressure); runs on a strand of the executor of the
/// coroutine that awaits the request. An exception fails the request with it. As for
/// `body_callback`, cancellation and the deadline reach the producer's own waits.
using body_producer = std::function<boost::asio::awaitable<std::size_t>(std::span<std::byte> into)>;

/// Where a request body comes from when it is not `request::body`: `request::upload`.
class body_source {
 public:
  enum class kind : unsigned char { none, file, producer };

  body_source() = default;
  kind type() const noexcept { return s_ ? s_->type : kind::none; }
  const std::string& path() const noexcept { return s_ ? s_->path : empty().path; }
  const body_producer& producer() const noexcept { return s_ ? s_->producer : empty().producer; }
  /// The producer's total length when known (sent as Content-Length); else chunked.
  const std::optional<std::uint64_t>& length() const noexcept {
    return s_ ? s_->length : empty().length;
  }

 private:
  friend body_source file_source(std::string);
  friend body_source producer_source(body_producer, std::optional<std::uint64_t>);
  struct state {  // shared and immutable, as body_sink's
    kind type;
    std::string path;
    body_producer producer;
    std::optional<std::uint64_t> length;
  };
  explicit body_source(state s) : s_(std::make_shared<const state>(std::move(s))) {}
  static const state& empty() noexcept {
    static const state none{kind::none, {}, {}, {}};
    return none;
  }
  std::shared_ptr<const state> s_;
};

inline body_source file_source(std::string path) {
  return body_source(body_source::state{body_source::kind::file, std::move(path), {}, {}});
}
inline body_source producer_source(body_producer f, std::optional<std::uint64_t> length) {
  return body_source(body_source::state{body_source::kind::producer, {}, std::move(f), length});
}

/// Request bodies that are not a string: `fanout::request{.method = "PUT", .url = u,
/// .upload = fanout::body::file("/data/x.bin")}`.
namespace body {

/// The file at `path`, read in 256 KiB blocks on the session's writer thread, sent with
/// `Content-Length` (its size when the request starts). Re-read from its start when the
/// request is sent again (a retry, a 307/308 redirect, a stale keep-alive connection). A file
/// that cannot be opened fails the request before any I/O; one that ends early while being
/// sent (it shrank) fails it, never sending a short body under a longer Content-Length.
inline body_source file(std::string path) {
  return file_source(std::move(path));
}

/// The bytes `f` produces, sent chunked (or with `Content-Length: *length` when given: then
/// producing more or fewer is an error). One-shot: such a request is not retried, and a
/// 307/308 redirect of it fails with `http_errc::redirect_refused` (a 301/302/303 turns it
/// into a GET without a body, as for any body).
inline body_source callback(body_producer f, std::optional<std::uint64_t> length = std::nullopt) {
  return producer_source(std::move(f), length);
}

}  // namespace body

}  // namespace fanout

#endif
