#ifndef FANOUT_FETCH_SHARD_HPP
#define FANOUT_FETCH_SHARD_HPP

// --shard K/N: which inputs this process takes. A URL goes to the shard of its host, so every
// request to one host is made by one process and per-host caps and rates stay exact. The
// hash is written down (FNV-1a 64 over "host:port"), not std::hash, so that every machine and
// every build agrees on it.

#include <fanout/http/url.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fetch_tool {

/// This process's part of the input: shard `k` of `n`, 1 <= k <= n (1/1: all of it).
struct shard_spec {
  std::size_t k = 1;
  std::size_t n = 1;
};

/// FNV-1a, 64 bits (offset basis 14695981039346656037, prime 1099511628211).
constexpr std::uint64_t fnv1a64(std::string_view bytes) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// What a URL is sharded by: "host:port", the host in lower case (IPv6 in brackets) and the
/// port always written, the default one too (http 80, https 443), so `http://A.example/` and
/// `http://a.example:80/x` share a key. Empty when `url` is no http(s) URL with a host.
inline std::string shard_key(std::string_view url) {
  fanout::url_parts parts;
  std::string why;
  if (fanout::parse_url(url, parts, why)) return {};
  bool const v6 = parts.host.find(':') != std::string::npos;
  return (v6 ? "[" + parts.host + "]" : parts.host) + ":" + std::to_string(parts.port);
}

/// The shard (1..n) that takes `url`: fnv1a64(shard_key(url)) % n + 1. A line that is no URL
/// goes to shard 1, which reports its error.
inline std::size_t shard_of(std::string_view url, std::size_t n) {
  auto key = shard_key(url);
  if (key.empty()) return 1;
  return static_cast<std::size_t>(fnv1a64(key) % n) + 1;
}

/// "K/N" with 1 <= K <= N, or nullopt.
inline std::optional<shard_spec> parse_shard(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s, std::size_t& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  shard_spec spec;
  if (!number(text.substr(0, slash), spec.k) || !number(text.substr(slash + 1), spec.n) ||
      spec.k < 1 || spec.k > spec.n)
    return std::nullopt;
  return spec;
}

}  // namespace fetch_tool

#endif
