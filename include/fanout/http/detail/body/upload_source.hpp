#ifndef FANOUT_HTTP_DETAIL_BODY_UPLOAD_SOURCE_HPP
#define FANOUT_HTTP_DETAIL_BODY_UPLOAD_SOURCE_HPP

// A streamed request body: the session's side of the transport's `exchange_source`. A file is
// read with pread(2) on the session's writer thread, never on the event loop; a producer runs
// on the request's coroutine's executor. One piece at a time: the transport asks for the next
// only once the last one is written.

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>
#include <fanout/http/body.hpp>
#include <fanout/http/detail/body/writer_thread.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/transport.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace fanout::detail {

class upload_source final : public exchange_source {
 public:
  struct setup {
    const body_source* source = nullptr;    ///< outlives the upload_source
    boost::asio::any_io_executor executor;  ///< the request's coroutine's: producers run there
    boost::asio::any_io_executor writer;    ///< the session's file thread: files are read there
  };

  explicit upload_source(setup s)
      : s_(std::move(s)),
        pieces_(s_.source->type() == body_source::kind::producer
                    ? boost::asio::make_strand(s_.executor)
                    : boost::asio::any_io_executor()) {}
  upload_source(const upload_source&) = delete;
  upload_source& operator=(const upload_source&) = delete;
  ~upload_source() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// Before any I/O: opens the file and takes its size, on the writer thread (an open may
  /// wait on a slow disk or a network file system). Fails with errno's code, `what()` naming
  /// the file.
  boost::asio::awaitable<boost::system::error_code> open() {
    if (s_.source->type() != body_source::kind::file) co_return boost::system::error_code{};
    auto const opened =
        co_await async_run_on_writer<piece>(s_.writer, [this] { return open_file(); });
    co_return opened.ec;
  }

  /// The body's length when known (Content-Length); else it goes chunked.
  std::optional<std::uint64_t> length() const noexcept {
    if (s_.source->type() == body_source::kind::file) return size_;
    return s_.source->length();
  }
  const std::string& what() const noexcept { return what_; }
  std::exception_ptr exception() const noexcept { return exception_; }

  void async_read(std::span<char> into,
                  boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>
                      done) override {
    if (s_.source->type() == body_source::kind::file) {
      auto const home = boost::asio::get_associated_executor(done);
      run_on_writer(
          s_.writer, home, [this, into] { return read_file(into); },
          [done = std::move(done)](piece p) mutable { std::move(done)(p.ec, p.n); });
      return;
    }
    auto complete = [done = std::move(done)](std::exception_ptr, piece p) mutable {
      auto const ex = boost::asio::get_associated_executor(done);
      boost::asio::dispatch(ex, [done = std::move(done), p]() mutable { done(p.ec, p.n); });
    };
    // Bound to a signal of ours: `cancel` reaches the producer's own waits.
    boost::asio::co_spawn(pieces_, produce(into),
                          boost::asio::bind_cancellation_slot(stop_->slot(), std::move(complete)));
  }

  // A file's read is one pread: it ends by itself. A producer is told where it runs.
  void cancel() noexcept override {
    if (s_.source->type() != body_source::kind::producer) return;
    try {
      boost::asio::post(pieces_,
                        [stop = stop_] { stop->emit(boost::asio::cancellation_type::terminal); });
    } catch (...) {
    }
  }

  bool rewind() override {
    if (s_.source->type() == body_source::kind::file) {
      offset_ = 0;
      return true;
    }
    return produced_ == 0;  // a producer gives its bytes once
  }

 private:
  struct piece {
    boost::system::error_code ec;
    std::size_t n = 0;
  };

  piece failed(boost::system::error_code ec, std::string what) {
    what_ = std::move(what);
    return {ec, 0};
  }

  // On the writer thread.
  piece open_file() {
    auto const& path = s_.source->path();
    auto const cannot = [&](int e, std::string_view why) {
      boost::system::error_code ec(e, boost::system::system_category());
      return failed(ec, "request::upload: cannot read " + path + ": " +
                            (why.empty() ? ec.message() : std::string(why)));
    };
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return cannot(errno, {});
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return cannot(errno, {});
    // Its size is its Content-Length: a pipe or a device has none (use body::callback).
    if (!S_ISREG(st.st_mode)) return cannot(EINVAL, "not a regular file");
    size_ = static_cast<std::uint64_t>(st.st_size);
    return {};
  }

  // On the writer thread. The size taken at open() is what the head announced: a file that
  // grew is sent up to it, one that shrank fails the request (a short body under a longer
  // Content-Length would leave the server waiting, or take the next request's bytes).
  piece read_file(std::span<char> into) {
    auto const want = static_cast<std::size_t>(
        std::min<std::uint64_t>(into.size(), size_ - std::min(size_, offset_)));
    if (want == 0) return {};
    for (;;) {
      auto const n = ::pread(fd_, into.data(), want, static_cast<off_t>(offset_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        boost::system::error_code ec(errno, boost::system::system_category());
        return failed(ec, "reading " + s_.source->path() + ": " + ec.message());
      }
      if (n == 0)
        return failed(make_error_code(std::errc::io_error),
                      s_.source->path() + " ended after " + std::to_string(offset_) + " of " +
                          std::to_string(size_) + " bytes (it changed while being sent)");
      offset_ += static_cast<std::uint64_t>(n);
      return {{}, static_cast<std::size_t>(n)};
    }
  }

  boost::asio::awaitable<piece> produce(std::span<char> into) {
    std::size_t n = 0;
    std::exception_ptr thrown;
    try {
      n = co_await s_.source->producer()(
          std::span<std::byte>(reinterpret_cast<std::byte*>(into.data()), into.size()));
    } catch (...) {
      thrown = std::current_exception();
    }
    if (thrown) {
      exception_ = thrown;
      fanout::error e = [&] {
        try {
          std::rethrow_exception(thrown);
        } catch (...) {
          return error_from_current_exception();
        }
      }();
      co_return failed(e.code(), "the body producer threw: " + e.message());
    }
    if (n > into.size())
      co_return failed(make_error_code(http_errc::invalid_request),
                       "the body producer returned " + std::to_string(n) + " for a piece of " +
                           std::to_string(into.size()) + " bytes");
    produced_ += n;
    auto const length = s_.source->length();
    if (length && (produced_ > *length || (n == 0 && produced_ < *length)))
      co_return failed(make_error_code(http_errc::invalid_request),
                       "the body producer gave " + std::to_string(produced_) +
                           " bytes, not the length it declared (" + std::to_string(*length) + ")");
    co_return piece{{}, n};
  }

  setup s_;
  // Where the pieces' coroutines run and `stop_` is emitted: one strand, so that a signal never
  // races the coroutine it stops, whatever the request's executor (a thread pool too).
  boost::asio::any_io_executor pieces_;
  std::shared_ptr<boost::asio::cancellation_signal> stop_ =
      std::make_shared<boost::asio::cancellation_signal>();
  int fd_ = -1;
  std::uint64_t size_ = 0, offset_ = 0, produced_ = 0;
  std::string what_;
  std::exception_ptr exception_;
};

}  // namespace fanout::detail

#endif
