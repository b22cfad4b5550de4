#ifndef FANOUT_FETCH_REPORT_HPP
#define FANOUT_FETCH_REPORT_HPP

// What fanout-fetch prints: a JSON line per URL and the summary (the progress line: progress.hpp).

#include "body_encoding.hpp"

#include <fanout/core/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace fetch_tool {

/// The outcome of one URL: a response (status and decoded body length) or an error.
struct record {
  std::string url;
  int status = 0;
  std::size_t bytes = 0;
  double ms = 0;
  std::optional<fanout::error> error;
  /// With --body: the `"body"` value, already serialised (a record waits in the output order
  /// as one string, not as a JSON tree), and how it was encoded; unset for no body.
  std::optional<std::string> body;
  body_encoding encoding = body_encoding::text;
  std::optional<std::string> file;  ///< with --output-dir: where the body is, once complete
  bool end_of_input = false;        ///< no URL at this index: the input ended before it
  bool skipped = false;             ///< not this run's to fetch (another shard's, or done before)
};

/// What the JSON lines carry beyond the fixed keys.
struct line_fields {
  bool file = false;  ///< `"file"` (null when no file was written)
  bool body = false;  ///< `"body_encoding"` and `"body"` (null when there is none)
};

/// The name of an error code in the JSON lines and the summary: fanout's own names, and the
/// POSIX names of the file errors an --output-dir meets (`file_exists`, `no_space_on_device`).
inline std::string code_name(const boost::system::error_code& ec) {
  namespace se = boost::system::errc;
  struct named {
    se::errc_t code;
    const char* name;
  };
  static constexpr named file_errors[] = {
      {se::file_exists, "file_exists"},
      {se::device_or_resource_busy, "file_busy"},
      {se::no_space_on_device, "no_space_on_device"},
      {se::permission_denied, "permission_denied"},
      {se::read_only_file_system, "read_only_file_system"},
      {se::not_a_directory, "not_a_directory"},
      {se::is_a_directory, "is_a_directory"},
      {se::filename_too_long, "filename_too_long"},
      {se::no_such_file_or_directory, "no_such_file_or_directory"},
      {se::file_too_large, "file_too_large"},
      {se::too_many_files_open, "too_many_files_open"},
  };
  for (auto& e : file_errors)
    if (ec == e.code) return e.name;
  return fanout::error_name(ec);
}

/// `{"index":0,"url":"...","status":200,"bytes":123,"ms":12.5,"error":null}`: keys in this
/// order, ms to 0.1, invalid UTF-8 in a URL or message replaced rather than fatal. Then, as
/// `fields` asks, `"file"`, `"body_encoding"` and `"body"`, the body last (the big one).
inline std::string jsonl(std::size_t index, const record& r, line_fields fields = {}) {
  nlohmann::ordered_json j;
  j["index"] = index;
  j["url"] = r.url;
  if (r.error) {
    j["status"] = nullptr;
    j["bytes"] = nullptr;
  } else {
    j["status"] = r.status;
    j["bytes"] = r.bytes;
  }
  j["ms"] = std::round(r.ms * 10) / 10;
  if (r.error)
    j["error"] = {{"code", code_name(r.error->code())}, {"message", r.error->message()}};
  else
    j["error"] = nullptr;
  if (fields.file) j["file"] = r.file ? nlohmann::ordered_json(*r.file) : nullptr;
  if (fields.body) j["body_encoding"] = r.body ? nlohmann::ordered_json(name(r.encoding)) : nullptr;
  auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!fields.body) return line;
  line.pop_back();  // the closing brace: the body goes in as the text it already is
  line.append(",\"body\":").append(r.body ? *r.body : "null").push_back('}');
  return line;
}

/// Counts, latencies and bytes over the whole run, for `--format summary` and the progress line.
class tally {
 public:
  /// `keep_latencies`: for the summary's percentiles (4 bytes a request); without it the
  /// tally's memory stays flat however many inputs a run has.
  explicit tally(bool keep_latencies) : keep_latencies_(keep_latencies) {}

  void add(const record& r) {
    ++done_;
    if (keep_latencies_) latencies_.push_back(static_cast<float>(r.ms));
    if (r.error) {
      ++errors_;
      ++by_error_[code_name(r.error->code())];
    } else {
      ++by_status_[r.status];
      if (r.status >= 400) ++error_statuses_;
      bytes_ += r.bytes;
    }
  }

  std::size_t done() const { return done_; }
  std::size_t errors() const { return errors_; }
  /// Body bytes of the responses.
  std::uint64_t bytes() const { return bytes_; }
  /// Responses with a status >= 400 (what --fail counts).
  std::size_t error_statuses() const { return error_statuses_; }

  void print_summary(std::ostream& out, double seconds, std::size_t connections) {
    out << "requests: " << done_ << " in " << fixed(seconds, 3) << " s ("
        << fixed(seconds > 0 ? double(done_) / seconds : 0, 1) << " req/s), " << errors_
        << " errors\n";
    for (auto& [status, n] : by_status_) out << "  status " << status << ": " << n << "\n";
    for (auto& [code, n] : by_error_) out << "  error " << code << ": " << n << "\n";
    if (!latencies_.empty()) {
      std::sort(latencies_.begin(), latencies_.end());
      out << "latency ms: p50 " << fixed(percentile(0.50), 1) << ", p90 "
          << fixed(percentile(0.90), 1) << ", p99 " << fixed(percentile(0.99), 1) << ", max "
          << fixed(latencies_.back(), 1) << "\n";
    }
    out << "bytes: " << bytes_ << "\n";
    out << "connections opened: " << connections << "\n";
  }

 private:
  static std::string fixed(double v, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
  }

  // Nearest-rank percentile of the sorted latencies.
  double percentile(double p) const {
    auto rank = static_cast<std::size_t>(std::ceil(p * double(latencies_.size())));
    return latencies_[std::clamp<std::size_t>(rank, 1, latencies_.size()) - 1];
  }

  std::size_t done_ = 0;
  std::size_t errors_ = 0;
  std::size_t error_statuses_ = 0;
  std::uint64_t bytes_ = 0;
  std::map<int, std::size_t> by_status_;
  std::map<std::string, std::size_t> by_error_;
  bool keep_latencies_;
  std::vector<float> latencies_;
};

}  // namespace fetch_tool

#endif
