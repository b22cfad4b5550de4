#ifndef FANOUT_HTTP_DETAIL_BODY_FILE_WRITER_HPP
#define FANOUT_HTTP_DETAIL_BODY_FILE_WRITER_HPP

// A download's file, as blocking POSIX calls: run on the session's writer thread, never on an
// event loop. Plain POSIX rather than Beast's file_posix, which opens without O_CLOEXEC (a
// child process of the caller's would inherit every download's descriptor) and has no fsync. Bytes
// go to `<path>.part`; the response's validators to `<path>.part.meta` (for a later resume); on
// success the `.part` is renamed over `<path>`. Any failure leaves the
// `.part` holding a correct prefix of the body (writes are in order, never reordered), so a
// resume continues from its length.

#include <fanout/config.hpp>
#include <fanout/http/body.hpp>
#include <fanout/http/detail/sansio/resume.hpp>

#include <boost/system/error_code.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace fanout::detail {

/// A `.part` left by an earlier attempt: its length and the validators of the response it
/// holds the start of.
struct part_file {
  std::uint64_t size = 0;
  resume_validators validators;
};

class file_writer {
 public:
  file_writer(std::string path, file_options options)
      : path_(std::move(path)), part_(path_ + ".part"), meta_(part_ + ".meta"), options_(options) {}
  file_writer(const file_writer&) = delete;
  file_writer& operator=(const file_writer&) = delete;
  ~file_writer() { close(); }

  const std::string& path() const noexcept { return path_; }
  const std::string& part_path() const noexcept { return part_; }

  /// True when `path` exists (then a download without `overwrite` does not start).
  bool target_exists() const noexcept {
    struct stat st {};
    return ::stat(path_.c_str(), &st) == 0;
  }

  /// The `.part` and its sidecar, when both are there and readable; else nothing (a download
  /// then starts over).
  std::optional<part_file> find_part() const {
    struct stat st {};
    if (::stat(part_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    std::string text;
    if (!read_small(meta_, text)) return std::nullopt;
    std::string_view const view(text);
    auto const meta = nlohmann::json::parse(view.begin(), view.end(), nullptr, false);
    // Not the shape we write (another program's file, an edit): no sidecar at all.
    // (find is end() on what is not an object, a parse error's discarded value too)
    auto const etag = meta.find("etag"), last_modified = meta.find("last_modified");
    if (etag == meta.end() || !etag->is_string() || last_modified == meta.end() ||
        !last_modified->is_string())
      return std::nullopt;
    part_file p;
    p.size = static_cast<std::uint64_t>(st.st_size);
    p.validators.etag = etag->get<std::string>();
    p.validators.last_modified = last_modified->get<std::string>();
    return p;
  }

  /// Opens the `.part`: appended to (`append`), or written from its start with `validators`
  /// recorded beside it for a later resume.
  boost::system::error_code open(bool append, const resume_validators& validators,
                                 std::string& what) {
    close();
    if (!append) {
      // The sidecar first: a `.part` without its sidecar is never resumed; a stale sidecar
      // beside a new `.part` would be.
      ::unlink(meta_.c_str());
      auto const meta =
          nlohmann::json{{"etag", validators.etag}, {"last_modified", validators.last_modified}}
              .dump();
      int const fd = ::open(meta_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) return failed("writing " + meta_, what);
      auto const n = ::write(fd, meta.data(), meta.size());
      int const saved = errno;
      ::close(fd);
      errno = saved;
      if (n != static_cast<ssize_t>(meta.size())) return failed("writing " + meta_, what);
    }
    fd_ =
        ::open(part_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd_ < 0) return failed("opening " + part_, what);
    return {};
  }
  bool is_open() const noexcept { return fd_ >= 0; }

  /// Writes all of `bytes` (a full disk or a file-size limit is an error, with errno's code).
  boost::system::error_code write(std::string_view bytes, std::string& what) {
    while (!bytes.empty()) {
      auto const n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return failed("writing " + part_, what);
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

  /// The `.part` is complete: (fsync'd,) closed, renamed over the path; the sidecar goes.
  boost::system::error_code commit(std::string& what) {
    if (fd_ >= 0) {
      if (options_.fsync && ::fsync(fd_) != 0) return failed("syncing " + part_, what);
      int const fd = std::exchange(fd_, -1);
      if (::close(fd) != 0) return failed("closing " + part_, what);
    }
    if (std::rename(part_.c_str(), path_.c_str()) != 0)
      return failed("renaming " + part_ + " to " + path_, what);
    ::unlink(meta_.c_str());
    return {};
  }

  /// Closes the `.part` if open, keeping it for a resume.
  void close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  // A small file (the sidecar) whole; false when it cannot be read or is over 64 KiB.
  static bool read_small(const std::string& path, std::string& out) {
    int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    bool ok = true;
    for (;;) {
      auto const n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = n == 0;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
      if (out.size() > (64u << 10)) {
        ok = false;
        break;
      }
    }
    ::close(fd);
    return ok;
  }

  static boost::system::error_code failed(const std::string& doing, std::string& what) {
    boost::system::error_code ec(errno != 0 ? errno : EIO, boost::system::system_category());
    what = doing + ": " + ec.message();
    return ec;
  }

  std::string path_, part_, meta_;
  file_options options_;
  int fd_ = -1;
};

}  // namespace fanout::detail

#endif
