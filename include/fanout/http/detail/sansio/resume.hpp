#ifndef FANOUT_HTTP_DETAIL_SANSIO_RESUME_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_RESUME_HPP

// Resuming a download, as pure decisions: which validator goes in `If-Range`, what a
// `Content-Range` says, and what to do with the `.part` given the answer (RFC 9110 §13.1.5,
// §14.2, §14.4, §15.3.7, §15.5.17). The file I/O is in http/detail/body/.

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>

#include <boost/beast/core/string.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fanout::detail {

/// What the first attempt's response said about the representation, kept beside the `.part`.
struct resume_validators {
  std::string etag;           ///< as received, quotes and all; empty: none
  std::string last_modified;  ///< as received; empty: none
};

/// The `If-Range` value for a resumed request, or nothing when the `.part` cannot be resumed
/// safely (and the download starts over). A strong ETag first; a weak one never matches in
/// If-Range (§13.1.5: "A client MUST NOT generate an If-Range header field containing an
/// entity tag that is marked as weak"), so then the Last-Modified date; neither: nothing, as a
/// Range without If-Range could append bytes of a different file.
inline std::optional<std::string> if_range_validator(const resume_validators& v) {
  auto const etag = trim_ows(v.etag);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') return std::string(etag);
  auto const date = trim_ows(v.last_modified);
  if (!date.empty() && parse_http_date(date, std::chrono::system_clock::now()))
    return std::string(date);
  return std::nullopt;
}

/// A `Content-Range` value (§14.4): `bytes first-last/complete`, `bytes first-last/*`, or the
/// unsatisfied form `bytes */complete` (then `satisfied` is false and only `complete` is set).
struct content_range {
  bool satisfied = true;
  std::uint64_t first = 0, last = 0;
  std::optional<std::uint64_t> complete;  ///< the representation's length, when known
};

inline std::optional<content_range> parse_content_range(std::string_view v) {
  v = trim_ows(v);
  auto number = [&](std::uint64_t& out) {
    auto const* end = v.data() + v.size();
    auto const [p, ec] = std::from_chars(v.data(), end, out);
    if (ec != std::errc() || p == v.data()) return false;
    v.remove_prefix(static_cast<std::size_t>(p - v.data()));
    return true;
  };
  auto literal = [&](char c) {
    if (v.empty() || v.front() != c) return false;
    v.remove_prefix(1);
    return true;
  };
  if (v.size() < 6 || !boost::beast::iequals(v.substr(0, 6), "bytes ")) return std::nullopt;
  v.remove_prefix(6);
  v = trim_ows(v);
  content_range r;
  if (literal('*')) {
    r.satisfied = false;
  } else {
    if (!number(r.first) || !literal('-') || !number(r.last) || r.last < r.first)
      return std::nullopt;
  }
  if (!literal('/')) return std::nullopt;
  if (literal('*')) {
    if (!r.satisfied) return std::nullopt;  // "bytes */*" says nothing
  } else {
    std::uint64_t n = 0;
    if (!number(n)) return std::nullopt;
    if (r.satisfied && r.last >= n) return std::nullopt;
    r.complete = n;
  }
  if (!v.empty()) return std::nullopt;
  return r;
}

/// What a download does with the response to its (possibly ranged) request.
enum class resume_action {
  restart,   ///< a 2xx with the whole body: the `.part` is written from its start
  append,    ///< 206 from where the `.part` ends: its body goes after it
  complete,  ///< 416 for exactly the `.part`'s length: it already holds the whole file
  fail,      ///< a reply that cannot be reconciled with the `.part`: `why` says how
  keep,      ///< not a body for the file (3xx, 4xx, 5xx): it stays in the response
};

struct resume_decision {
  resume_action action = resume_action::keep;
  std::string why;  ///< for `fail`
};

/// `have`: the `.part`'s length when the request carried `Range: bytes=have-` (with If-Range
/// `sent`); nothing when it asked for the whole body. `etag`: the response's ETag, checked
/// against an ETag the request sent in If-Range (a server that ignores If-Range and answers 206
/// for a changed file would otherwise splice two files).
inline resume_decision decide_resume(int status, std::optional<std::uint64_t> have,
                                     std::string_view sent,
                                     std::optional<std::string_view> content_range_value,
                                     std::optional<std::string_view> etag) {
  resume_decision d;
  if (status == 206 || status == 416) {
    if (!have) {
      if (status == 206) {
        d.action = resume_action::fail;
        d.why = "206 Partial Content for a request without Range";
      }
      return d;  // 416 without a Range: an error status like others, kept
    }
    auto const range =
        content_range_value ? parse_content_range(*content_range_value) : std::nullopt;
    d.action = resume_action::fail;
    if (!range) {
      d.why = std::to_string(status) + " with " +
              (content_range_value
                   ? "an unreadable Content-Range (" + std::string(*content_range_value) + ")"
                   : std::string("no Content-Range"));
      return d;
    }
    if (status == 416) {
      if (!range->satisfied && range->complete == *have) {
        d.action = resume_action::complete;
        return d;
      }
      d.why = "416 Range Not Satisfiable: the .part has " + std::to_string(*have) +
              " bytes, the file on the server " +
              (range->complete ? std::to_string(*range->complete) + " bytes"
                               : std::string("an unknown length"));
      return d;
    }
    if (!range->satisfied || range->first != *have) {
      d.why = "206 for bytes " + std::to_string(range->first) + "- when the .part has " +
              std::to_string(*have);
      return d;
    }
    auto const sent_etag = trim_ows(sent);
    if (!sent_etag.empty() && sent_etag.front() == '"' && etag && trim_ows(*etag) != sent_etag) {
      d.why = "the file changed on the server (ETag " + std::string(sent_etag) + ", now " +
              std::string(trim_ows(*etag)) + ") but it answered 206";
      return d;
    }
    d.action = resume_action::append;
    return d;
  }
  // If-Range did not match (the file changed), or the server ignores ranges: the whole body.
  if (status >= 200 && status < 300) d.action = resume_action::restart;
  return d;
}

}  // namespace fanout::detail

#endif
