#ifndef FANOUT_FETCH_RESUME_HPP
#define FANOUT_FETCH_RESUME_HPP

// --resume FILE: what an earlier run already answered, read from the JSON lines it wrote.
// Only the index of each line counts (and whether it failed); a last line without its newline
// was cut by a crash and is ignored, and cut off the file before this run appends to it.

#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fetch_tool {

/// One line of an earlier run, as far as resuming cares.
struct answered_line {
  std::size_t index = 0;
  bool error = false;  ///< its "error" is not null
  int status = 0;      ///< 0 when there was no response
};

/// Parses a complete JSON line of fanout-fetch; nullopt when it is not one (not JSON, no
/// whole-number "index").
inline std::optional<answered_line> parse_answered_line(std::string_view line) {
  auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto index = j.find("index");
  if (index == j.end() || !index->is_number_unsigned()) return std::nullopt;
  answered_line a;
  a.index = index->get<std::size_t>();
  auto error = j.find("error");
  a.error = error != j.end() && !error->is_null();
  auto status = j.find("status");
  if (status != j.end() && status->is_number_integer()) a.status = status->get<int>();
  return a;
}

/// Which lines of an earlier run count as failed, to be fetched again
/// (`--resume-retry-errors`): those with an error, and with `--fail` those with a status >= 400.
struct retry_rule {
  bool errors = false;
  bool error_statuses = false;
  bool retries(const answered_line& a) const {
    return (errors && a.error) || (error_statuses && a.status >= 400);
  }
};

/// What an earlier run left in its file.
struct previous_run {
  std::vector<bool> done;    ///< done[i]: input i is answered and not to be fetched again
  std::size_t answered = 0;  ///< how many indexes `done` marks
  std::uint64_t intact = 0;  ///< bytes up to the end of the last complete line
  bool torn = false;         ///< the file goes on after `intact`: a line cut short
  std::size_t to_retry = 0;  ///< complete lines `retry_rule` drops (their inputs run again)

  bool is_done(std::size_t index) const { return index < done.size() && done[index]; }
};

/// Reads an earlier run's JSON lines from `in`. Throws `usage_error` naming the line when a
/// complete line is not one of fanout-fetch's (the wrong file, most likely).
inline previous_run read_previous_run(std::istream& in, const retry_rule& rule,
                                      const std::string& name) {
  previous_run run;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (in.eof()) {  // no newline after it: cut by a crash
      run.torn = true;
      break;
    }
    run.intact += line.size() + 1;
    auto a = parse_answered_line(line);
    if (!a)
      throw usage_error("--resume: line " + std::to_string(number) + " of " + name +
                        " is not a JSON line of fanout-fetch");
    if (rule.retries(*a)) {
      ++run.to_retry;
      continue;
    }
    if (a->index >= run.done.size()) run.done.resize(a->index + 1);
    if (!run.done[a->index]) ++run.answered;
    run.done[a->index] = true;
  }
  return run;
}

/// Makes `path` ready to append to after `run`: cuts a torn last line off and, when lines are
/// to be fetched again, drops them (through a copy renamed over the file, so a crash leaves
/// the old file or the new one). Throws `usage_error` when the file cannot be rewritten.
inline void prepare_resume_file(const std::string& path, const previous_run& run,
                                const retry_rule& rule) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (run.torn) fs::resize_file(path, run.intact, ec);
  if (ec)
    throw usage_error("--resume: cannot cut the torn last line of " + path + ": " + ec.message());
  if (run.to_retry == 0) return;
  const std::string temporary = path + ".resume-tmp";
  {
    std::ifstream in(path, std::ios::binary);
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    std::string line;
    while (std::getline(in, line)) {
      auto a = parse_answered_line(line);
      if (a && !rule.retries(*a)) out << line << '\n';
    }
    out.flush();
    if (!out) throw usage_error("--resume: cannot write " + temporary);
  }
  fs::rename(temporary, path, ec);
  if (ec) throw usage_error("--resume: cannot replace " + path + ": " + ec.message());
}

}  // namespace fetch_tool

#endif
