#ifndef FANOUT_FETCH_NAMING_HPP
#define FANOUT_FETCH_NAMING_HPP

// --output-dir and --output-name: the file a URL's body goes to, relative to DIR. Pure string
// work, no I/O (table-tested). Whatever the URL says, the name stays inside DIR: it is made of
// components that are never empty, "." or "..", never hold a '/' (or NUL, or a control
// character), and are at most 245 bytes, so that the ".part.meta" beside a file still fits in
// the 255 bytes Linux file systems allow.

#include <fanout/http/url.hpp>

#include <openssl/evp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fetch_tool {

/// The longest component of a name (see above).
inline constexpr std::size_t max_component_bytes = 245;

/// The default --output-name.
inline constexpr std::string_view default_output_name = "{host}/{path}";

/// SHA-256 of `bytes` in lower-case hex (OpenSSL's EVP).
inline std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

/// `%XX` decoded; a '%' not followed by two hex digits stays as it is.
inline std::string percent_decode(std::string_view s) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && digit(s[i + 1]) >= 0 && digit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(digit(s[i + 1]) * 16 + digit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

/// `s` with the bytes a file name must not hold written as `%XX`: '/', '\\', '%' itself (so
/// names stay unambiguous), NUL and the other control characters.
inline std::string escape_for_file_name(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '%') {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

/// A component cut to `max_component_bytes`: when longer, its first bytes (not cutting a UTF-8
/// sequence) then '~' and 16 hex digits of the SHA-256 of the whole, so that long names that
/// differ only at their ends stay apart.
inline std::string cap_component(std::string s) {
  if (s.size() <= max_component_bytes) return s;
  // Appended, not "~" + string: GCC 12 at -O2 warns falsely (-Wrestrict) on `"lit" + string&&`.
  std::string tail(1, '~');
  tail.append(sha256_hex(s), 0, 16);
  std::size_t keep = max_component_bytes - tail.size();
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  s.resize(keep);
  return s + tail;
}

/// `name` made safe, component by component: empty, "." and ".." components dropped, each
/// component capped. Never empty: "index.html" when nothing is left.
inline std::string safe_relative_name(std::string_view name) {
  std::string out;
  std::size_t from = 0;
  while (from <= name.size()) {
    auto slash = name.find('/', from);
    if (slash == std::string_view::npos) slash = name.size();
    auto part = name.substr(from, slash - from);
    from = slash + 1;
    if (part.empty() || part == "." || part == "..") continue;
    if (!out.empty()) out.push_back('/');
    out += cap_component(std::string(part));
  }
  return out.empty() ? "index.html" : out;
}

/// The `{path}` of a request target ("/a/b?q"): each path segment percent-decoded then escaped
/// again where a file name needs it (so `%2e%2e` is "..", dropped, and `%2F` stays `%2F`),
/// `index.html` for an empty path or one that ends in '/' (or "." or ".."), and the query kept
/// on the last component as `?query`, decoded and escaped the same way.
inline std::string path_name(std::string_view target) {
  auto const question = target.find('?');
  auto path = target.substr(0, question);
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out;
  bool directory = true;  // whether the last segment names a directory ("", "." or "..")
  while (true) {
    auto const slash = path.find('/');
    auto const segment = percent_decode(path.substr(0, slash));
    directory = segment.empty() || segment == "." || segment == "..";
    if (!directory) {
      if (!out.empty()) out.push_back('/');
      out += escape_for_file_name(segment);
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (directory) out += out.empty() ? "index.html" : "/index.html";
  if (question != std::string_view::npos && question + 1 < target.size())
    out.append("?").append(escape_for_file_name(percent_decode(target.substr(question + 1))));
  return out;
}

/// What the placeholders of a template stand for.
struct name_fields {
  std::string host;       ///< `{host}`: the host, lower case, with ":port" when not the default
  std::string target;     ///< the request target, "/path?query", for `{path}`
  std::size_t index = 0;  ///< `{index}`: the input's position
  std::string url;        ///< `{sha256}` is the SHA-256 of this (the URL as printed)
};

/// The placeholders a template may use.
inline bool is_placeholder(std::string_view word) {
  return word == "host" || word == "path" || word == "index" || word == "sha256";
}

/// Why `templ` is not a usable --output-name (an unknown or unclosed placeholder), or nullopt.
inline std::optional<std::string> template_problem(std::string_view templ) {
  for (std::size_t at = templ.find('{'); at != std::string_view::npos;
       at = templ.find('{', at + 1)) {
    auto close = templ.find('}', at);
    if (close == std::string_view::npos) return "an unclosed '{'";
    auto word = templ.substr(at + 1, close - at - 1);
    if (!is_placeholder(word)) return "an unknown placeholder {" + std::string(word) + "}";
  }
  if (templ.find_first_not_of("/.") == std::string_view::npos) return "no name at all";
  return std::nullopt;
}

/// The name (relative to DIR) of the file for `fields` by `templ` (checked by
/// `template_problem`): placeholders replaced, then made safe by `safe_relative_name`.
inline std::string output_name(std::string_view templ, const name_fields& fields) {
  std::string name;
  for (std::size_t i = 0; i < templ.size(); ++i) {
    auto close = templ[i] == '{' ? templ.find('}', i) : std::string_view::npos;
    if (close == std::string_view::npos) {
      name.push_back(templ[i]);
      continue;
    }
    auto word = templ.substr(i + 1, close - i - 1);
    if (word == "host") name += escape_for_file_name(fields.host);
    if (word == "path") name += path_name(fields.target);
    if (word == "index") name += std::to_string(fields.index);
    if (word == "sha256") name += sha256_hex(fields.url);
    i = close;
  }
  return safe_relative_name(name);
}

/// The name fields of `url`, or nullopt when it is no URL (its request then fails as such).
inline std::optional<name_fields> name_fields_of(std::string_view url, std::size_t index,
                                                 std::string printed_url) {
  fanout::url_parts parts;
  std::string why;
  if (fanout::parse_url(url, parts, why)) return std::nullopt;
  return name_fields{parts.host_header, parts.target, index, std::move(printed_url)};
}

}  // namespace fetch_tool

#endif
