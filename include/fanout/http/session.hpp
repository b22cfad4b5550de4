#ifndef FANOUT_HTTP_SESSION_HPP
#define FANOUT_HTTP_SESSION_HPP

#include <fanout/config.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/options.hpp>
#include <fanout/http/request.hpp>
#include <fanout/http/response.hpp>
#include <fanout/http/stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>

namespace fanout {

namespace detail {
class session_impl;
}

/// A shared, connection-pooled HTTP/1.1 + HTTPS client.
///
/// One session serves any number of concurrent requests, from coroutines on one thread or on
/// a multi-threaded executor (`asio::thread_pool`, an `io_context` run by several threads): its
/// state is guarded by a mutex and every connection does its I/O on its own strand, so
/// requests need no external synchronisation. Connections are pooled per (scheme, host, port)
/// and reused while alive (see `session_options` for caps and timeouts).
///
/// Lifetime: the session may be destroyed while requests are in flight: the destructor calls
/// `close()`, and the requests still running fail with `errc::cancelled` and keep the internals
/// alive until they finish. The executor's execution context must outlive those requests.
/// A request made but not yet awaited holds the internals too, never the session object: the
/// session may be moved meanwhile (the request runs as usual) or destroyed (it fails with
/// `errc::cancelled`, "the session is closed"). A moved-from session may only be destroyed or
/// assigned to.
///
/// GCC 12 pitfalls (compiler bugs, not fanout's): inside a coroutine, (1) an aggregate
/// temporary such as `fanout::request{...}` written inside a `co_await` expression has its
/// std::string members copied bitwise, and the program later frees a bad pointer; (2) an
/// initializer list of string literals inside a `co_await` expression, such as
/// `co_await http.post(u, nlohmann::json{{"k", 1}})`, fails to compile ("array used as
/// initializer"). Name such values first:
/// `fanout::request req{.method = "POST", .url = u}; co_await http.request(req);`
///
/// \code
/// fanout::session http{io.get_executor(), {.max_connections_per_host = 8}};
/// fanout::response r = co_await http.get("https://example.com/items/42");
/// if (r.ok()) use(r.json<item>());
/// \endcode
class session {
 public:
  using executor_type = boost::asio::any_io_executor;
  /// What `try_request` completes with; the same type as `fanout::result<response>`.
  using result_type = boost::system::result<response, fanout::error>;

  /// A session whose connections, timers and resolver run on `ex`. Throws `fanout::system_error`
  /// (`http_errc::tls`) when `options.ca_file` cannot be loaded.
  explicit session(executor_type ex, session_options options = {});

  /// A session on `ctx.get_executor()` (an `io_context`, a `thread_pool`).
  template <class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit session(ExecutionContext& ctx, session_options options = {})
      : session(executor_type(ctx.get_executor()), std::move(options)) {}

  session(session&&) noexcept = default;
  session& operator=(session&&) noexcept = default;
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Calls `close()`.
  ~session();

  /// Sends `req` and reads the whole response, following redirects.
  ///
  /// Completion: the response whatever its status (unless `raise_for_status`). Nothing is sent
  /// before the returned awaitable is awaited; the request's timeout runs from then.
  /// Executor: runs on the awaiting coroutine's executor, the socket I/O on the connection's
  /// strand.
  /// Cancellation: terminal cancellation of the awaiting coroutine abandons the request
  /// promptly: the connection it used is closed and the result is `errc::cancelled`; so does
  /// cancelling it during a retry's backoff sleep or a rate limiter's wait.
  /// Object lifetimes: `req` is moved in. The awaitable holds the session's internals, not the
  /// session object (see the class: it may be moved or destroyed before the co_await). The
  /// response owns its memory; the views it gives out live as long as it.
  /// Errors: throws `fanout::system_error` carrying a `fanout::error` whose code says what
  /// failed (`timeout`, `tls`, `invalid_url`, `connection_refused`, `cancelled`, ...) and whose
  /// message names the method, the URL and what happened:
  /// "GET http://127.0.0.1:4321/x: Connection refused (while connecting)".
  /// Thread safety: any number of requests may run at once, from any threads.
  ///
  /// Under a retry policy (`session_options::retry`, `request::retry`), completes with the last
  /// attempt's outcome; `response::attempts()` counts every request sent, and an error's message
  /// ends with "(after N attempts)" when there was more than one.
  boost::asio::awaitable<response> request(fanout::request req);

  /// As `request`, but reports every failure as a value instead of throwing (the same lifetimes).
  boost::asio::awaitable<result_type> try_request(fanout::request req);

  boost::asio::awaitable<response> get(std::string url, header_list headers = {});
  boost::asio::awaitable<response> head(std::string url, header_list headers = {});
  boost::asio::awaitable<response> del(std::string url, header_list headers = {});
  /// POST, PUT, PATCH with a JSON body (`Content-Type: application/json`). For other bodies
  /// use `request(fanout::request{.method = "POST", .url = u, .body = b})`.
  boost::asio::awaitable<response> post(std::string url, nlohmann::json body,
                                        header_list headers = {});
  boost::asio::awaitable<response> put(std::string url, nlohmann::json body,
                                       header_list headers = {});
  boost::asio::awaitable<response> patch(std::string url, nlohmann::json body,
                                         header_list headers = {});

  /// GETs `url` into the file `path`, streaming: the body is never held in memory.
  ///
  /// Completion: the response (head only: `body()` is empty) once the file is complete, with
  /// `path()` and `bytes_written()`; a status >= 400 is an error (`raise_for_status`). The body
  /// goes to `<path>.part`, decoded from gzip/deflate unless `options.resume`, and in blocks of
  /// 256 KiB written on the session's writer thread, never on the event loop; the connection
  /// reads no further while a block is written. Complete, the `.part` is `fsync`ed (with
  /// `options.fsync`) and renamed over `path` (atomic on one file system).
  /// Resume: with `options.resume`, a `.part` left by an earlier attempt is continued with
  /// `Range: bytes=N-` and `If-Range` (the strong ETag or the Last-Modified date it was
  /// written under, kept in `<path>.part.meta`): 206 appends, 200 (the file changed) starts
  /// over, 416 for exactly the `.part`'s length completes it; a 206 from another offset, a 416
  /// for another length or an ETag that changed under a 206 fail with
  /// `http_errc::resume_failed` and leave the `.part` as it was.
  /// Executor, cancellation, thread safety: as `request`. Cancellation and every failure keep
  /// the `.part` (a correct prefix of the body) and its sidecar.
  /// Errors: those of `request`, and: `std::errc::file_exists` before any I/O when `path`
  /// exists and not `options.overwrite`; errno's code (`ENOSPC`, `EFBIG`, `EACCES`...) with
  /// the file and the step in the message; `http_errc::body_too_large` beyond
  /// `max_download_bytes`. A download whose body has begun is not retried.
  boost::asio::awaitable<response> download(std::string url, std::string path,
                                            file_options options = {}, header_list headers = {});

  /// Closes every pooled connection, cancels requests in flight (they fail with
  /// `errc::cancelled`) and makes later requests fail the same way. Thread-safe, idempotent.
  void close();

  executor_type get_executor() const noexcept;
  const session_options& options() const noexcept;
  session_stats stats() const;

 private:
  std::shared_ptr<detail::session_impl> impl_;
};

}  // namespace fanout

// Header-only (the default): the definitions are here. With FANOUT_SEPARATE_COMPILATION, in the
// one unit that includes <fanout/src.hpp>.
#ifndef FANOUT_SEPARATE_COMPILATION
#include <fanout/http/impl/session.ipp>
#endif

#endif
