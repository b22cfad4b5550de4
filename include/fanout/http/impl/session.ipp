#ifndef FANOUT_HTTP_IMPL_SESSION_HPP
#define FANOUT_HTTP_IMPL_SESSION_HPP

#include <fanout/config.hpp>
#include <fanout/core/detail/deadline_guard.hpp>
#include <fanout/http/detail/body/body_target.hpp>
#include <fanout/http/detail/body/upload_source.hpp>
#include <fanout/http/detail/http1/transport.hpp>
#include <fanout/http/detail/sansio/content_coding.hpp>
#include <fanout/http/detail/sansio/header_values.hpp>
#include <fanout/http/detail/sansio/lru_map.hpp>
#include <fanout/http/detail/sansio/proxy.hpp>
#include <fanout/http/detail/sansio/redirect.hpp>
#include <fanout/http/detail/sansio/request_builder.hpp>
#include <fanout/http/detail/sansio/resume.hpp>
#include <fanout/http/detail/sansio/retry_decision.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/transport.hpp>
#include <fanout/http/url.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory_resource>
#include <mutex>
#include <random>

// GCC 12 at -O2 reports a false -Wmismatched-new-delete on Asio's coroutine frames (their
// class-specific operator new/delete) once they are inlined; keep users' -Werror builds clean.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace fanout::detail {

// A URL as messages and response::url() show it: without its password. A copy only for a URL
// that may have one.
class shown_url {
 public:
  explicit shown_url(const std::string& url) { set(url); }
  void set(const std::string& url) {
    view_ = url;
    if (url.find('@') == std::string::npos) return;
    redacted_ = redact(url);
    view_ = redacted_;
  }
  std::string_view view() const noexcept { return view_; }

 private:
  std::string redacted_;
  std::string_view view_;
};

class session_impl : public std::enable_shared_from_this<session_impl> {
 public:
  using clock = std::chrono::steady_clock;
  using result_type = session::result_type;

  session_impl(boost::asio::any_io_executor ex, session_options o)
      : ex_(ex),
        options_((validate(o), std::move(o))),
        transport_(options_.transport ? options_.transport.shared()
                                      : std::make_shared<http1_transport>(ex, options_)),
        proxies_(make_proxy_settings(options_.proxy, options_.no_proxy, options_.trust_env)),
        host_limiters_(options_.max_cached_origins) {
    if (options_.session_rate_limit.requests_per_second > 0)
      session_limiter_ = std::make_unique<async_rate_limiter>(ex, options_.session_rate_limit);
  }

  ~session_impl() {
    if (own_transport()) transport_->close();
    if (writer_) writer_->join();
  }

  boost::asio::any_io_executor executor() const noexcept { return ex_; }
  // The default transport, made for this session (closed with it), not one of the options.
  bool own_transport() const noexcept { return !options_.transport; }
  const session_options& options() const noexcept { return options_; }
  void close() {
    closed_.store(true);
    if (own_transport()) transport_->close();
    // Requests waiting for a rate-limit token fail with errc::cancelled too.
    if (session_limiter_) session_limiter_->cancel();
    std::lock_guard lock(limiters_mutex_);
    for (auto& [origin, entry] : host_limiters_) entry.limiter->cancel();
  }

  session_stats stats() const {
    session_stats s;
    if (own_transport()) transport_->add_stats(s);
    s.requests = requests_.load();
    s.retries = retries_.load();
    {
      std::lock_guard lock(limiters_mutex_);
      s.rate_limiters = host_limiters_.size();
    }
    return s;
  }

  /// Runs `req` to its result; never throws. `self` keeps the session alive meanwhile.
  boost::asio::awaitable<result_type> run(std::shared_ptr<session_impl> self, fanout::request req);

 private:
  // The size limits, where 0 is none (Beast's header limit is 32-bit).
  std::size_t max_body_bytes() const noexcept {
    return options_.max_body_bytes ? options_.max_body_bytes
                                   : std::numeric_limits<std::size_t>::max();
  }
  std::uint64_t max_sink_body() const noexcept {
    return options_.max_download_bytes ? options_.max_download_bytes
                                       : std::numeric_limits<std::uint64_t>::max();
  }
  std::size_t max_header_bytes() const noexcept {
    return options_.max_header_bytes ? options_.max_header_bytes
                                     : std::numeric_limits<std::uint32_t>::max();
  }

  // When a request started and when it must be over.
  struct window {
    clock::time_point start, deadline;
  };
  // The window of `req` starting now: run when the request is awaited, not when it is made.
  window window_for(const fanout::request& req) const {
    auto const start = clock::now();
    return {start, deadline_after(start, req.timeout.value_or(options_.request_timeout))};
  }

  // The thread downloads write their files on, started by the first one: a write to a slow
  // disk never stalls the event loop.
  boost::asio::any_io_executor writer_executor() {
    std::lock_guard lock(writer_mutex_);
    if (!writer_) writer_ = std::make_unique<boost::asio::thread_pool>(1);
    return writer_->get_executor();
  }
  // The body target of a request whose sink is not memory; `may_repeat`: under a retry
  // policy that repeats it.
  body_target::setup target_setup(const fanout::request& req, boost::asio::any_io_executor ex,
                                  bool may_repeat) {
    return {.sink = &req.sink,
            .executor = std::move(ex),
            .writer = req.sink.type() == body_sink::kind::file ? writer_executor()
                                                               : boost::asio::any_io_executor(),
            .limit = options_.max_download_bytes,
            .retries_statuses = may_repeat,
            .follows_redirects = options_.max_redirects > 0};
  }
  // One attempt: every redirect hop of `req`, within `within` (the request's own window, from
  // when it is awaited, when not given). Adds the requests it sent
  // to `*sent` when given (the retry loop's count). Applies `raise_for_status` only when
  // `raise`: the retry decision needs the status. An exception becomes the item's error.
  // `target`: where the body goes (across attempts); made here when `req.sink` needs one.
  boost::asio::awaitable<result_type> run_once(std::shared_ptr<session_impl> self,
                                               fanout::request req, std::optional<window> within,
                                               int* sent, bool raise,
                                               body_target* target = nullptr);
  // `run` under a retry policy that may repeat the request.
  boost::asio::awaitable<result_type> run_retrying(std::shared_ptr<session_impl> self,
                                                   fanout::request req, retry_policy policy,
                                                   bool raise);
  // A request refused before any I/O: `http_errc::invalid_request` saying why.
  static boost::asio::awaitable<result_type> invalid(fanout::request req, std::string what);

  // The per-host limiter for `origin`, or null when unlimited. The caller holds it while it
  // uses it: the map may drop it meanwhile (see `host_limiter_entry`).
  std::shared_ptr<async_rate_limiter> host_limiter(const std::string& origin) {
    if (options_.rate_limit.requests_per_second <= 0) return nullptr;
    auto const now = clock::now();
    std::lock_guard lock(limiters_mutex_);
    auto [e, made] = host_limiters_.try_emplace(origin);
    if (made) e->limiter = std::make_shared<async_rate_limiter>(ex_, options_.rate_limit);
    e->last_used = now;
    auto limiter = e->limiter;
    // A limiter nobody holds, with no waiter, unused for as long as its bucket takes to refill,
    // is the same as a new one: it may go (least recently used first, and beyond the cap).
    // In seconds as a double: a slow rate and a large burst overflow a clock duration.
    double const refill = static_cast<double>(std::max<std::size_t>(options_.rate_limit.burst, 1)) /
                          options_.rate_limit.requests_per_second;
    auto const at_rest = [now, refill](const host_limiter_entry& h) {
      return h.limiter.use_count() == 1 && h.limiter->waiting() == 0 &&
             std::chrono::duration<double>(now - h.last_used).count() >= refill;
    };
    host_limiters_.trim(at_rest, at_rest);
    return limiter;
  }

  // Takes a token from `limiter` (if any), waiting at most until `deadline`. Completes with
  // an empty code, `errc::timeout`, or `errc::cancelled` (cancelled by the caller or close()).
  static boost::asio::awaitable<boost::system::error_code> take_token(async_rate_limiter* limiter,
                                                                      clock::time_point deadline) {
    boost::system::error_code ec;
    if (!limiter || limiter->try_acquire()) co_return ec;
    if (deadline == clock::time_point::max()) {
      co_await limiter->acquire(asio::redirect_error(asio::use_awaitable, ec));
    } else {
      // One co_await per statement: GCC 12 mishandles temporaries in some (see session.hpp).
      auto const ex = co_await asio::this_coro::executor;
      auto const cancellation = co_await asio::this_coro::cancellation_state;
      deadline_guard<asio::any_io_executor> guard(ex, deadline, cancellation);
      co_await limiter->acquire(guard.bind(asio::redirect_error(asio::use_awaitable, ec)));
      guard.done();
      if (ec && guard.expired()) co_return make_error_code(errc::timeout);
    }
    if (ec) co_return make_error_code(errc::cancelled);
    co_return ec;
  }

  // The exception in flight as the error of request `method url`: Asio's operation_aborted
  // (thrown when a cancelled coroutine awaits) as errc::cancelled, anything else with its code.
  static fanout::error current_exception_error(std::string_view method, std::string_view url) {
    auto e = error_from_current_exception();
    std::string context = std::string(method) + " " + std::string(url);
    if (e.code() == boost::asio::error::operation_aborted)
      return fanout::error(errc::cancelled, context + ": cancelled");
    return fanout::error(e.code(), context + ": " + e.message(), e.exception());
  }

  // How long to wait before the next attempt after `last`, the `failures`th failure, or
  // nullopt to stop: never once the session is closed or a sink has had bytes (`delivered`).
  std::optional<std::chrono::milliseconds> retry_delay(const result_type& last,
                                                       std::size_t failures,
                                                       const retry_policy& policy,
                                                       clock::time_point deadline, bool delivered,
                                                       std::minstd_rand& random) const {
    if (closed_.load() || delivered) return std::nullopt;
    std::optional<std::chrono::nanoseconds> time_left;
    if (deadline != clock::time_point::max()) time_left = deadline - clock::now();
    return retry_wait(outcome_of(last), policy.max_backoff, backoff_delay(policy, failures, random),
                      std::chrono::system_clock::now(), time_left);
  }

  // The proxies `req` goes through: the session's, or its own (made in `own`).
  const proxy_settings& proxies_for(const fanout::request& req, proxy_settings& own) const {
    if (!req.proxy) return proxies_;
    own.http = own.https = make_proxy_rule(*req.proxy, "request::proxy");
    return own;
  }

  // What the retry decision sees of an attempt's result.
  static attempt_outcome outcome_of(const result_type& r) {
    if (r) return {.status = r->status(), .retry_after = r->header("retry-after")};
    return {.error = r.error().code()};
  }

  // `raise_for_status`'s error for `r`, the outcome of `tries` attempts.
  static fanout::error status_error(const response& r, std::size_t tries) {
    std::string m;
    m.append(r.method()).append(" ").append(r.url()).append(": HTTP ");
    m.append(std::to_string(r.status())).append(" ").append(r.reason());
    if (tries > 1) m.append(" (after ").append(std::to_string(tries)).append(" attempts)");
    return fanout::error(http_errc::http_status, std::move(m));
  }

  // Why a step of a request failed: a classified code, a message naming the step, and the
  // exception a caller's callable threw, if that is why.
  struct step_failure {
    boost::system::error_code ec;
    std::string what;
    std::exception_ptr thrown = nullptr;
  };

  // The item's error for request `method shown` that failed with `f`.
  static result_type failed_result(std::string_view method, std::string_view shown,
                                   step_failure f) {
    std::string m;
    m.reserve(method.size() + shown.size() + f.what.size() + 3);
    m.append(method).append(" ").append(shown).append(": ").append(f.what);
    return result_type(boost::system::in_place_error, fanout::error(f.ec, std::move(m), f.thrown));
  }

  // A request's last word on `r`, the outcome of `tries` attempts that sent `sent` requests
  // since `start`: its counts and total time, `raise_for_status` applied when `raise`, and an
  // error saying how many attempts it took.
  static result_type finished(result_type r, int sent, clock::time_point start, bool raise,
                              std::size_t tries) {
    if (!r) {
      if (tries <= 1) return r;
      return result_type(boost::system::in_place_error, r.error().code(),
                         r.error().message() + " (after " + std::to_string(tries) + " attempts)");
    }
    response_access::attempts(*r) = sent;
    response_access::timings(*r).total = clock::now() - start;
    if (raise && r->status() >= 400 && r->path().empty())
      return result_type(boost::system::in_place_error, status_error(*r, tries));
    return r;
  }

  // The head of a streamed request body: its length, or chunked (RFC 9112 §6.1) when unknown.
  static void frame_upload(request_message& m, std::optional<std::uint64_t> length) {
    namespace http = boost::beast::http;
    m.body().clear();
    if (length) {
      m.erase(http::field::transfer_encoding);
      m.set(http::field::content_length, std::to_string(*length));
    } else {
      m.erase(http::field::content_length);
      m.set(http::field::transfer_encoding, "chunked");
    }
  }

  // One attempt's streamed bodies: the response's target (the retry loop's, or made here) and
  // the request's upload.
  struct attempt_bodies {
    explicit attempt_bodies(body_target* across_attempts) noexcept : target(across_attempts) {}
    body_target* target;
    std::optional<body_target> own_target;
    std::optional<upload_source> upload;

    exchange_source* source() noexcept { return upload ? &*upload : nullptr; }
    bool streamed() const noexcept { return target && target->took(); }

    // A followed redirect: 301/302/303 made a GET without a body; 307/308 send it again.
    step_failure redirected(bool to_get, int status, request_message& m) {
      if (!upload) return {};
      if (to_get) {
        upload.reset();
        return {};
      }
      if (!upload->rewind())
        return {make_error_code(http_errc::redirect_refused),
                "a " + std::to_string(status) +
                    " redirect needs the request body again, and a body::callback gives it once"};
      frame_upload(m, upload->length());
      return {};
    }

    // Why an exchange (or the target's finish) failed as `f` says: the upload's or the sink's
    // own account when it has one, and the exception it threw. Not when the request timed out
    // or was cancelled: a piece stopped for that complains of being stopped.
    step_failure why_failed(step_failure f) const {
      if (f.ec == errc::timeout || f.ec == errc::cancelled) return f;
      if (upload && !upload->what().empty())
        return {f.ec, std::string(upload->what()), upload->exception()};
      if (target && target->took() && !target->what().empty())
        return {f.ec, std::string(target->what()), target->exception()};
      return f;
    }
  };

  static bool streams_bodies(const fanout::request& req) noexcept {
    return !req.sink.in_memory() || req.upload.type() != body_source::kind::none;
  }

  // Sets up `b` for the attempt about to be made with `m`, when `streams_bodies(req)`: the
  // sink's target (see prepare_target) and the upload (its file opened, its framing in the
  // head). Files are looked at and opened on the writer thread.
  boost::asio::awaitable<step_failure> prepare_bodies(attempt_bodies& b, const fanout::request& req,
                                                      boost::asio::any_io_executor ex,
                                                      request_message& m, bool& decompress) {
    if (!b.target && !req.sink.in_memory()) {
      b.own_target.emplace(target_setup(req, ex, false));
      b.target = &*b.own_target;
    }
    if (b.target) {
      b.target->new_attempt();
      if (b.target->file()) co_await b.target->look_on_disk();
      if (auto failed = prepare_target(*b.target, req.sink.options(), m, decompress); failed.ec)
        co_return failed;
    }
    if (req.upload.type() == body_source::kind::none) co_return step_failure{};
    bool const file = req.upload.type() == body_source::kind::file;
    b.upload.emplace(
        upload_source::setup{.source = &req.upload,
                             .executor = ex,
                             .writer = file ? writer_executor() : boost::asio::any_io_executor()});
    if (auto ec = co_await b.upload->open()) co_return step_failure{ec, b.upload->what()};
    frame_upload(m, b.upload->length());
    co_return step_failure{};
  }

  // Prepares `target` for the attempt about to be made with `m`, from what it found on disk:
  // refuses to overwrite a file, asks for the rest of a `.part` to resume, and what coding to
  // ask for and undo.
  static step_failure prepare_target(body_target& target, const file_options& file,
                                     request_message& m, bool& decompress) {
    namespace http = boost::beast::http;
    if (auto* f = target.file()) {
      if (!file.overwrite && target.found().target_exists)
        return {make_error_code(std::errc::file_exists),
                f->path() + " exists (file_options::overwrite replaces it)"};
      // A range counts bytes of the representation as sent: a resumable download asks for
      // the identity coding, so that its .part is a prefix of what a Range addresses.
      if (file.resume && decompress) {
        m.set(http::field::accept_encoding, "identity");
        decompress = false;
      }
      if (file.resume && m.find(http::field::range) == m.end()) {
        auto const& part = target.found().part;
        auto const validator = part ? if_range_validator(part->validators) : std::nullopt;
        if (part && part->size > 0 && validator) {
          m.set(http::field::range, "bytes=" + std::to_string(part->size) + "-");
          m.set(http::field::if_range, *validator);
          target.resuming(part->size, *validator);
        }
      }
    }
    target.decode(decompress);
    return {};
  }

  // The final response is in: the target's rest goes out (and its file into place), or the
  // kept body goes to a callback that did not take it as it came.
  static boost::asio::awaitable<step_failure> finish_target(body_target& target, response& resp,
                                                            block_ptr& got_back) {
    boost::system::error_code ec;
    if (target.took()) {
      ec = co_await target.finish();
      if (!ec && target.decoded()) {
        // The head as the caller got the body: no longer coded, its length no longer known.
        response_builder decoded;
        decoded.begin_copy(*got_back, {"content-encoding", "content-length"}, 0);
        got_back = decoded.finish();
      }
    } else if (!target.kept_for_retry(got_back->status())) {
      ec = co_await target.deliver_kept(got_back->body());
    }
    if (ec) co_return step_failure{ec, target.what()};
    response_access::bytes_written(resp) = target.written();
    if (target.completed() && target.file()) response_access::path(resp) = target.file()->path();
    co_return step_failure{};
  }

  bool rate_limited() const noexcept {
    return session_limiter_ || options_.rate_limit.requests_per_second > 0;
  }

  // Takes this request's rate-limit tokens: the session's, then `origin`'s, waiting at most
  // until `deadline`. Fails with `errc::timeout` or `errc::cancelled` (cancelled or closed).
  boost::asio::awaitable<step_failure> wait_for_tokens(const std::string& origin,
                                                       clock::time_point deadline) {
    auto ec = co_await take_token(session_limiter_.get(), deadline);
    if (!ec) {
      auto const limiter = host_limiter(origin);
      ec = co_await take_token(limiter.get(), deadline);
    }
    if (!ec && closed_.load()) ec = make_error_code(errc::cancelled);
    if (ec == errc::timeout)
      co_return step_failure{ec, "timed out waiting for the rate limit to " + origin};
    if (ec) co_return step_failure{ec, closed_.load() ? "the session is closed" : "cancelled"};
    co_return step_failure{};
  }

  // A per-origin rate limiter and when a request last took it.
  struct host_limiter_entry {
    std::shared_ptr<async_rate_limiter> limiter;
    clock::time_point last_used{};
  };

  boost::asio::any_io_executor ex_;
  session_options options_;
  std::shared_ptr<transport> transport_;
  proxy_settings proxies_;
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> requests_{0}, retries_{0};
  std::unique_ptr<async_rate_limiter> session_limiter_;
  mutable std::mutex limiters_mutex_;
  lru_map<host_limiter_entry> host_limiters_;  // under `limiters_mutex_`
  std::mutex writer_mutex_;
  std::unique_ptr<boost::asio::thread_pool> writer_;  // downloads' file I/O; made on first use
};

// Not a coroutine: a request without retries goes straight to run_once (one frame less). The
// clock starts in the coroutines, when the request is awaited.
inline boost::asio::awaitable<session::result_type> session_impl::run(
    std::shared_ptr<session_impl> self, fanout::request req) {
  if (req.timeout && req.timeout->count() < 0) {
    std::string what = "request::timeout is negative (" + std::to_string(req.timeout->count()) +
                       " ms); 0 means none, unset the session's";
    return invalid(std::move(req), std::move(what));
  }
  if (req.retry) {
    try {
      validate(*req.retry, "request::retry");
    } catch (const std::invalid_argument& e) {
      return invalid(std::move(req), e.what());
    }
  }
  if (req.sink.type() == body_sink::kind::callback && !req.sink.on_piece())
    return invalid(std::move(req), "request::sink is a callback sink without a callback");
  if (req.sink.type() == body_sink::kind::file && req.sink.path().empty())
    return invalid(std::move(req), "request::sink is a file sink without a path");
  if (req.upload.type() != body_source::kind::none && (req.json || !req.body.empty()))
    return invalid(std::move(req), "request::upload with a body or json as well: choose one");
  if (req.upload.type() == body_source::kind::producer && !req.upload.producer())
    return invalid(std::move(req), "request::upload is a callback without a producer");
  bool const raise = req.raise_for_status.value_or(options_.raise_for_status);
  retry_policy const policy = req.retry.value_or(options_.retry);
  // A producer's body is given once: such a request is never repeated.
  bool const may_repeat = policy.max_attempts > 1 &&
                          req.upload.type() != body_source::kind::producer &&
                          (is_idempotent(req.method) ||
                           req.retry_non_idempotent.value_or(options_.retry_non_idempotent));
  if (!may_repeat) return run_once(std::move(self), std::move(req), std::nullopt, nullptr, raise);
  return run_retrying(std::move(self), std::move(req), policy, raise);
}

inline boost::asio::awaitable<session::result_type> session_impl::invalid(fanout::request req,
                                                                          std::string what) {
  co_return result_type(boost::system::in_place_error, make_error_code(http_errc::invalid_request),
                        req.method + " " + redact(req.url) + ": " + what);
}

inline boost::asio::awaitable<session::result_type> session_impl::run_retrying(
    std::shared_ptr<session_impl> self, fanout::request req, retry_policy policy, bool raise) {
  auto const within = window_for(req);
  int sent = 0;
  std::size_t tries = 0;
  result_type r(boost::system::in_place_error, make_error_code(errc::cancelled));
  try {
    std::minstd_rand random(std::random_device{}());
    std::optional<body_target> target;
    if (!req.sink.in_memory()) {
      auto ex = co_await asio::this_coro::executor;
      target.emplace(target_setup(req, std::move(ex), true));
    }
    auto attempt = [&]() -> asio::awaitable<result_type> {
      if (tries++ > 0) retries_.fetch_add(1, std::memory_order_relaxed);
      if (target) target->last_attempt(tries >= policy.max_attempts);
      fanout::request copy = req;
      co_return co_await run_once(self, std::move(copy), within, &sent, false,
                                  target ? &*target : nullptr);
    };
    auto decide = [&](const result_type& last, std::size_t failures) {
      bool const delivered = target && target->delivered();  // bytes out: not again
      return retry_delay(last, failures, policy, within.deadline, delivered, random);
    };
    r = co_await with_retry(policy, attempt, decide);
    // The policy gave up before its last attempt on a status whose body it kept: the body is
    // the final one after all.
    if (target && r && !target->took())
      if (auto const ec = co_await target->deliver_kept(r->body()))
        r = failed_result(req.method, redact(req.url), {ec, target->what(), target->exception()});
    // Cancelled during a backoff sleep: with_retry kept the last outcome, but the caller asked
    // to stop, and that is what we report.
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
      r = failed_result(req.method, redact(req.url),
                        {make_error_code(errc::cancelled), "cancelled"});
  } catch (...) {
    r = result_type(boost::system::in_place_error,
                    current_exception_error(req.method, redact(req.url)));
  }
  co_return finished(std::move(r), sent, within.start, raise, tries);
}

inline boost::asio::awaitable<session::result_type> session_impl::run_once(
    [[maybe_unused]] std::shared_ptr<session_impl> self, fanout::request req,
    std::optional<window> within, int* sent_out, bool raise, body_target* target) {
  if (!within) within = window_for(req);
  std::string current = std::move(req.url);
  std::string method = std::move(req.method);
  shown_url shown(current);
  int sent_here = 0;
  int& sent = sent_out ? *sent_out : sent_here;
  auto fail = [&](step_failure f) { return failed_result(method, shown.view(), std::move(f)); };
  auto const ex = co_await asio::this_coro::executor;
  attempt_bodies bodies(target);
  try {
    if (closed_.load()) co_return fail({make_error_code(errc::cancelled), "the session is closed"});
    // The request message, built once and adjusted by redirects. Its fields live in this
    // frame: the usual handful of headers costs no allocation.
    std::array<std::byte, 512> field_storage;
    std::pmr::monotonic_buffer_resource field_arena(field_storage.data(), field_storage.size());
    request_message m(std::piecewise_construct, std::make_tuple(),
                      std::make_tuple(std::pmr::polymorphic_allocator<char>(&field_arena)));
    url_parts where;
    bool decompress = false;
    {
      std::string what;
      if (auto ec = build_request(method, current, req, options_, where, m, decompress, what))
        co_return fail({ec, std::move(what)});
    }
    if (streams_bodies(req))
      if (auto failed = co_await prepare_bodies(bodies, req, ex, m, decompress); failed.ec)
        co_return fail(std::move(failed));

    proxy_settings own_proxies;  // this request's own, when it has them
    const proxy_settings& proxies = proxies_for(req, own_proxies);
    hop_state hop;
    response resp;
    block_ptr& got_back = response_access::block(resp);  // this hop's response
    // What the transport gets; the hop's own fields are set in the loop.
    exchange_request x{.message = &m,
                       .where = &where,
                       .max_header = max_header_bytes(),
                       .max_body = max_body_bytes(),
                       .deadline = within->deadline,
                       .out = &got_back,
                       .sink = bodies.target,
                       .max_sink_body = max_sink_body(),
                       .t = &response_access::timings(resp)};
    int attempts = 0;
    std::size_t redirects = 0;
    redirect_policy const redirect{.max_redirects = options_.max_redirects,
                                   .allow_https_downgrade = options_.allow_https_downgrade};

    for (;;) {  // one iteration per redirect hop
      auto const route = route_hop(proxies, where, m, hop);
      if (route.error) co_return fail({make_error_code(http_errc::invalid_url), *route.error});
      if (rate_limited()) {  // a coroutine only then: most sessions have no limits
        if (auto failed = co_await wait_for_tokens(where.origin, within->deadline); failed.ec)
          co_return fail(std::move(failed));
      }
      x.via = route.via;
      x.dial = &route.dial(where);
      x.url = current;
      x.shown = shown.view();
      x.method = method;
      x.upload = bodies.source();
      auto const sent_now = co_await transport_->async_exchange(x);
      attempts += sent_now.sent;
      sent += sent_now.sent;
      requests_.fetch_add(static_cast<std::size_t>(sent_now.sent), std::memory_order_relaxed);
      if (sent_now.ec) co_return fail(bodies.why_failed({sent_now.ec, sent_now.what}));
      response_access::bytes_received(resp) = sent_now.received;

      int const status = got_back->status();
      auto hop_next =
          next_hop(status, is_redirect_status(status) ? got_back->find("location") : std::nullopt,
                   method, current, where, redirects, redirect);
      if (hop_next.action == hop_decision::refuse)
        co_return fail({make_error_code(hop_next.error), std::move(hop_next.why)});
      if (hop_next.action == hop_decision::follow) {
        apply_hop(hop_next, m, method);
        if (auto failed = bodies.redirected(hop_next.to_get, status, m); failed.ec)
          co_return fail(std::move(failed));
        where = std::move(hop_next.where);
        current = std::move(hop_next.url);
        shown.set(current);
        ++redirects;
        continue;
      }
      // Transparent decompression, bounded by max_body_bytes (a sink's body: as it streamed).
      if (decompress && method != "HEAD" && status != 204 && status != 304 && !bodies.streamed()) {
        std::string what;
        if (auto ec = decode_response(got_back, max_body_bytes(), what))
          co_return fail({ec, std::move(what)});
      }
      break;
    }
    if (bodies.target)
      if (auto done = co_await finish_target(*bodies.target, resp, got_back); done.ec)
        co_return fail(bodies.why_failed(std::move(done)));
    response_access::redirects(resp) = static_cast<int>(redirects);
    co_return finished(result_type(std::move(resp)), attempts, within->start, raise, 1);
  } catch (...) {
    co_return result_type(boost::system::in_place_error,
                          current_exception_error(method, shown.view()));
  }
}

}  // namespace fanout::detail

namespace fanout {

FANOUT_DECL session::session(executor_type ex, session_options options)
    : impl_(std::make_shared<detail::session_impl>(std::move(ex), std::move(options))) {}

FANOUT_DECL session::~session() {
  if (impl_) impl_->close();
}

FANOUT_DECL boost::asio::awaitable<session::result_type> session::try_request(fanout::request req) {
  return impl_->run(impl_, std::move(req));
}

namespace detail {
// The response, or its error thrown. A coroutine of its own, not a member of `session`: what it
// awaits holds the session's internals, never the session object, which may be moved or
// destroyed before the request is awaited.
FANOUT_DECL boost::asio::awaitable<response> value_or_throw(
    boost::asio::awaitable<session::result_type> run) {
  auto r = co_await std::move(run);
  if (!r) throw system_error(std::move(r).error());
  co_return std::move(*r);
}
}  // namespace detail

// Not a coroutine (nor are the members below): see value_or_throw.
FANOUT_DECL boost::asio::awaitable<response> session::request(fanout::request req) {
  return detail::value_or_throw(impl_->run(impl_, std::move(req)));
}

FANOUT_DECL boost::asio::awaitable<response> session::get(std::string url, header_list headers) {
  return request(
      fanout::request{.method = "GET", .url = std::move(url), .headers = std::move(headers)});
}
FANOUT_DECL boost::asio::awaitable<response> session::head(std::string url, header_list headers) {
  return request(
      fanout::request{.method = "HEAD", .url = std::move(url), .headers = std::move(headers)});
}
FANOUT_DECL boost::asio::awaitable<response> session::del(std::string url, header_list headers) {
  return request(
      fanout::request{.method = "DELETE", .url = std::move(url), .headers = std::move(headers)});
}
FANOUT_DECL boost::asio::awaitable<response> session::post(std::string url, nlohmann::json body,
                                                           header_list headers) {
  return request(fanout::request{.method = "POST",
                                 .url = std::move(url),
                                 .headers = std::move(headers),
                                 .json = std::move(body)});
}
FANOUT_DECL boost::asio::awaitable<response> session::put(std::string url, nlohmann::json body,
                                                          header_list headers) {
  return request(fanout::request{.method = "PUT",
                                 .url = std::move(url),
                                 .headers = std::move(headers),
                                 .json = std::move(body)});
}
FANOUT_DECL boost::asio::awaitable<response> session::patch(std::string url, nlohmann::json body,
                                                            header_list headers) {
  return request(fanout::request{.method = "PATCH",
                                 .url = std::move(url),
                                 .headers = std::move(headers),
                                 .json = std::move(body)});
}

FANOUT_DECL boost::asio::awaitable<response> session::download(std::string url, std::string path,
                                                               file_options options,
                                                               header_list headers) {
  return request(fanout::request{.method = "GET",
                                 .url = std::move(url),
                                 .headers = std::move(headers),
                                 .raise_for_status = true,
                                 .sink = body_sink::file(std::move(path), options)});
}

FANOUT_DECL void session::close() {
  if (impl_) impl_->close();
}
FANOUT_DECL session::executor_type session::get_executor() const noexcept {
  return impl_->executor();
}
FANOUT_DECL const session_options& session::options() const noexcept {
  return impl_->options();
}
FANOUT_DECL session_stats session::stats() const {
  return impl_->stats();
}

}  // namespace fanout

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif
