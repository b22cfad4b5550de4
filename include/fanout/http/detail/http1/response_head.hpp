#ifndef FANOUT_HTTP_DETAIL_HTTP1_RESPONSE_HEAD_HPP
#define FANOUT_HTTP_DETAIL_HTTP1_RESPONSE_HEAD_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>

#include <boost/beast/core/string.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace fanout::detail {

/// What the bytes received so far say about a response's head (status line and fields).
struct response_head {
  enum class state : unsigned char {
    need_more,  ///< no blank line yet, and nothing wrong so far
    complete,   ///< the head ends at `size`
    invalid,    ///< cannot be an HTTP/1.x response head: `error` says why
  };
  state result = state::need_more;
  std::size_t size = 0;      ///< complete: the head's bytes in the input, blank line included
  int status = 0;            ///< complete: the status code
  bool rewritten = false;    ///< complete: the head to parse is in `canonical`, not the input
  bool close_after = false;  ///< complete: the connection must not carry another message
  const char* error = "";    ///< invalid: why
};

namespace head_detail {

inline bool is_ws(char c) noexcept {
  return c == ' ' || c == '\t';
}

inline bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// The lines of a head: each without its LF and the CR before it.
struct line_reader {
  std::string_view in;
  std::size_t pos = 0;
  bool bare_lf = false;  // some line ended with LF alone

  // The next line, or false when no LF follows.
  bool next(std::string_view& line) noexcept {
    auto const lf = in.find('\n', pos);
    if (lf == std::string_view::npos) return false;
    line = in.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    else
      bare_lf = true;
    pos = lf + 1;
    return true;
  }
};

// Calls f(token) for each element of a comma-separated list, without parameters (";...").
template <class F>
void for_each_token(std::string_view list, F&& f) {
  for_each_list_element(list, [&](std::string_view element) {
    if (auto const t = trim_ows(element.substr(0, element.find(';'))); !t.empty()) f(t);
  });
}

}  // namespace head_detail

/// Finds the head at the start of `in` and decides its framing, without I/O.
///
/// Beast's parser takes CRLF line endings and RFC 7230's framing rules; servers send more than
/// that, so the head is first checked and, where needed, rewritten into `canonical` (when
/// `rewritten`), which is then what the parser reads:
/// - a bare LF ends a line as CRLF does (RFC 9112 §2.2);
/// - a status line without a reason phrase (with or without the SP before it) gets an empty one;
/// - an obs-fold in a field value becomes one SP (RFC 9112 §5.2);
/// - Transfer-Encoding (RFC 9112 §6.1, §6.3): `identity` elements are ignored (a no-op, as
///   curl does); what remains must be exactly `chunked`, anything else (another coding, chunked
///   twice, chunked not last) is invalid: fanout decodes no other transfer coding and will not
///   hand back a body still in one. With a Content-Length, the Transfer-Encoding wins: the
///   Content-Length is dropped and `close_after` set;
/// - a response without a body (to HEAD, 1xx, 204, 304: RFC 9112 §6.3 rule 1) keeps no
///   Transfer-Encoding, whatever it says.
/// Bytes that cannot begin a status line ("HTTP/" DIGIT "." DIGIT SP) are invalid as soon as
/// they arrive, without waiting for a line end. `head_request`: the request was a HEAD.
inline response_head scan_response_head(std::string_view in, bool head_request,
                                        std::string& canonical) {
  using namespace head_detail;
  response_head r;
  auto invalid = [&](const char* why) {
    r.result = response_head::state::invalid;
    r.error = why;
    return r;
  };

  // The status line's fixed start, checked on every byte received.
  constexpr std::string_view http_slash = "HTTP/";
  auto const start = in.substr(0, 9);
  for (std::size_t i = 0; i < start.size(); ++i) {
    bool const fits = i < 5    ? start[i] == http_slash[i]
                      : i == 6 ? start[i] == '.'
                      : i == 8 ? start[i] == ' '
                               : is_digit(start[i]);
    if (!fits) return invalid("not an HTTP/1.x status line");
  }

  line_reader lines{in};
  std::string_view status_line;
  if (!lines.next(status_line)) return r;
  // HTTP-version SP 3DIGIT [SP reason-phrase]: the reason may be absent, and its SP too.
  if (status_line.size() < 12 || !is_digit(status_line[9]) || !is_digit(status_line[10]) ||
      !is_digit(status_line[11]) || (status_line.size() > 12 && status_line[12] != ' '))
    return invalid("bad status code");
  bool const no_reason = status_line.size() == 12;
  int const status =
      (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  bool const no_body = head_request || status / 100 == 1 || status == 204 || status == 304;

  // The fields: find the blank line, note what needs rewriting.
  std::size_t te_fields = 0, cl_fields = 0, chunked = 0, other_codings = 0, identities = 0;
  bool folded = false;
  std::string_view line;
  bool first = true;
  for (;;) {
    if (!lines.next(line)) return r;
    if (line.empty()) break;
    if (is_ws(line.front())) {
      // RFC 9112 §2.2: whitespace before the first field could hide one; refuse it.
      if (first) return invalid("whitespace before the first header field");
      folded = true;
      continue;
    }
    first = false;
    auto const colon = line.find(':');
    if (colon == std::string_view::npos) return invalid("header field without a colon");
    auto const name = line.substr(0, colon);
    if (boost::beast::iequals(name, "transfer-encoding")) {
      ++te_fields;
      for_each_token(line.substr(colon + 1), [&](std::string_view coding) {
        if (boost::beast::iequals(coding, "chunked"))
          ++chunked;
        else if (boost::beast::iequals(coding, "identity"))
          ++identities;
        else
          ++other_codings;  // also what makes chunked not the last coding
      });
    } else if (boost::beast::iequals(name, "content-length")) {
      ++cl_fields;
    }
  }
  r.size = lines.pos;
  r.status = status;

  bool drop_te = false, drop_cl = false, canonical_te = false;
  if (te_fields > 0) {
    if (no_body) {
      drop_te = true;
    } else {
      if (chunked > 1) return invalid("chunked transfer coding applied more than once");
      if (other_codings > 0 || chunked == 0)
        return invalid("unsupported transfer coding (fanout decodes chunked only)");
      // One field saying just "chunked" is what the parser understands; anything else
      // (identity elements, several fields) is rewritten to that.
      canonical_te = te_fields > 1 || identities > 0;
      if (cl_fields > 0) {
        drop_cl = true;
        r.close_after = true;  // RFC 9112 §6.3 rule 3: a possible smuggling attempt
      }
    }
  }
  r.rewritten = lines.bare_lf || no_reason || folded || drop_te || drop_cl || canonical_te;
  r.result = response_head::state::complete;
  if (!r.rewritten) return r;

  // Write the head the parser reads: CRLF, one line per field, the framing fields decided.
  canonical.clear();
  canonical.reserve(r.size + 32);
  canonical.append(status_line);
  if (no_reason) canonical.push_back(' ');
  line_reader again{in.substr(0, r.size)};
  again.next(line);   // the status line
  bool keep = false;  // whether the field being written is kept
  bool te_written = false;
  while (again.next(line) && !line.empty()) {
    if (is_ws(line.front())) {
      if (keep) canonical.append(" ").append(trim_ows(line));
      continue;
    }
    auto const name = line.substr(0, line.find(':'));
    bool const is_te = boost::beast::iequals(name, "transfer-encoding");
    bool const is_cl = boost::beast::iequals(name, "content-length");
    keep = !(is_te && (drop_te || canonical_te)) && !(is_cl && drop_cl);
    canonical.append("\r\n");
    if (is_te && canonical_te && !te_written) {
      canonical.append("Transfer-Encoding: chunked");
      te_written = true;
    } else if (keep) {
      // The value's trailing whitespace goes, so that a fold joins with one SP.
      canonical.append(line.substr(0, line.find_last_not_of(" \t") + 1));
    } else {
      canonical.resize(canonical.size() - 2);
    }
  }
  canonical.append("\r\n\r\n");
  return r;
}

}  // namespace fanout::detail

#endif
