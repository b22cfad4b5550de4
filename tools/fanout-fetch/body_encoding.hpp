#ifndef FANOUT_FETCH_BODY_ENCODING_HPP
#define FANOUT_FETCH_BODY_ENCODING_HPP

// How `--body` puts a response body into a JSON line: parsed JSON, UTF-8 text, or base64.
// Pure functions, no I/O: table-tested in tests/tools/fanout_fetch_logic_test.cpp.

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fetch_tool {

/// What `--body` asked for: `auto_` picks by content type and content, the others insist.
enum class body_mode { auto_, json, text, base64 };

/// How a body went into its JSON line: the `"body_encoding"` value.
enum class body_encoding { json, text, base64 };

inline const char* name(body_encoding e) noexcept {
  switch (e) {
    case body_encoding::json: return "json";
    case body_encoding::text: return "text";
    case body_encoding::base64: return "base64";
  }
  return "base64";
}

/// "auto", "json", "text", "base64", or nullopt for any other word.
inline std::optional<body_mode> parse_body_mode(std::string_view word) {
  if (word == "auto") return body_mode::auto_;
  if (word == "json") return body_mode::json;
  if (word == "text") return body_mode::text;
  if (word == "base64") return body_mode::base64;
  return std::nullopt;
}

/// True when `s` is well-formed UTF-8 (RFC 3629, Unicode table 3-7): no overlong forms (C0, C1,
/// E0 80..9F, F0 80..8F), no surrogates (ED A0..BF), nothing above U+10FFFF (F4 90.., F5..FF),
/// no stray continuation bytes and no sequence cut short.
inline bool is_valid_utf8(std::string_view s) noexcept {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char const c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte; later ones are 80..BF
    if (in(c, 0xC2, 0xDF)) {
      length = 2;
    } else if (in(c, 0xE0, 0xEF)) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;  // below: overlong
      if (c == 0xED) hi = 0x9F;  // above: surrogates U+D800..DFFF
    } else if (in(c, 0xF0, 0xF4)) {
      length = 4;
      if (c == 0xF0) lo = 0x90;  // below: overlong
      if (c == 0xF4) hi = 0x8F;  // above: beyond U+10FFFF
    } else {
      return false;  // a continuation byte first, C0/C1 (overlong) or F5..FF
    }
    if (s.size() - i < length || !in(byte(i + 1), lo, hi)) return false;
    for (std::size_t k = 2; k < length; ++k)
      if (!in(byte(i + k), 0x80, 0xBF)) return false;
    i += length;
  }
  return true;
}

/// `bytes` in standard base64 (RFC 4648 section 4, with padding, no line breaks), by
/// OpenSSL's EVP_EncodeBlock, in blocks that keep its `int` lengths small.
inline std::string base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4 + 1);
  constexpr std::size_t block = 3 << 16;  // a multiple of 3: no padding but at the very end
  for (std::size_t at = 0; at < bytes.size(); at += block) {
    auto const n = std::min(block, bytes.size() - at);
    auto const old = out.size();
    out.resize(old + (n + 2) / 3 * 4 + 1);  // + the NUL EVP_EncodeBlock writes
    auto const written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + old),
                                         reinterpret_cast<const unsigned char*>(bytes.data() + at),
                                         static_cast<int>(n));
    out.resize(old + static_cast<std::size_t>(written));
  }
  return out;
}

/// True for a JSON media type: `application/json`, `text/json`, or any `+json` suffix
/// (`application/problem+json`), parameters ignored, case-insensitive.
inline bool is_json_media_type(std::string_view content_type) noexcept {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  auto slash = type.find('/');
  if (slash == std::string_view::npos) return false;
  auto subtype = type.substr(slash + 1);
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  auto ends_with = [&](std::string_view tail) {  // tail is lower case
    return subtype.size() >= tail.size() &&
           std::equal(tail.begin(), tail.end(), subtype.end() - static_cast<long>(tail.size()),
                      [&](char a, char b) { return a == lower(b); });
  };
  return ends_with("+json") || (subtype.size() == 4 && ends_with("json"));
}

/// A body as it goes into a JSON line: the value of `"body"` and of `"body_encoding"`.
struct encoded_body {
  body_encoding encoding = body_encoding::text;
  nlohmann::ordered_json value;
};

/// The body parsed as JSON (keys in their order), or nullopt when it is not JSON.
inline std::optional<nlohmann::ordered_json> parse_json(std::string_view body) {
  auto parsed = nlohmann::ordered_json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

/// Puts `body` into a JSON value as `mode` says:
///  - auto: parsed JSON when `content_type` is a JSON type and the body parses, else as text;
///  - json: parsed JSON whenever it parses, whatever the content type, else as text;
///  - text: the body as a string when it is valid UTF-8, else base64;
///  - base64: always base64.
/// So every body goes in, and `"body_encoding"` says how.
inline encoded_body encode_body(body_mode mode, std::string_view content_type,
                                std::string_view body) {
  bool const try_json =
      mode == body_mode::json || (mode == body_mode::auto_ && is_json_media_type(content_type));
  if (try_json)
    if (auto parsed = parse_json(body)) return {body_encoding::json, std::move(*parsed)};
  if (mode != body_mode::base64 && is_valid_utf8(body))
    return {body_encoding::text, std::string(body)};
  return {body_encoding::base64, base64(body)};
}

}  // namespace fetch_tool

#endif
