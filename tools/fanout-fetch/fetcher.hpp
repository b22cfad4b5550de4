#ifndef FANOUT_FETCH_FETCHER_HPP
#define FANOUT_FETCH_FETCHER_HPP

// One input from its line to its record: which inputs this run takes (shard, resume), the
// request the command line describes, where its body goes (memory, a file under
// --output-dir), and what the JSON line says of the answer. Used on the event loop's thread.

#include "cli.hpp"
#include "input.hpp"
#include "output_dir.hpp"
#include "report.hpp"
#include "resume.hpp"

#include <fanout/fanout.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace fetch_tool {

/// The most a body read into memory may have, and the flag that set it.
struct memory_limit {
  std::uint64_t bytes;
  std::string flag;
};

inline memory_limit body_memory_limit(const options& o) {
  const std::uint64_t filesize = o.max_filesize.value_or(std::uint64_t(64) << 20);
  // With --output-dir a larger body is not inlined, and no error.
  if (o.inline_body && !o.output_dir && o.max_inline < filesize)
    return {o.max_inline, "--max-inline"};
  return {filesize, "--max-filesize"};
}

/// An error in the tool's terms rather than the library's: a body over the limit names the
/// flag that set it, an existing file the flag that replaces it.
inline fanout::error explain(const fanout::error& e, const memory_limit& limit) {
  if (e.code() == fanout::http_errc::body_too_large) {
    std::string why = " (the limit: " + limit.flag + " " + std::to_string(limit.bytes) + ")";
    return fanout::error(e.code(), e.message() + why);
  }
  if (e.code() == boost::system::errc::file_exists) {
    auto message = e.message();
    const std::string_view library_flag = "file_options::overwrite";
    if (auto at = message.find(library_flag); at != std::string::npos)
      message.replace(at, library_flag.size(), "--overwrite");
    return fanout::error(e.code(), message);
  }
  return e;
}

/// Which inputs this run fetches: those of its shard that an earlier run (--resume) has not
/// answered.
class selection {
 public:
  selection(shard_spec shard, const previous_run& previous) : shard_(shard), previous_(previous) {}

  bool operator()(std::size_t index, std::string_view url) const {
    if (previous_.is_done(index)) return false;
    return shard_.n == 1 || shard_of(url, shard_.n) == shard_.k;
  }

 private:
  shard_spec shard_;
  const previous_run& previous_;
};

class fetcher {
 public:
  /// Every reference must outlive the fetcher.
  fetcher(const options& o, fanout::session& http, url_feed& feed, const selection& wanted)
      : o_(o),
        http_(http),
        feed_(feed),
        wanted_(wanted),
        in_memory_(body_memory_limit(o)),
        // A rerun under --resume replaces a file its crashed run completed but had no line for.
        file_options_{.resume = o.continue_partial || o.resume.has_value(),
                      .overwrite = o.overwrite || o.resume.has_value()} {
    if (o.output_dir) files_.emplace(*o.output_dir, o.output_name);
  }

  /// Input `index`: its record, `end_of_input` when the input ended before it, `skipped` when
  /// this run does not take it.
  boost::asio::awaitable<record> fetch(std::size_t index) {
    record rec;
    auto url = co_await feed_.line(index);
    if (!url) {
      rec.end_of_input = true;
      co_return rec;
    }
    if (!wanted_(index, *url)) {
      rec.skipped = true;
      co_return rec;
    }
    rec.url = fanout::redact(*url);  // printed: without its password
    const auto t0 = std::chrono::steady_clock::now();
    output_files::plan file;
    if (files_) file = files_->claim(*url, index, rec.url);
    if (file.error) {
      rec.error = std::move(file.error);
      co_return rec;
    }
    try {
      auto req = request_for(std::move(*url), file.path);  // named: see session's GCC 12 note
      auto r = co_await http_.try_request(std::move(req));
      if (r)
        describe(*r, rec);
      else
        rec.error = explain(r.error(), in_memory_);
    } catch (...) {
      rec.error = fanout::error_from_current_exception();
    }
    if (!file.path.empty()) files_->release(file.path);
    rec.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    co_return rec;
  }

 private:
  fanout::request request_for(std::string url, const std::string& file) const {
    fanout::request req;
    req.method = o_.method;
    req.url = std::move(url);
    req.headers = o_.headers;
    if (o_.json)
      req.json = *o_.json;
    else if (o_.body)
      req.body = *o_.body;
    if (!file.empty()) req.sink = fanout::body_sink::file(file, file_options_);
    return req;
  }

  // The status, the body's length, its file with --output-dir, and with --body the body
  // itself (up to --max-inline when it went to a file, or stayed in memory under --output-dir).
  void describe(const fanout::response& r, record& rec) const {
    rec.status = r.status();
    if (!r.path().empty()) {
      rec.file = std::string(r.path());
      std::error_code ec;
      auto const size = std::filesystem::file_size(*rec.file, ec);  // a resumed part's too
      rec.bytes = ec ? r.bytes_written() : size;
      if (o_.inline_body)
        if (auto bytes = read_file_up_to(*rec.file, o_.max_inline)) put_body(r, *bytes, rec);
      return;
    }
    rec.bytes = r.body().size();
    if (o_.inline_body && r.body().size() <= o_.max_inline) put_body(r, r.body(), rec);
  }

  // With --body: `bytes`, the response's body, into the record as its "body".
  void put_body(const fanout::response& r, std::string_view bytes, record& rec) const {
    auto encoded = encode_body(*o_.inline_body, r.header("content-type").value_or(""), bytes);
    rec.encoding = encoded.encoding;
    rec.body = encoded.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  const options& o_;
  fanout::session& http_;
  url_feed& feed_;
  const selection& wanted_;
  const memory_limit in_memory_;
  const fanout::file_options file_options_;
  std::optional<output_files> files_;
};

}  // namespace fetch_tool

#endif
