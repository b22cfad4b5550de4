#ifndef FANOUT_HTTP_BODY_HPP
#define FANOUT_HTTP_BODY_HPP

#include <fanout/config.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <utility>

namespace fanout {

/// Takes a response body piece by piece (`body_sink::callback`): the body as decoded
/// (gzip/deflate undone unless the request asked for its own `Accept-Encoding`), in pieces of
/// at most 64 KiB, in order. A piece is valid until the returned awaitable completes, and the
/// connection reads nothing more meanwhile: a slow callback slows the download instead of
/// filling memory. It runs on the executor of the coroutine that awaits the request. An
/// exception it throws fails the request with it (`errc::exception`, or the code of a
/// `boost::system::system_error`); the rest of the body is not read.
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
    body_sink s;
    s.kind_ = kind::callback;
    s.callback_ = std::move(f);
    return s;
  }
  /// A 2xx body to the file `path`, as `session::download` writes it (through `<path>.part`,
  /// renamed into place when complete); another status's body stays in the response.
  static body_sink file(std::string path, file_options options = {}) {
    body_sink s;
    s.kind_ = kind::file;
    s.path_ = std::move(path);
    s.file_ = options;
    return s;
  }

  kind type() const noexcept { return kind_; }
  bool in_memory() const noexcept { return kind_ == kind::memory; }
  const body_callback& on_piece() const noexcept { return callback_; }
  const std::string& path() const noexcept { return path_; }
  const file_options& options() const noexcept { return file_; }

 private:
  kind kind_ = kind::memory;
  body_callback callback_;
  std::string path_;
  file_options file_{};
};

}  // namespace fanout

#endif
