#ifndef FANOUT_HTTP_DETAIL_SANSIO_CONTENT_CODING_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_CONTENT_CODING_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>
#include <fanout/http/error.hpp>

#include <boost/beast/core/string.hpp>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fanout::detail {

/// One coding of a `Content-Encoding` list.
enum class content_coding { identity, gzip, deflate, unsupported };

/// "gzip"/"x-gzip", "deflate", "identity"/"none" or empty (identity), case-insensitive;
/// anything else (br, zstd) is unsupported.
inline content_coding content_coding_of(std::string_view encoding) noexcept {
  if (encoding.empty() || boost::beast::iequals(encoding, "identity") ||
      boost::beast::iequals(encoding, "none"))
    return content_coding::identity;
  if (boost::beast::iequals(encoding, "gzip") || boost::beast::iequals(encoding, "x-gzip"))
    return content_coding::gzip;
  if (boost::beast::iequals(encoding, "deflate")) return content_coding::deflate;
  return content_coding::unsupported;
}

/// A `Content-Encoding` value as the codings to undo, first to undo first: the reverse of the
/// order in which they were applied (RFC 9110 §8.4). identity/none are dropped (no-ops);
/// `unsupported` is true when any coding is one we cannot undo, and then the body is to be
/// left as it is (with its header), never half-decoded.
struct coding_plan {
  std::vector<content_coding> undo;
  bool unsupported = false;
};

inline coding_plan plan_content_codings(std::string_view value) {
  coding_plan plan;
  for_each_list_element(value, [&](std::string_view item) {
    auto const c = content_coding_of(item);
    if (c == content_coding::unsupported) plan.unsupported = true;
    if (c == content_coding::gzip || c == content_coding::deflate) plan.undo.push_back(c);
  });
  std::reverse(plan.undo.begin(), plan.undo.end());
  return plan;
}

/// Undoes a body's codings incrementally: bytes go in as they arrive (`feed`), decoded bytes
/// come out into the caller's buffer (`read`), at most as many as it has room for. So a
/// download decodes piece by piece with a bounded footprint however large the body, or however
/// much a small bomb would expand: each stage between codings holds at most 16 KiB.
///
/// Every gzip member is decoded (RFC 1952 §2.2), across any split of the input; "deflate" is
/// zlib-wrapped, as the RFC says, or the raw deflate some servers send, as browsers and curl
/// accept (told apart by the first two bytes). Errors: `http_errc::body_too_large` once any
/// stage's output would exceed `limit`; `http_errc::decompression` for a truncated stream, a
/// bad checksum, or bytes after the stream other than another gzip member: a body that was not
/// decoded whole is never a shorter success.
class body_decoder {
 public:
  struct step {
    std::size_t size = 0;  ///< decoded bytes written to the buffer
    bool done = false;     ///< after `finish`: everything is decoded (size is then 0)
    boost::system::error_code ec;
    // size 0, not done, no ec: the input given so far is used up; `feed` more.
  };

  /// `plan` must not be `unsupported`; an empty plan passes bytes through (still bounded).
  body_decoder(const coding_plan& plan, std::uint64_t limit) : limit_(limit) {
    stages_.reserve(plan.undo.size());
    for (auto const c : plan.undo) stages_.emplace_back(c);
    if (stages_.size() > 1) between_.resize(stages_.size() - 1);
  }

  /// The next input; it must stay valid until `read` has used it up (returned size 0, not done).
  void feed(std::string_view in) noexcept {
    auto const* p = reinterpret_cast<const unsigned char*>(in.data());
    if (stages_.empty()) {
      pass_ = p;
      pass_left_ = in.size();
    } else {
      stages_.front().give(p, in.size());
    }
  }
  /// No input follows what was fed.
  void finish() noexcept {
    if (stages_.empty())
      input_ended_ = true;
    else
      stages_.front().end_input();
  }

  /// Decodes into `out[0, n)`, `n` > 0. A step with an error has no bytes: what exceeds the
  /// limit is never handed out.
  step read(char* out, std::size_t n) {
    auto* o = reinterpret_cast<unsigned char*>(out);
    if (stages_.empty()) {
      step s;
      s.size = std::min(n, pass_left_);
      std::copy_n(pass_, s.size, o);
      pass_ += s.size;
      pass_left_ -= s.size;
      s.done = s.size == 0 && input_ended_;
      if (s.size > limit_ - std::min(limit_, passed_)) return too_large();
      passed_ += s.size;
      return s;
    }
    return pull(stages_.size() - 1, o, n);
  }

 private:
  // One coding being undone: a z_stream and the input window it reads.
  class inflate_stage {
   public:
    explicit inflate_stage(content_coding c) : gzip_(c == content_coding::gzip) {}
    inflate_stage(inflate_stage&& o) noexcept : gzip_(o.gzip_) {
      // Only moved while the decoder is built: before any input, before inflateInit.
    }
    inflate_stage(const inflate_stage&) = delete;
    inflate_stage& operator=(const inflate_stage&) = delete;
    inflate_stage& operator=(inflate_stage&&) = delete;
    ~inflate_stage() {
      if (initialized_) inflateEnd(&zs_);
    }

    void give(const unsigned char* p, std::size_t n) noexcept {
      next_ = p;
      left_ = n;
    }
    void end_input() noexcept { input_ended_ = true; }
    std::uint64_t produced = 0;

    step produce(unsigned char* out, std::size_t n) {
      step s;
      if (!initialized_) {
        // deflate: a zlib stream starts with CMF 0x?8 and a header checksum; else raw.
        while (!gzip_ && peek_n_ < 2 && left_ > 0) {
          peek_[peek_n_++] = *next_++;
          --left_;
        }
        if (!gzip_ && peek_n_ < 2 && !input_ended_) return s;
        bool const zlib =
            peek_n_ == 2 && (peek_[0] & 0x0f) == 8 && ((peek_[0] << 8) | peek_[1]) % 31 == 0;
        // 15 + 32: zlib or gzip header, detected; -15: raw deflate.
        if (inflateInit2(&zs_, gzip_ || zlib ? 15 + 32 : -15) != Z_OK) return broken();
        initialized_ = true;
        zs_.next_in = peek_;
        zs_.avail_in = peek_n_;
      }
      for (;;) {
        top_up();
        if (member_ended_) {
          if (zs_.avail_in == 0) {
            s.done = input_ended_;
            return s;
          }
          // More after the stream: only another gzip member may follow (gzip header only).
          if (first_byte_ != 0x1f || inflateReset2(&zs_, 15 + 16) != Z_OK) return broken();
          member_ended_ = false;
        }
        if (!seen_input_ && zs_.avail_in) {
          seen_input_ = true;
          first_byte_ = zs_.next_in[0];
        }
        zs_.next_out = out;
        zs_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
        auto const room = zs_.avail_out;
        int const rc = inflate(&zs_, Z_NO_FLUSH);
        s.size = room - zs_.avail_out;
        if (rc == Z_STREAM_END) member_ended_ = true;
        if (s.size) return s;
        if (rc == Z_STREAM_END || rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && zs_.avail_in == 0 && left_ != 0) continue;  // a window > uInt
        // No progress: more input is needed; none coming is a truncated stream.
        if (rc == Z_BUF_ERROR && zs_.avail_in == 0 && left_ == 0)
          return input_ended_ ? broken() : s;
        return broken();
      }
    }

   private:
    static step broken() {
      step s;
      s.ec = make_error_code(http_errc::decompression);
      return s;
    }
    // The window may exceed uInt: given to zlib in pieces.
    void top_up() noexcept {
      if (zs_.avail_in != 0 || left_ == 0) return;
      auto const piece = std::min<std::size_t>(left_, std::numeric_limits<uInt>::max());
      zs_.next_in = const_cast<Bytef*>(next_);
      zs_.avail_in = static_cast<uInt>(piece);
      next_ += piece;
      left_ -= piece;
    }

    z_stream zs_{};
    const unsigned char* next_ = nullptr;
    std::size_t left_ = 0;
    unsigned char peek_[2]{};
    unsigned peek_n_ = 0;
    unsigned char first_byte_ = 0;
    bool gzip_;
    bool initialized_ = false;
    bool input_ended_ = false;
    bool member_ended_ = false;
    bool seen_input_ = false;
  };

  static step too_large() {
    step s;
    s.ec = make_error_code(http_errc::body_too_large);
    return s;
  }

  // Output of stage k, pulling stage k-1's output through a bounded buffer.
  step pull(std::size_t k, unsigned char* out, std::size_t n) {
    auto& stage = stages_[k];
    for (;;) {
      auto s = stage.produce(out, n);
      if (s.size > limit_ - std::min(limit_, stage.produced)) return too_large();
      stage.produced += s.size;
      if (s.size || s.done || s.ec || k == 0) return s;
      auto& buf = between_[k - 1];
      auto const up = pull(k - 1, buf.data(), buf.size());
      if (up.ec || (up.size == 0 && !up.done)) return up;
      if (up.done)
        stage.end_input();
      else
        stage.give(buf.data(), up.size);
    }
  }

  std::uint64_t limit_;
  std::vector<inflate_stage> stages_;  // first to undo first
  std::vector<std::array<unsigned char, 16 << 10>> between_;
  const unsigned char* pass_ = nullptr;  // no codings: the input, passed through
  std::size_t pass_left_ = 0;
  std::uint64_t passed_ = 0;
  bool input_ended_ = false;
};

/// Undoes every coding of `plan` (which must not be `unsupported`) on `body`, whole, handing
/// the decoded bytes to `sink(std::string_view)` in pieces. Bounded by `limit` at every layer.
template <class Sink>
boost::system::error_code decode_content(const coding_plan& plan, std::string_view body,
                                         std::uint64_t limit, Sink&& sink) {
  body_decoder decoder(plan, limit);
  decoder.feed(body);
  decoder.finish();
  char buf[16 << 10];
  for (;;) {
    auto const s = decoder.read(buf, sizeof buf);
    if (s.ec) return s.ec;
    if (s.done) return {};
    if (s.size) sink(std::string_view(buf, s.size));
  }
}

/// `decode_content` into a string (cleared first).
inline boost::system::error_code decode_content(const coding_plan& plan, std::string_view body,
                                                std::size_t limit, std::string& out) {
  out.clear();
  return decode_content(plan, body, limit, [&](std::string_view piece) { out.append(piece); });
}

/// Undoes the `Content-Encoding` of the response in `block`, replacing it with a block whose
/// body is decoded and which no longer has `Content-Encoding` or `Content-Length` fields. Bounded
/// by `limit` bytes of decoded body. A response without codings, or with one fanout cannot undo,
/// is left as it came, header and all. On failure `block` is unchanged and `what` says why:
/// `http_errc::body_too_large`, `http_errc::decompression` (truncated, corrupt, or followed by
/// other bytes: never a shorter success), or `not_enough_memory`.
inline boost::system::error_code decode_response(block_ptr& block, std::size_t limit,
                                                 std::string& what) {
  auto const encoding = block->find("content-encoding");
  if (!encoding) return {};
  auto const plan = plan_content_codings(*encoding);
  if (plan.unsupported) return {};
  response_builder decoded;
  boost::system::error_code ec;
  try {
    decoded.begin_copy(*block, {"content-encoding", "content-length"}, limit);
    ec = decode_content(plan, block->body(), limit,
                        [&](std::string_view piece) { decoded.append_body(piece); });
  } catch (const std::bad_alloc&) {
    ec = make_error_code(std::errc::not_enough_memory);
  }
  if (ec == http_errc::body_too_large)
    what = "decompressed body larger than max_body_bytes (" + std::to_string(limit) + ")";
  else if (ec == std::errc::not_enough_memory)
    what = "out of memory decoding the " + std::string(*encoding) + " body";
  else if (ec)
    what = "cannot decode the " + std::string(*encoding) +
           " body (truncated, corrupt, or followed by other bytes)";
  if (!ec) block = decoded.finish();
  return ec;
}

}  // namespace fanout::detail

#endif
