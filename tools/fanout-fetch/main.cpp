// fanout-fetch: fetch many URLs concurrently through one pooled session and report each one,
// in input order, as JSON lines or a summary. `fanout-fetch --help` says how.

#include "cli.hpp"
#include "fetcher.hpp"
#include "input.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "resume.hpp"

#include <fanout/fanout.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
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

// Where the lines of URLs come from, beyond the command line's: a file, standard input, or
// nothing. `path` names what can be read a second time to count the lines (a regular file).
struct url_lines {
  std::ifstream file;
  std::istream* stream = nullptr;
  std::optional<std::string> countable;
};

// Opens the input the options name; an error message when it cannot be read.
std::optional<std::string> open_input(const fetch_tool::options& o, url_lines& in) {
  auto regular = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  };
  bool const from_stdin = (o.input && *o.input == "-") || (!o.input && o.urls.empty());
  if (from_stdin) {
    if (!o.input && isatty(STDIN_FILENO))
      return "no URLs: give them as arguments, or with -i FILE|-";
    in.stream = &std::cin;
    struct stat st {};
    // Redirected from a file: /dev/stdin opens that file again, for the count.
    if (::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) in.countable = "/dev/stdin";
  } else if (o.input) {
    in.file.open(*o.input);
    if (!in.file) return "cannot read " + *o.input;
    in.stream = &in.file;
    if (regular(*o.input)) in.countable = *o.input;
  }
  return std::nullopt;
}

// The progress line's total: the inputs this run takes, when they can all be counted before
// the run (command-line URLs and a regular file; a pipe cannot be read twice).
std::optional<std::size_t> count_total(const fetch_tool::options& o, const url_lines& in,
                                       const fetch_tool::selection& wanted) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < o.urls.size(); ++i) total += wanted(i, o.urls[i]) ? 1 : 0;
  if (!in.stream) return total;
  if (!in.countable) return std::nullopt;
  std::ifstream again(*in.countable);
  if (!again) return std::nullopt;
  return total + fetch_tool::count_urls(again, o.urls.size(), wanted);
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

// Where the JSON lines go: the -o/--resume file, standard output unless it gets the summary,
// or nowhere.
void open_lines(const fetch_tool::options& o, bool summary,
                std::optional<fetch_tool::line_writer>& out) {
  if (o.output && *o.output != "-")
    out.emplace(*o.output, o.resume.has_value());
  else if (!summary)
    out.emplace(STDOUT_FILENO);
}

fanout::session_options session_settings(const fetch_tool::options& o, std::uint64_t memory_limit) {
  const auto per_host = o.per_host.value_or(o.concurrency);
  const auto timeout =
      std::chrono::milliseconds(static_cast<long long>(o.timeout_seconds * 1000 + 0.5));
  return {
      .max_connections_per_host = per_host,
      .max_connections = std::max(per_host, o.concurrency),
      .connect_timeout = std::min<std::chrono::milliseconds>(timeout, 10s),
      .request_timeout = timeout,
      .max_redirects = o.max_redirects,
      .max_body_bytes = memory_limit,
      .max_download_bytes = o.max_filesize.value_or(0),
      .verify_tls = !o.insecure,
      .ca_file = o.cacert,
      .connect_to = o.connect_to,
      .retry = {.max_attempts = o.retries + 1},
      .rate_limit = {.requests_per_second = o.rate},
      .proxy = o.proxy,
      .trust_env = o.trust_env,
  };
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

  url_lines input;
  if (auto problem = open_input(o, input)) return usage(*problem);
  const bool summary = o.format ? *o.format == "summary" : isatty(STDOUT_FILENO) != 0;
  fetch_tool::previous_run previous;
  try {
    if (o.resume) previous = resume_from(o);
  } catch (const fetch_tool::usage_error& e) {
    return usage(e.what());
  }
  std::optional<fetch_tool::line_writer> jsonl_out;
  open_lines(o, summary, jsonl_out);
  if (jsonl_out && !jsonl_out->error().empty()) return usage(jsonl_out->error());
  const fetch_tool::selection wanted(o.shard, previous);
  const bool show_progress = o.progress && isatty(STDERR_FILENO);
  const auto total = show_progress ? count_total(o, input, wanted) : std::nullopt;
  std::ios::sync_with_stdio(false);

  raise_open_files_limit();
  asio::io_context ctx(1);
  std::optional<fanout::session> http;
  try {
    http.emplace(ctx, session_settings(o, fetch_tool::body_memory_limit(o).bytes));
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  fetch_tool::url_feed feed(ctx.get_executor(), std::move(o.urls), input.stream,
                            1024 + 4 * o.concurrency);
  fetch_tool::fetcher fetcher(o, *http, feed, wanted);

  const fetch_tool::line_fields fields{.file = o.output_dir.has_value(),
                                       .body = o.inline_body.has_value()};
  fetch_tool::tally tally(summary);
  const auto started = clock_type::now();
  auto progress = [&] {
    return fetch_tool::progress_state{tally.done(), total, tally.bytes(), tally.errors(),
                                      seconds_since(started)};
  };
  asio::steady_timer ticker(ctx);
  bool finished = false;

  // Writes the lines out and redraws the progress line every 100 ms (at most 10 times a
  // second), so a pipe sees results as they come without a write per line, and a crash loses
  // at most 100 ms of lines.
  auto tick = [&]() -> asio::awaitable<void> {
    while (!finished) {
      ticker.expires_after(100ms);
      boost::system::error_code ec;
      co_await ticker.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (jsonl_out) jsonl_out->flush();
      if (show_progress && !finished) fetch_tool::draw_progress(stderr, progress());
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
    auto item = [&](const std::size_t& index) { return fetcher.fetch(index); };
    auto stream = o.unordered ? fanout::as_completed(indices, item, cap)
                              : fanout::gather_stream(indices, item, cap);
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
    fetch_tool::draw_progress(stderr, progress());
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
