#ifndef FANOUT_FETCH_CLI_HPP
#define FANOUT_FETCH_CLI_HPP

// fanout-fetch's command line: what it accepts, and its --help text.

#include "body_encoding.hpp"
#include "connect_flags.hpp"
#include "naming.hpp"
#include "shard.hpp"

#include <fanout/http/request.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fetch_tool {

inline constexpr std::string_view usage_text =
    R"(usage: fanout-fetch [URL ...] [-i FILE|-] [-c CONCURRENCY] [--per-host N] [--timeout SECONDS]
                    [-X METHOD] [-H 'Name: value']... [-d BODY | --json BODY] [--unordered]
                    [--insecure] [--cacert FILE] [--max-redirects N] [--retries N]
                    [--rate PER_SECOND] [--proxy URL] [--trust-env]
                    [--resolve HOST:PORT:ADDR[,ADDR]]... [--connect-to H1:P1:H2:P2]...
                    [--format jsonl|summary]
                    [-o FILE] [--fail] [--max-filesize BYTES]
                    [--body [auto|json|text|base64]] [--max-inline BYTES] [--shard K/N]
                    [--resume FILE [--resume-retry-errors]] [--output-dir DIR
                    [--output-name TEMPLATE] [--overwrite] [--continue]] [--no-progress]

Fetches every URL concurrently through one pooled HTTP/1.1 session and reports each one.

  URL ...            URLs to fetch, before those of -i
  -i FILE|-          read URLs one per line from FILE or standard input (blank lines and
                     lines starting with # are skipped); read as it goes, never all at once
  -c N               requests in flight at most (default 64)
  --per-host N       connections per host at most (default: the value of -c)
  --timeout S        whole-request timeout in seconds, redirects and retries included
                     (default 30)
  -X METHOD          request method (default GET)
  -H 'Name: value'   add a request header (repeatable)
  -d BODY            send BODY as the request body
  --json BODY        send BODY (which must be JSON) with Content-Type: application/json
  --unordered        print results as they complete instead of in input order
  --insecure         do not verify TLS certificates
  --cacert FILE      trust the CA certificates in FILE (PEM) instead of the system store
  --max-redirects N  follow at most N redirects (default 10)
  --retries N        retry up to N times after the first attempt (default 0), with
                     exponential backoff from 100 ms (at most 10 s, or what Retry-After
                     asks, capped at 10 s); only when safe: idempotent methods on connect
                     errors, lost connections, timeouts and 429/502/503/504, never -X POST
  --rate R           start at most R requests per second to each host (default unlimited;
                     fractions allowed, e.g. 0.5)
  --proxy URL        send every request through the HTTP proxy at URL,
                     http://[user:password@]host[:port]: plain HTTP in absolute form, https
                     through a CONNECT tunnel (TLS still verified against the origin); the
                     credentials go to the proxy only. No https:// or SOCKS proxies
  --trust-env        use the http_proxy, https_proxy and no_proxy environment variables (or
                     their upper-case forms; HTTP_PROXY not when REQUEST_METHOD is set, as in
                     CGI) for what --proxy leaves unset; ignored without this flag
  --resolve HOST:PORT:ADDR[,ADDR...]
                     connect to ADDR (in order) for HOST:PORT instead of asking DNS, as
                     curl's --resolve (repeatable; HOST '*' is any host; [::1] for IPv6):
                     the Host header and TLS's name and certificate check stay HOST's:
                     --resolve api.example:443:127.0.0.1 https://api.example/v1
  --connect-to HOST1:PORT1:HOST2:PORT2
                     connect to HOST2:PORT2 for HOST1:PORT1, as curl's --connect-to
                     (repeatable; an empty HOST1 or PORT1 is any, an empty HOST2 or PORT2
                     the same); as with --resolve, only the TCP destination changes:
                     --connect-to api.example:443:staging-7.internal:8443
                     The first matching rule of either flag applies, in command-line order
  --format jsonl|summary
                     what standard output gets: one JSON line per URL (the default when it
                     is not a terminal), or counts and latency percentiles (the default on
                     a terminal): --format summary https://a/1 https://a/2
  -o FILE            write the JSON lines to FILE (created or truncated) instead of standard
                     output, which then gets only the summary, if any ('-' is standard
                     output): -o results.jsonl --format summary -i urls.txt
                     Breaking change: -o used to pick the format; -o jsonl and -o summary
                     are now refused with a pointer to --format (-o ./jsonl for a file of
                     that name)
  --fail             exit 1 also when a response's status is >= 400, as curl's --fail (the
                     JSON lines are the same): --fail -i health-checks.txt
  --max-filesize B   a body larger than B bytes (K, M, G: KiB, MiB, GiB) is an item error
                     body_too_large; default: 64M for bodies read into memory, no limit
                     for --output-dir files: --max-filesize 10M
  --body [MODE]      put each response's body in its JSON line as "body", and how in
                     "body_encoding" ("json", "text" or "base64"; both null without a
                     response). MODE (default auto): auto = parsed JSON when the
                     Content-Type is JSON (application/json, text/json, *+json) and it
                     parses, else text when it is valid UTF-8, else base64; json = JSON
                     whenever it parses, else as auto; text = never parsed; base64 =
                     always base64: fanout-fetch --body -i color-urls.txt | jq .body.hex
  --max-inline B     with --body, a body larger than B bytes (default 1M) is an item
                     error body_too_large (with --output-dir it is not inlined instead)
  --shard K/N        take only the inputs whose host hashes to shard K of N (1 <= K <= N),
                     so that N processes, one per machine, split one input and each host
                     is fetched by one of them (per-host caps and rates stay exact); the
                     key is "host:port" (lower case, the default port written), the hash
                     FNV-1a 64 modulo N; lines that are no URL go to shard 1. Indexes stay
                     the positions in the whole input, so the outputs merge by index:
                     fanout-fetch --shard 2/3 -i urls.txt -o part2.jsonl
  --resume FILE      go on with a run that stopped (a crash, kill -9, Ctrl-C): read the JSON
                     lines it wrote to FILE, skip the inputs they answered (by index), and
                     append the others' lines to FILE (so -o FILE is implied; a FILE that
                     does not exist yet starts a new run). A last line cut short is cut off
                     first. Lines are written at least every 100 ms, so a crash loses that
                     much at most, and only whole lines follow whole lines. Give the same
                     input and the same --shard: fanout-fetch -i urls.txt --resume out.jsonl
  --resume-retry-errors
                     with --resume, fetch again the inputs whose line has an error (and with
                     --fail a status >= 400); their old lines are dropped from FILE
  --output-dir DIR   stream each 2xx body to a file under DIR (directories made as needed),
                     through NAME.part renamed to NAME once complete; the JSON line gains
                     "file" (null when no file was written: an error, or another status,
                     whose body is not saved). A file that exists is an item error
                     (file_exists) unless --overwrite; two inputs of one run with the same
                     name: the later one is an item error (file_busy) while the first
                     writes. With --body, bodies up to --max-inline are inlined too:
                     fanout-fetch --output-dir mirror -i urls.txt
  --output-name T    the file name under DIR (default {host}/{path}): {host} is the host,
                     lower case, with :port when not the default; {path} the URL's path,
                     percent-decoded, with index.html for an empty path or one ending in
                     '/', and ?query kept on the last part; {index} the input's position;
                     {sha256} the SHA-256 (hex) of the URL as the JSON line prints it. Names
                     never leave DIR whatever the URL says: '.', '..' and empty parts are
                     dropped (%2e%2e too), '/', '\', '%' and control characters in a part
                     are written %XX, and a part is cut to 245 bytes (then '~' and 16 hex
                     digits of its SHA-256 end it): --output-name '{index}-{sha256}'
  --overwrite        replace files that exist under DIR
  --continue         continue NAME.part files an earlier attempt left, by Range (If-Range
                     on the validator it was written under; 200 starts over); --resume
                     implies it, and --overwrite for the inputs it fetches again (a file
                     may be complete while its line was lost in the crash)
  --no-progress      no progress line on standard error. It is shown only when standard
                     error is a terminal, redrawn at most 10 times a second:
                     [=========>      ] 12,345/50,000 24% 2,310 req/s 4.1 MB/s ETA 0:16 errors 12
                     the total counted first for a regular file (one pass, a line at a
                     time), unknown ("12,345/?", no bar nor ETA) for a pipe
  -h, --help         this text

Output (jsonl), one line per URL in input order:
  {"index":0,"url":"http://...","status":200,"bytes":123,"ms":12.5,"error":null}
  {"index":1,"url":"...","status":null,"bytes":null,"ms":3.1,"error":{"code":"timeout","message":"..."}}
with --output-dir DIR and --body, "file", "body_encoding" and "body" follow:
  {"index":0,...,"error":null,"file":"DIR/host/a.json","body_encoding":"json","body":{"k":1}}

Examples:
  fanout-fetch -c 256 --per-host 8 --timeout 5 -i urls.txt > out.jsonl
  producer | fanout-fetch -i - --unordered --retries 3 --rate 0.5
  fanout-fetch -X PUT -H 'X-Trace: abc' --json '{"k": 1}' https://api.example/items/1
  fanout-fetch -X POST -d 'raw body' https://api.example/items
  fanout-fetch --cacert ca.pem --max-redirects 0 https://internal.example/
  fanout-fetch --insecure https://self-signed.example/
  fanout-fetch --proxy http://user:pw@proxy:3128 -i urls.txt
  https_proxy=http://proxy:3128 fanout-fetch --trust-env -i urls.txt
  fanout-fetch --output-dir mirror --overwrite -i urls.txt
  fanout-fetch --output-dir mirror --continue -i urls.txt
  fanout-fetch -i urls.txt --resume out.jsonl --resume-retry-errors
  fanout-fetch --no-progress -i urls.txt -o out.jsonl

Exit status: 0 when every request got a response (any status, unless --fail), 1 when at
least one failed or the JSON lines could not be written, 2 on bad usage.
)";

/// What the command line asked for.
struct options {
  std::vector<std::string> urls;
  std::optional<std::string> input;  ///< "-" for standard input
  std::size_t concurrency = 64;
  std::optional<std::size_t> per_host;
  double timeout_seconds = 30;
  std::string method = "GET";
  fanout::header_list headers;
  std::optional<std::string> body;
  std::optional<nlohmann::json> json;
  bool unordered = false;
  bool insecure = false;
  std::string cacert;
  std::vector<fanout::connect_rule> connect_to;  ///< --resolve and --connect-to, in order
  std::size_t max_redirects = 10;
  std::size_t retries = 0;                    ///< attempts after the first
  double rate = 0;                            ///< requests per second per host; 0 = unlimited
  std::string proxy;                          ///< empty = none
  bool trust_env = false;                     ///< proxies from the environment
  std::optional<std::string> format;          ///< "jsonl" or "summary"; unset = by terminal
  std::optional<std::string> output;          ///< -o FILE: the JSON lines go there; "-" = stdout
  bool fail = false;                          ///< exit 1 on a status >= 400 too
  std::optional<std::uint64_t> max_filesize;  ///< bytes; unset = the defaults
  std::optional<body_mode> inline_body;       ///< --body; unset = no bodies in the lines
  std::uint64_t max_inline = std::uint64_t(1) << 20;
  shard_spec shard;                   ///< 1/1: every input
  std::optional<std::string> resume;  ///< the earlier run's JSON lines, appended to
  bool resume_retry_errors = false;
  std::optional<std::string> output_dir;  ///< bodies to files under it
  std::string output_name{default_output_name};
  bool overwrite = false;
  bool continue_partial = false;  ///< --continue
  bool progress = true;
  bool help = false;
};

/// Bad usage: the message says what, and the tool exits with status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The power of two a size suffix stands for (K 2^10, M 2^20, G 2^30, either case), or -1.
inline int size_suffix_shift(std::string_view suffix) {
  if (suffix.empty()) return 0;
  if (suffix == "K" || suffix == "k") return 10;
  if (suffix == "M" || suffix == "m") return 20;
  if (suffix == "G" || suffix == "g") return 30;
  return -1;
}

/// A number of bytes >= 1, optionally with a binary suffix: "512", "64K", "10M", "2G".
inline std::uint64_t parse_bytes(std::string_view flag, std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  int shift = size_suffix_shift(text.substr(static_cast<std::size_t>(end - text.data())));
  if (ec != std::errc() || shift < 0 || value == 0 || value > (UINT64_MAX >> shift))
    throw usage_error(std::string(flag) + " needs a number of bytes >= 1 (K, M, G allowed), not '" +
                      std::string(text) + "'");
  return value << shift;
}

inline std::size_t parse_count(std::string_view flag, std::string_view text, std::size_t min) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min)
    throw usage_error(std::string(flag) + " needs a whole number >= " + std::to_string(min) +
                      ", not '" + std::string(text) + "'");
  return value;
}

// A number in (0, `below`), or a usage error saying it needs a positive number of `what`.
inline double parse_positive(std::string_view flag, std::string_view text, double below,
                             std::string_view what) {
  try {
    std::size_t used = 0;
    double value = std::stod(std::string(text), &used);
    if (used == text.size() && value > 0 && value < below) return value;
  } catch (const std::exception&) {
  }
  throw usage_error(std::string(flag) + " needs a positive number of " + std::string(what) +
                    ", not '" + std::string(text) + "'");
}

inline double parse_seconds(std::string_view flag, std::string_view text) {
  return parse_positive(flag, text, 1e7, "seconds");
}

inline double parse_rate(std::string_view flag, std::string_view text) {
  return parse_positive(flag, text, 1e9, "requests per second");
}

inline options parse(int argc, char** argv) {
  options o;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error(std::string(arg) + " needs a value");
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "-i") {
      o.input = std::string(value());
    } else if (arg == "-c") {
      o.concurrency = parse_count(arg, value(), 1);
    } else if (arg == "--per-host") {
      o.per_host = parse_count(arg, value(), 1);
    } else if (arg == "--timeout") {
      o.timeout_seconds = parse_seconds(arg, value());
    } else if (arg == "-X") {
      o.method = std::string(value());
    } else if (arg == "-H") {
      std::string_view h = value();
      auto colon = h.find(':');
      if (colon == std::string_view::npos || colon == 0)
        throw usage_error("-H needs 'Name: value', not '" + std::string(h) + "'");
      auto v = h.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      o.headers.emplace_back(std::string(h.substr(0, colon)), std::string(v));
    } else if (arg == "-d") {
      o.body = std::string(value());
    } else if (arg == "--json") {
      auto text = value();
      try {
        o.json = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        throw usage_error("--json needs valid JSON: " + std::string(e.what()));
      }
    } else if (arg == "--unordered") {
      o.unordered = true;
    } else if (arg == "--insecure") {
      o.insecure = true;
    } else if (arg == "--cacert") {
      o.cacert = std::string(value());
    } else if (arg == "--max-redirects") {
      o.max_redirects = parse_count(arg, value(), 0);
    } else if (arg == "--retries") {
      o.retries = parse_count(arg, value(), 0);
      if (o.retries > 100) throw usage_error("--retries is at most 100");
    } else if (arg == "--rate") {
      o.rate = parse_rate(arg, value());
    } else if (arg == "--proxy") {
      o.proxy = std::string(value());
      if (o.proxy.empty()) throw usage_error("--proxy needs a URL");
    } else if (arg == "--trust-env") {
      o.trust_env = true;
    } else if (arg == "--resolve" || arg == "--connect-to") {
      auto const text = value();
      auto rule = arg == "--resolve" ? parse_resolve(text) : parse_connect_to(text);
      if (!rule)
        throw usage_error(
            std::string(arg) + " needs " +
            (arg == "--resolve" ? "HOST:PORT:ADDR[,ADDR...]" : "HOST1:PORT1:HOST2:PORT2") +
            ", not '" + std::string(text) + "'");
      o.connect_to.push_back(std::move(*rule));
    } else if (arg == "--format") {
      auto v = value();
      if (v != "jsonl" && v != "summary")
        throw usage_error("--format takes jsonl or summary, not '" + std::string(v) + "'");
      o.format = std::string(v);
    } else if (arg == "-o") {
      auto v = value();
      if (v == "jsonl" || v == "summary")
        throw usage_error("-o now names the output file; for the format use --format " +
                          std::string(v) + " (or -o ./" + std::string(v) +
                          " for a file of that name)");
      if (v.empty()) throw usage_error("-o needs a file name");
      o.output = std::string(v);
    } else if (arg == "--fail") {
      o.fail = true;
    } else if (arg == "--max-filesize") {
      o.max_filesize = parse_bytes(arg, value());
    } else if (arg == "--body" || arg.starts_with("--body=")) {
      o.inline_body = body_mode::auto_;
      auto word = arg == "--body" ? std::string_view() : arg.substr(7);
      if (word.empty() && i + 1 < args.size() && parse_body_mode(args[i + 1])) word = args[++i];
      if (!word.empty() && !(o.inline_body = parse_body_mode(word)))
        throw usage_error("--body takes auto, json, text or base64, not '" + std::string(word) +
                          "'");
    } else if (arg == "--max-inline") {
      o.max_inline = parse_bytes(arg, value());
    } else if (arg == "--shard") {
      auto v = value();
      auto spec = parse_shard(v);
      if (!spec)
        throw usage_error("--shard needs K/N with 1 <= K <= N, not '" + std::string(v) + "'");
      o.shard = *spec;
    } else if (arg == "--resume") {
      o.resume = std::string(value());
      if (o.resume->empty() || *o.resume == "-") throw usage_error("--resume needs a file name");
    } else if (arg == "--resume-retry-errors") {
      o.resume_retry_errors = true;
    } else if (arg == "--output-dir") {
      o.output_dir = std::string(value());
      if (o.output_dir->empty()) throw usage_error("--output-dir needs a directory");
    } else if (arg == "--output-name") {
      o.output_name = std::string(value());
      if (auto problem = template_problem(o.output_name))
        throw usage_error("--output-name '" + o.output_name + "' has " + *problem +
                          " (placeholders: {host} {path} {index} {sha256})");
    } else if (arg == "--overwrite") {
      o.overwrite = true;
    } else if (arg == "--continue") {
      o.continue_partial = true;
    } else if (arg == "--no-progress") {
      o.progress = false;
    } else if (arg.size() > 1 && arg.front() == '-') {
      throw usage_error("unknown option " + std::string(arg));
    } else {
      o.urls.emplace_back(arg);
    }
  }
  if (o.body && o.json) throw usage_error("-d and --json cannot be used together");
  if (o.resume_retry_errors && !o.resume)
    throw usage_error("--resume-retry-errors needs --resume FILE");
  if (o.resume && o.output && *o.output != *o.resume)
    throw usage_error("--resume FILE appends to FILE: -o cannot name another file");
  if (o.resume) o.output = o.resume;
  if (!o.output_dir && (o.overwrite || o.continue_partial))
    throw usage_error(std::string(o.overwrite ? "--overwrite" : "--continue") +
                      " needs --output-dir DIR");
  return o;
}

}  // namespace fetch_tool

#endif
