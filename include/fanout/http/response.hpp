#ifndef FANOUT_HTTP_RESPONSE_HPP
#define FANOUT_HTTP_RESPONSE_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/sansio/response_block.hpp>
#include <fanout/http/error.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace fanout {

namespace detail {
struct response_access;
}

/// Where the time of one request went. Durations of steps that did not happen (DNS on a reused
/// connection, TLS over http) are zero; with redirects they add up over every hop.
struct timings {
  using duration = std::chrono::steady_clock::duration;
  duration pool_wait{};      ///< waiting for a connection slot (caps reached)
  duration dns{};            ///< resolving the host (zero when cached)
  duration connect{};        ///< TCP connect
  duration tls{};            ///< TLS handshake
  duration ttfb{};           ///< from sending the request to the first response byte (last hop)
  duration body{};           ///< from the end of the final head to the end of its body
  duration total{};          ///< the whole request
  bool reused = false;       ///< the final hop ran on a pooled keep-alive connection
  bool tls_resumed = false;  ///< the final hop's TLS session was resumed (abbreviated handshake)
};

/// The header fields of a response, in the order received: a view into the response (valid
/// while it lives), iterated as `fanout::header_field{name, value}`.
class header_fields {
 public:
  using iterator = detail::field_iterator;

  header_fields() = default;
  iterator begin() const noexcept { return b_ ? b_->fields_begin() : iterator(); }
  iterator end() const noexcept { return b_ ? b_->fields_end() : iterator(); }
  std::size_t size() const noexcept { return b_ ? b_->field_count() : 0; }
  bool empty() const noexcept { return size() == 0; }
  /// The value of the first field named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> find(std::string_view name) const noexcept {
    return b_ ? b_->find(name) : std::nullopt;
  }

 private:
  friend class response;
  explicit header_fields(const detail::response_block* b) noexcept : b_(b) {}
  const detail::response_block* b_ = nullptr;
};

/// A complete HTTP response: status, headers and the (decompressed) body in memory.
///
/// Everything the server sent, with the final URL and method, is one block of memory of about
/// the response's size on the wire, shared (never copied) by copies of the response, which
/// may be used on any thread. The views the accessors return live as long as the response or
/// a copy of it, so they are not offered on a temporary:
/// `std::string_view b = (co_await http.get(u)).body();` would dangle at the semicolon and does
/// not compile. Name the response first, or take an owning copy:
/// `std::string(r.body())`. `json()` returns values and works on a temporary too.
class response {
 public:
  response() = default;

  /// The status code, e.g. 200 (0 for a default-constructed response).
  int status() const noexcept { return block_ ? block_->status() : 0; }
  /// True for 2xx.
  bool ok() const noexcept { return status() >= 200 && status() < 300; }
  /// The reason phrase the server sent ("OK").
  std::string_view reason() const& noexcept {
    return block_ ? block_->reason() : std::string_view();
  }
  std::string_view reason() const&& = delete;  // the view would dangle: see the class
  /// The HTTP version of the response: 11 for HTTP/1.1, 10 for HTTP/1.0.
  int version() const noexcept { return block_ ? block_->version() : 11; }

  /// The value of the first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const& noexcept {
    return block_ ? block_->find(name) : std::nullopt;
  }
  std::optional<std::string_view> header(std::string_view name) const&& = delete;
  /// Every header, in the order received.
  header_fields headers() const& noexcept { return header_fields(block_.get()); }
  header_fields headers() const&& = delete;

  /// The body, decompressed when the server sent gzip or deflate.
  std::string_view body() const& noexcept { return block_ ? block_->body() : std::string_view(); }
  std::string_view body() const&& = delete;

  /// The body parsed as JSON. Throws `fanout::system_error` with `http_errc::json`, naming the URL,
  /// when it is not JSON.
  nlohmann::json json() const;
  /// The body decoded into `T` through nlohmann's `from_json`; errors as for `json()`.
  template <class T>
  T json() const;

  /// The final URL, after redirects.
  std::string_view url() const& noexcept { return block_ ? block_->url() : std::string_view(); }
  std::string_view url() const&& = delete;
  /// The method of the final request (a 303 turns POST into GET).
  std::string_view method() const& noexcept {
    return block_ ? block_->method() : std::string_view();
  }
  std::string_view method() const&& = delete;
  /// Where the time went.
  const fanout::timings& timings() const& noexcept { return timings_; }
  fanout::timings timings() const&& noexcept { return timings_; }  // a copy: it is small
  /// Requests sent for this response: 1, plus redirects followed, plus a transparent retry
  /// after a stale keep-alive connection, plus the requests of earlier attempts under the
  /// retry policy (429 twice, then 200: 3).
  int attempts() const noexcept { return attempts_; }
  /// Redirects followed.
  int redirects() const noexcept { return redirects_; }
  /// The final response's body bytes as they came off the wire (de-chunked, still
  /// content-coded), whether kept in `body()` or handed to a sink.
  std::uint64_t bytes_received() const noexcept { return bytes_received_; }
  /// The body bytes a callback or file sink took, decoded (a resumed download: those of
  /// this request, after the `.part`'s); 0 for a body kept in memory.
  std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  /// Where a file sink's download is, once complete (`session::download`); empty otherwise.
  std::string_view path() const& noexcept { return path_; }
  std::string_view path() const&& = delete;

 private:
  friend struct detail::response_access;
  [[noreturn]] void throw_json_error(const char* what) const;

  detail::block_ptr block_;
  fanout::timings timings_;
  int attempts_ = 0;
  int redirects_ = 0;
  std::uint64_t bytes_received_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::string path_;
};

// ---------------------------------------------------------------------------------------------

namespace detail {

struct response_access {
  static block_ptr& block(response& r) noexcept { return r.block_; }
  static fanout::timings& timings(response& r) noexcept { return r.timings_; }
  static int& attempts(response& r) noexcept { return r.attempts_; }
  static int& redirects(response& r) noexcept { return r.redirects_; }
  static std::uint64_t& bytes_received(response& r) noexcept { return r.bytes_received_; }
  static std::uint64_t& bytes_written(response& r) noexcept { return r.bytes_written_; }
  static std::string& path(response& r) noexcept { return r.path_; }
};

}  // namespace detail

template <class T>
T response::json() const {
  auto const b = body();
  try {
    return nlohmann::json::parse(b.begin(), b.end()).template get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw_json_error(e.what());
  }
}

}  // namespace fanout

#ifndef FANOUT_SEPARATE_COMPILATION
#include <fanout/http/impl/response.ipp>
#endif

#endif
