#ifndef FANOUT_FETCH_OUTPUT_HPP
#define FANOUT_FETCH_OUTPUT_HPP

// Where the JSON lines go: standard output or a file, written in whole lines. A line is
// buffered until `flush()` (the tool calls it at least every 200 ms) or until 64 KiB are
// pending, and each write(2) hands over whole lines only, so what the file holds ends at a
// line's end unless the process dies inside a write; after a failed write nothing more is
// written, so a torn line is never followed by a complete one.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace fetch_tool {

class line_writer {
 public:
  /// Writes to `fd`, which stays open when the writer is destroyed (standard output).
  explicit line_writer(int fd) noexcept : fd_(fd) {}

  /// Writes to the file `path`, created if needed, appended to or truncated. On failure
  /// `error()` says why and nothing is written.
  line_writer(const std::string& path, bool append) : owned_(true) {
    fd_ =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd_ < 0) error_ = "cannot open " + path + ": " + std::strerror(errno);
  }

  line_writer(const line_writer&) = delete;
  line_writer& operator=(const line_writer&) = delete;

  ~line_writer() {
    flush();
    if (owned_ && fd_ >= 0) ::close(fd_);
  }

  /// Adds `line` and its newline; writes out once 64 KiB are pending.
  void add(std::string_view line) {
    pending_.append(line).push_back('\n');
    if (pending_.size() >= (std::size_t(64) << 10)) flush();
  }

  /// Writes every pending line; false once any write failed (see `error()`).
  bool flush() {
    if (!error_.empty()) return false;
    std::string_view rest = pending_;
    while (!rest.empty()) {
      auto n = ::write(fd_, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = std::string("cannot write the JSON lines: ") + std::strerror(errno);
        return false;
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    pending_.clear();
    return true;
  }

  /// Why the file could not be opened or written; empty while all is well.
  const std::string& error() const noexcept { return error_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string pending_;
  std::string error_;
};

}  // namespace fetch_tool

#endif
