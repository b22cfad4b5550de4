// fanout-fetch: fetch many URLs concurrently through one pooled session and report each one,
// in input order, as JSON lines or a summary. `fanout-fetch --help` says how.

#include "cli.hpp"
#include "input.hpp"
#include "output.hpp"
#include "output_dir.hpp"
#include "report.hpp"
#include "resume.hpp"

#include <fanout/fanout.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <ranges>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Raises the soft limit on open files to the hard one, as Go's runtime does for every
// program: the soft limit (often 1,024) is a guard for old select() loops, and each request
// in flight holds a socket. The session copes with the limit anyway (requests wait for a
// connection to close), but more sockets means fewer waits.
void raise_open_files_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= files.rlim_max) return;
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
}

int usage(const std::string& message) {
  std::cerr << "fanout-fetch: " << message << "\ntry 'fanout-fetch --help'\n";
  return 2;
}

// The most a body read into memory may have, and the flag that set it.
struct memory_limit {
  std::uint64_t bytes;
  std::string flag;
};

memory_limit body_memory_limit(const fetch_tool::options& o) {
  const std::uint64_t filesize = o.max_filesize.value_or(std::uint64_t(64) << 20);
  // With --output-dir a larger body is not inlined, and no error.
  if (o.inline_body && !o.output_dir && o.max_inline < filesize)
    return {o.max_inline, "--max-inline"};
  return {filesize, "--max-filesize"};
}

// An error in the tool's terms rather than the library's: a body over the limit names the flag
// that set it, an existing file the flag that replaces it.
fanout::error explain(const fanout::error& e, const memory_limit& limit) {
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

// With --body: `bytes`, the body, into the record as its "body".
void inline_body(const fetch_tool::options& o, const fanout::response& r, std::string_view bytes,
                 fetch_tool::record& rec) {
  auto encoded =
      fetch_tool::encode_body(*o.inline_body, r.header("content-type").value_or(""), bytes);
  rec.encoding = encoded.encoding;
  rec.body = encoded.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The status, the body's length, its file with --output-dir, and with --body the body itself
// (up to --max-inline when it went to a file, or stayed in memory under --output-dir).
void describe(const fetch_tool::options& o, const fanout::response& r, fetch_tool::record& rec) {
  rec.status = r.status();
  if (!r.path().empty()) {
    rec.file = std::string(r.path());
    std::error_code ec;
    rec.bytes = std::filesystem::file_size(*rec.file, ec);  // all of it, a resumed part too
    if (o.inline_body)
      if (auto bytes = fetch_tool::read_file_up_to(*rec.file, o.max_inline))
        inline_body(o, r, *bytes, rec);
    return;
  }
  rec.bytes = r.body().size();
  if (o.inline_body && r.body().size() <= o.max_inline) inline_body(o, r, r.body(), rec);
}

// What the --resume file says is done, that file made ready to append to. A file that does
// not exist yet is a run that has not started.
fetch_tool::previous_run resume_from(const fetch_tool::options& o) {
  const fetch_tool::retry_rule rule{.errors = o.resume_retry_errors,
                                    .error_statuses = o.resume_retry_errors && o.fail};
  std::ifstream in(*o.resume, std::ios::binary);
  if (!in) return {};
  auto run = fetch_tool::read_previous_run(in, rule, *o.resume);
  in.close();
  fetch_tool::prepare_resume_file(*o.resume, run, rule);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  fetch_tool::options o;
  try {
    o = fetch_tool::parse(argc, argv);
  } catch (const fetch_tool::usage_error& e) {
    return usage(e.what());
  }
  if (o.help) {
    std::cout << fetch_tool::usage_text;
    return 0;
  }

  std::ifstream file;
  std::istream* lines = nullptr;
  if (o.input && *o.input == "-") {
    lines = &std::cin;
  } else if (o.input) {
    file.open(*o.input);
    if (!file) return usage("cannot read " + *o.input);
    lines = &file;
  } else if (o.urls.empty()) {
    if (isatty(STDIN_FILENO)) return usage("no URLs: give them as arguments, or with -i FILE|-");
    lines = &std::cin;
  }
  const bool summary = o.format ? *o.format == "summary" : isatty(STDOUT_FILENO) != 0;
  const bool to_file = o.output && *o.output != "-";
  fetch_tool::previous_run previous;
  if (o.resume) {
    try {
      previous = resume_from(o);
    } catch (const fetch_tool::usage_error& e) {
      return usage(e.what());
    }
  }
  std::optional<fetch_tool::line_writer> jsonl_out;
  if (to_file)
    jsonl_out.emplace(*o.output, o.resume.has_value());
  else if (!summary)
    jsonl_out.emplace(STDOUT_FILENO);
  if (jsonl_out && !jsonl_out->error().empty()) return usage(jsonl_out->error());
  const bool show_progress = o.progress && isatty(STDERR_FILENO);
  std::ios::sync_with_stdio(false);

  raise_open_files_limit();
  asio::io_context ctx(1);
  const auto per_host = o.per_host.value_or(o.concurrency);
  const auto timeout =
      std::chrono::milliseconds(static_cast<long long>(o.timeout_seconds * 1000 + 0.5));
  const auto in_memory = body_memory_limit(o);
  std::optional<fanout::session> http;
  try {
    http.emplace(ctx, fanout::session_options{
                          .max_connections_per_host = per_host,
                          .max_connections = std::max(per_host, o.concurrency),
                          .connect_timeout = std::min<std::chrono::milliseconds>(timeout, 10s),
                          .request_timeout = timeout,
                          .max_redirects = o.max_redirects,
                          .max_body_bytes = in_memory.bytes,
                          .max_download_bytes = o.max_filesize.value_or(0),
                          .verify_tls = !o.insecure,
                          .ca_file = o.cacert,
                          .retry = {.max_attempts = o.retries + 1},
                          .rate_limit = {.requests_per_second = o.rate},
                          .proxy = o.proxy,
                          .trust_env = o.trust_env,
                      });
  } catch (const std::exception& e) {
    return usage(e.what());
  }

  const std::size_t total = lines ? 0 : o.urls.size();  // unknown while lines are read
  fetch_tool::url_feed feed(ctx.get_executor(), std::move(o.urls), lines, 1024 + 4 * o.concurrency);

  std::optional<fetch_tool::output_files> files;
  if (o.output_dir) files.emplace(*o.output_dir, o.output_name);
  // A rerun under --resume replaces a file its crashed run completed without writing the line.
  const fanout::file_options file_options{.resume = o.continue_partial || o.resume.has_value(),
                                          .overwrite = o.overwrite || o.resume.has_value()};

  // Whether this run fetches input `index`, the URL `url`.
  auto wanted = [&](std::size_t index, std::string_view url) {
    if (previous.is_done(index)) return false;
    return o.shard.n == 1 || fetch_tool::shard_of(url, o.shard.n) == o.shard.k;
  };

  // Item i fetches the i-th URL; the indices run on until the input has ended.
  auto fetch = [&](const std::size_t& index) -> asio::awaitable<fetch_tool::record> {
    fetch_tool::record rec;
    auto url = co_await feed.line(index);
    if (!url) {
      rec.end_of_input = true;
      co_return rec;
    }
    if (!wanted(index, *url)) {
      rec.skipped = true;
      co_return rec;
    }
    rec.url = fanout::redact(*url);  // printed: without its password
    const auto t0 = clock_type::now();
    fetch_tool::output_files::plan file;
    if (files) file = files->claim(*url, index, rec.url);
    if (file.error) {
      rec.error = std::move(file.error);
      co_return rec;
    }
    try {
      fanout::request req;  // named, not a temporary in co_await: see session's GCC 12 note
      req.method = o.method;
      req.url = std::move(*url);
      req.headers = o.headers;
      if (o.json)
        req.json = *o.json;
      else if (o.body)
        req.body = *o.body;
      if (!file.path.empty()) req.sink = fanout::body_sink::file(file.path, file_options);
      auto r = co_await http->try_request(std::move(req));
      if (r)
        describe(o, *r, rec);
      else
        rec.error = explain(r.error(), in_memory);
    } catch (...) {
      rec.error = fanout::error_from_current_exception();
    }
    if (!file.path.empty()) files->release(file.path);
    rec.ms = seconds_since(t0) * 1000;
    co_return rec;
  };

  const fetch_tool::line_fields fields{.file = o.output_dir.has_value(),
                                       .body = o.inline_body.has_value()};
  fetch_tool::tally tally;
  const auto started = clock_type::now();
  asio::steady_timer ticker(ctx);
  bool finished = false;

  // Flushes the output and redraws the progress line a few times a second, so a pipe sees
  // results as they come without a write per line.
  auto tick = [&]() -> asio::awaitable<void> {
    while (!finished) {
      ticker.expires_after(100ms);
      boost::system::error_code ec;
      co_await ticker.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (jsonl_out) jsonl_out->flush();
      if (show_progress && !finished)
        fetch_tool::draw_progress(stderr, tally.done(), total, tally.errors(),
                                  seconds_since(started));
    }
  };

  // Ctrl-C or a TERM: the lines of what is answered are written before the tool exits, so a
  // --resume loses nothing of them.
  asio::signal_set stop_signals(ctx, SIGINT, SIGTERM);
  stop_signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    if (jsonl_out) jsonl_out->flush();
    if (show_progress) std::fputc('\n', stderr);
    std::_Exit(128 + signal);
  });

  auto run = [&]() -> asio::awaitable<void> {
    const fanout::gather_options cap{.max_concurrency = o.concurrency};
    // Indices run on while lines may still come, and stop at the last one once input has ended.
    auto indices = std::views::iota(std::size_t{0}) | std::views::take_while([&](std::size_t i) {
                     return !feed.closed() || i < feed.total();
                   });
    auto stream = o.unordered ? fanout::as_completed(indices, fetch, cap)
                              : fanout::gather_stream(indices, fetch, cap);
    while (auto done = co_await stream.next()) {
      fetch_tool::record rec;
      if (done->result)
        rec = std::move(*done->result);
      else
        rec.error = done->result.error();
      // An item started before the input turned out to end, or one this run does not fetch.
      if (rec.end_of_input || rec.skipped) continue;
      tally.add(rec);
      if (jsonl_out) jsonl_out->add(fetch_tool::jsonl(done->index, rec, fields));
    }
    finished = true;
    ticker.cancel();
    stop_signals.cancel();
    http->close();  // idle keep-alive connections would otherwise keep the loop alive
  };

  asio::co_spawn(ctx, tick(), asio::detached);
  asio::co_spawn(ctx, run(), asio::detached);
  ctx.run();

  const double elapsed = seconds_since(started);
  if (show_progress) {
    fetch_tool::draw_progress(stderr, tally.done(), total, tally.errors(), elapsed);
    std::fputc('\n', stderr);
  }
  bool written = true;
  if (jsonl_out && !jsonl_out->flush()) {
    std::cerr << "fanout-fetch: " << jsonl_out->error() << "\n";
    written = false;
  }
  if (summary) tally.print_summary(std::cout, elapsed, http->stats().connections_opened);
  std::cout.flush();
  const bool failed = tally.errors() > 0 || (o.fail && tally.error_statuses() > 0);
  return !failed && written ? 0 : 1;
}
