#ifndef FANOUT_HTTP_DETAIL_BODY_BODY_TARGET_HPP
#define FANOUT_HTTP_DETAIL_BODY_BODY_TARGET_HPP

// Where a request's body goes when it is not kept in memory: the session's side of the
// transport's `exchange_sink`. It decides which response's body it takes (`take`), undoes the
// content coding as the pieces arrive (body_decoder), and hands the decoded bytes to the
// caller's callback or to the download's file (through the session's writer thread), one
// bounded piece at a time: the transport reads nothing more until a piece is done with.

#include <fanout/config.hpp>
#include <fanout/core/error.hpp>
#include <fanout/http/body.hpp>
#include <fanout/http/detail/body/file_writer.hpp>
#include <fanout/http/detail/body/writer_thread.hpp>
#include <fanout/http/detail/sansio/content_coding.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>
#include <fanout/http/detail/sansio/resume.hpp>
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

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace fanout::detail {

class body_target final : public exchange_sink {
 public:
  struct setup {
    const body_sink* sink = nullptr;  ///< callback or file; outlives the target
    /// The request's coroutine's executor: callbacks run there.
    boost::asio::any_io_executor executor;
    /// Where file I/O runs (the session's writer thread); only for file sinks.
    boost::asio::any_io_executor writer;
    std::uint64_t limit = 0;  ///< max_download_bytes, decoded and as received; 0: none
    /// The session repeats requests answered 429/502/503/504: their bodies are not taken
    /// while an attempt remains (they stay in memory, and go to the callback if final).
    bool retries_statuses = false;
    bool follows_redirects = true;  ///< 3xx with a Location: not taken
  };

  explicit body_target(setup s)
      : s_(std::move(s)),
        pieces_(boost::asio::make_strand(s_.executor)),
        limit_(s_.limit ? s_.limit : UINT64_MAX) {
    if (s_.sink->type() == body_sink::kind::file)
      file_.emplace(s_.sink->path(), s_.sink->options());
  }

  // ---- before the exchange (the session's coroutine) ----

  file_writer* file() noexcept { return file_ ? &*file_ : nullptr; }

  /// What a file sink found on disk before an attempt (see `look_on_disk`).
  struct on_disk {
    bool target_exists = false;     ///< the path is there (a download then needs `overwrite`)
    std::optional<part_file> part;  ///< a `.part` with its sidecar, to resume
  };
  /// A file sink: looks at the path and its `.part` on the writer thread, as a stat may wait
  /// on a slow disk or a network file system. Then `found` says what is there.
  boost::asio::awaitable<void> look_on_disk() { co_await on_writer(file_step::survey); }
  const on_disk& found() const noexcept { return found_; }

  /// The next exchange asks for the body from `have` on, with `validator` in If-Range.
  void resuming(std::uint64_t have, std::string validator) {
    have_ = have;
    if_range_ = std::move(validator);
  }
  /// Back to before any `take`, for another attempt (never after a delivery: see `delivered`).
  void new_attempt() {
    decoder_.reset();
    staged_.clear();
    validators_ = {};
    have_.reset();
    if_range_.clear();
    error_ = {};
    what_.clear();
    exception_ = nullptr;
    decode_ = took_ = append_ = complete_ = false;
  }
  /// True when the final response's body went to the sink and the file (if any) is in place.
  bool completed() const noexcept { return completed_; }
  /// The next exchange is this request's last attempt (its retryable statuses are taken).
  void last_attempt(bool last) noexcept { last_attempt_ = last; }
  /// Decode the body the server codes with `Content-Encoding` (the session asked for it).
  void decode(bool on) noexcept { decode_ = on; }

  // ---- exchange_sink (on the transport's executor, while the session's coroutine waits) ----

  bool take(const response_block& head) override {
    auto const status = head.status();
    if (s_.follows_redirects && status >= 300 && status < 400 && head.find("location"))
      return false;
    if (s_.retries_statuses && !last_attempt_ && is_retryable_status(status)) return false;
    try {
      if (file_) {
        auto const d =
            decide_resume(status, have_, if_range_, head.find("content-range"), head.find("etag"));
        switch (d.action) {
          case resume_action::keep: return false;
          case resume_action::fail:
            fail(make_error_code(http_errc::resume_failed), d.why);
            took_ = true;
            return true;  // its body is not read: the exchange fails at its first piece
          case resume_action::complete:
            complete_ = true;  // its body (about the 416) is read and dropped
            took_ = true;
            return true;
          case resume_action::append: append_ = true; break;
          case resume_action::restart:
            validators_.etag = head.find("etag").value_or("");
            validators_.last_modified = head.find("last-modified").value_or("");
            break;
        }
      }
      if (auto const coding = head.find("content-encoding"); decode_ && coding) {
        auto const plan = plan_content_codings(*coding);
        if (!plan.unsupported && !plan.undo.empty()) decoder_.emplace(plan, limit_);
      }
    } catch (...) {  // an allocation: the exchange fails with it at the first piece
      fail(make_error_code(std::errc::not_enough_memory), "out of memory starting the body");
    }
    took_ = true;
    return true;
  }

  void async_write(
      std::string_view piece,
      boost::asio::any_completion_handler<void(boost::system::error_code)> done) override {
    // Bound to a signal of ours: `cancel` reaches the callback's own waits.
    boost::asio::co_spawn(
        pieces_, write_piece(piece),
        boost::asio::bind_cancellation_slot(
            stop_->slot(),
            [done = std::move(done)](std::exception_ptr, boost::system::error_code ec) mutable {
              auto const ex = boost::asio::get_associated_executor(done);
              boost::asio::dispatch(ex, [done = std::move(done), ec]() mutable { done(ec); });
            }));
  }

  void cancel() noexcept override {
    try {
      // Emitted where the piece's coroutine runs; the signal outlives us if need be.
      boost::asio::post(pieces_,
                        [stop = stop_] { stop->emit(boost::asio::cancellation_type::terminal); });
    } catch (...) {  // out of memory: the piece ends when it ends
    }
  }

  // ---- after the exchange (the session's coroutine) ----

  bool took() const noexcept { return took_; }
  /// Whether any byte reached the caller or the file: then the request is not repeated.
  bool delivered() const noexcept { return written_ > 0 || (file_ && file_->is_open()); }
  bool decoded() const noexcept { return decoder_.has_value(); }
  std::uint64_t written() const noexcept { return written_; }
  const std::string& what() const noexcept { return what_; }
  std::exception_ptr exception() const noexcept { return exception_; }

  /// The exchange ended well: the rest of the decoded body goes out, the file is renamed into
  /// place. Fails as `async_write` does.
  boost::asio::awaitable<boost::system::error_code> finish() {
    if (error_) co_return error_;
    if (decoder_) {
      decoder_->finish();
      auto ec = co_await drain();
      if (ec) co_return ec;
    }
    if (!file_) {
      completed_ = true;
      co_return boost::system::error_code{};
    }
    auto ec = co_await on_writer(file_step::commit);
    if (ec) co_return fail(ec, what_);
    completed_ = true;
    co_return ec;
  }

  /// True when `take` declines `status` only because the session may repeat the request.
  bool kept_for_retry(int status) const noexcept {
    return s_.retries_statuses && !last_attempt_ && is_retryable_status(status);
  }

  /// A callback sink's final response whose body stayed in memory (`take` declined it): the
  /// body goes to the callback now, as it would have piece by piece. At most once.
  boost::asio::awaitable<boost::system::error_code> deliver_kept(std::string_view body) {
    if (file_ || body.empty() || kept_delivered_) co_return boost::system::error_code{};
    kept_delivered_ = true;
    co_return co_await emit(body);
  }

 private:
  boost::system::error_code fail(boost::system::error_code ec, std::string what) {
    if (!error_) {
      error_ = ec;
      what_ = std::move(what);
    }
    return error_;
  }

  boost::asio::awaitable<boost::system::error_code> write_piece(std::string_view piece) {
    if (error_) co_return error_;
    if (complete_) co_return boost::system::error_code{};
    if (!decoder_) co_return co_await emit(piece);
    decoder_->feed(piece);
    co_return co_await drain();
  }

  // Decoded bytes out of the decoder until it needs input (or, after finish, is done).
  boost::asio::awaitable<boost::system::error_code> drain() {
    if (!room_) room_ = std::make_unique<char[]>(room_size);
    for (;;) {
      auto const s = decoder_->read(room_.get(), room_size);
      if (s.ec == http_errc::body_too_large) co_return fail(s.ec, over_limit());
      if (s.ec)
        co_return fail(s.ec,
                       "cannot decode the body (truncated, corrupt, or followed by "
                       "other bytes)");
      if (s.size == 0) co_return boost::system::error_code{};
      auto ec = co_await emit(std::string_view(room_.get(), s.size));
      if (ec) co_return ec;
    }
  }

  // Bytes of the body as the caller sees them: to the callback in slices of at most
  // `room_size`, or staged for the file and written in `stage_size` blocks.
  boost::asio::awaitable<boost::system::error_code> emit(std::string_view bytes) {
    if (bytes.size() > limit_ - std::min(limit_, written_))
      co_return fail(make_error_code(http_errc::body_too_large), over_limit());
    if (!file_) {
      while (!bytes.empty()) {
        auto const slice = bytes.substr(0, room_size);
        bytes.remove_prefix(slice.size());
        written_ += slice.size();
        std::exception_ptr thrown;
        try {
          co_await s_.sink->on_piece()(std::span<const std::byte>(
              reinterpret_cast<const std::byte*>(slice.data()), slice.size()));
        } catch (...) {
          thrown = std::current_exception();
        }
        if (thrown) {
          exception_ = thrown;
          auto e = error_from_current_exception_of(thrown);
          co_return fail(e.code(), "the body callback threw: " + e.message());
        }
      }
      co_return boost::system::error_code{};
    }
    written_ += bytes.size();
    // A block as large as a staged one goes as it is (it stays valid until this completes):
    // one copy fewer; smaller pieces (decoded ones, a slow link's) are gathered first.
    std::string_view direct;
    if (staged_.empty() && bytes.size() >= stage_size)
      direct = bytes;
    else
      staged_.append(bytes);
    if (direct.empty() && staged_.size() < stage_size) co_return boost::system::error_code{};
    auto ec = co_await on_writer(file_step::write, direct);
    if (ec) co_return fail(ec, what_);
    co_return ec;
  }

  // On the writer thread: opens the .part on first use, writes what is staged, then `more`.
  boost::system::error_code flush_now(std::string_view more = {}) {
    if (!file_->is_open())
      if (auto ec = file_->open(append_, validators_, what_)) return ec;
    auto ec = file_->write(staged_, what_);
    staged_.clear();
    if (!ec && !more.empty()) ec = file_->write(more, what_);
    return ec;
  }

  // What runs on the writer thread: what is on disk looked at, the staged bytes (then
  // `direct`) out, or, at the end, the rest out and the file into place. One function, not a
  // lambda per use: each distinct callable instantiates the hop's machinery again.
  enum class file_step : unsigned char { survey, write, commit };
  boost::system::error_code run_file_step(file_step step, std::string_view direct) {
    if (step == file_step::survey) {
      found_ = {.target_exists = file_->target_exists(), .part = file_->find_part()};
      return {};
    }
    if (step == file_step::write) return flush_now(direct);
    // 416 for the .part's length: it already holds everything.
    if (!complete_)
      if (auto e = flush_now()) return e;
    return file_->commit(what_);
  }
  boost::asio::awaitable<boost::system::error_code> on_writer(file_step step,
                                                              std::string_view direct = {}) {
    return async_run_on_writer<boost::system::error_code>(
        s_.writer, [this, step, direct] { return run_file_step(step, direct); });
  }

  static fanout::error error_from_current_exception_of(std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (...) {
      return error_from_current_exception();
    }
  }

  std::string over_limit() const {
    return "body larger than max_download_bytes (" + std::to_string(limit_) + ")";
  }

  static constexpr std::size_t room_size = 64 << 10;    // a callback's largest piece
  static constexpr std::size_t stage_size = 256 << 10;  // a file's write block

  setup s_;
  // Where the pieces' coroutines run and `stop_` is emitted: one strand, so that a signal never
  // races the coroutine it stops, whatever the request's executor (a thread pool too).
  boost::asio::any_io_executor pieces_;
  std::shared_ptr<boost::asio::cancellation_signal> stop_ =
      std::make_shared<boost::asio::cancellation_signal>();
  std::uint64_t limit_;
  std::optional<file_writer> file_;
  on_disk found_;
  std::optional<body_decoder> decoder_;
  std::unique_ptr<char[]> room_;
  std::string staged_;
  resume_validators validators_;
  std::optional<std::uint64_t> have_;
  std::string if_range_;
  std::uint64_t written_ = 0;
  boost::system::error_code error_;
  std::string what_;
  std::exception_ptr exception_;
  bool last_attempt_ = true;
  bool decode_ = false;
  bool took_ = false;
  bool append_ = false;
  bool complete_ = false;
  bool completed_ = false;
  bool kept_delivered_ = false;
};

}  // namespace fanout::detail

#endif
