#ifndef FANOUT_HTTP_DETAIL_HTTP1_CONNECTION_HPP
#define FANOUT_HTTP_DETAIL_HTTP1_CONNECTION_HPP

#include <fanout/config.hpp>
#include <fanout/http/detail/http1/response_head.hpp>
#include <fanout/http/detail/http1/response_reader.hpp>
#include <fanout/http/detail/net/classify.hpp>
#include <fanout/http/detail/net/handler_memory.hpp>
#include <fanout/http/detail/net/strand_executor.hpp>
#include <fanout/http/detail/net/tls.hpp>
#include <fanout/http/detail/net/tunnel.hpp>
#include <fanout/http/detail/sansio/request_builder.hpp>
#include <fanout/http/detail/sansio/serialize.hpp>
#include <fanout/http/error.hpp>
#include <fanout/http/response.hpp>
#include <fanout/http/transport.hpp>
#include <fanout/http/url.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/socket.h>
#include <cerrno>
#endif

namespace fanout::detail {

/// One HTTP/1.1 connection (plain or TLS) to one origin, with its own strand.
///
/// Every operation on it runs on `strand()` (`connect` as a coroutine the session spawns there,
/// `async_exchange` as a composed operation that hops there), so the deadline timer (which
/// cancels the socket's operations) never races the socket. One
/// request at a time: the pool hands a connection to one request only. The read buffer and the
/// verify callback are set up once per connection and reused by every request on it.
class connection : public std::enable_shared_from_this<connection> {
 public:
  using clock = std::chrono::steady_clock;
  // I/O objects typed on the strand itself (see strand_executor for why not any_io_executor).
  using strand_type = strand_executor;
  using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, strand_type>;
  using tls_stream_type = boost::asio::ssl::stream<socket_type>;
  using timer_type =
      boost::asio::basic_waitable_timer<clock, boost::asio::wait_traits<clock>, strand_type>;
  template <class T>
  using awaitable = boost::asio::awaitable<T, strand_type>;
  static constexpr boost::asio::use_awaitable_t<strand_type> use_strand{};
  using request_fields = ::fanout::detail::request_fields;
  using request_message = ::fanout::detail::request_message;

  /// What a step reports besides its error code.
  struct outcome {
    boost::system::error_code ec;   ///< classified (see `detail::classify`)
    boost::system::error_code raw;  ///< as the socket or parser reported it
    std::string what;               ///< human description when `ec` is set
    stage where = stage::connect;
    bool got_response_bytes = false;  ///< for the stale-connection retry rule
    bool keep_alive = false;          ///< the response allows another request on the connection
    std::uint64_t received = 0;       ///< the final response's body bytes, as received
  };

  connection(const boost::asio::any_io_executor& ex, const url_parts& where)
      : strand_(ex),
        origin_(where.origin),
        host_(where.host),
        https_(where.https),
        watchdog_(strand_) {
    tcp_.emplace(strand_);
  }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { mark_clean_shutdown(); }

  strand_type& strand() noexcept { return strand_; }
  const std::string& origin() const noexcept { return origin_; }
  /// Set before `connect()` for https through a proxy: the endpoints are the proxy's, and a
  /// CONNECT tunnel is opened before the TLS handshake (which still verifies the origin).
  std::optional<tunnel_target> tunnel;

  /// Connects to the first reachable endpoint, then (for https) does the TLS handshake with
  /// SNI, peer and host name verification, and session resumption. Runs on `strand()`.
  awaitable<outcome> connect(const boost::asio::ip::tcp::resolver::results_type& endpoints,
                             tls_context* tls, bool verify, clock::time_point deadline,
                             fanout::timings& t) {
    outcome o;
    boost::system::error_code ec;
    auto t0 = clock::now();
    arm(deadline);
    // The endpoints in turn, as asio::async_connect does, but opening each socket here: it
    // reports a socket that could not be opened (EMFILE) as operation_aborted, which the
    // session must tell from a cancellation.
    ec = asio::error::not_found;  // no endpoint, as async_connect says
    for (auto const& e : endpoints) {
      tcp_->close(ec);
      tcp_->open(e.endpoint().protocol(), ec);
      if (ec) break;  // out of descriptors, say: another endpoint would fare no better
      co_await tcp_->async_connect(e.endpoint(), asio::redirect_error(use_strand, ec));
      if (!ec || ec == asio::error::operation_aborted) break;  // connected, timed out, cancelled
    }
    auto t1 = clock::now();
    t.connect += t1 - t0;
    if (ec) {
      disarm();
      o.where = stage::connect;
      o.ec = classify(timed_out(ec), stage::connect, X509_V_OK, o.what);
      co_return o;
    }
    tcp_->set_option(asio::ip::tcp::no_delay(true), ec);
    if (tunnel) {
      auto const tunnel_ec =
          co_await async_open_tunnel(*tcp_, buffer_, *tunnel, std::size_t(64) << 10, o.what);
      if (tunnel_ec) {
        disarm();
        o.where = stage::connect;
        o.raw = timed_out(tunnel_ec);
        o.ec = tunnel_ec == http_errc::proxy ? tunnel_ec
                                             : classify(o.raw, stage::connect, X509_V_OK, o.what);
        co_return o;
      }
      t.connect += clock::now() - t1;
      t1 = clock::now();
    }
    if (!https_) {
      disarm();
      // Plain requests are first written without waiting (see exchange_op): a full socket
      // buffer must answer would_block, not block the thread.
      tcp_->non_blocking(true, ec);
      co_return o;
    }

    tls_.emplace(std::move(*tcp_), tls->native());
    tcp_.reset();
    SSL* ssl = tls_->native_handle();
    tls->prepare(ssl, host_, origin_);
    if (verify) tls_->set_verify_callback(verify_host(host_));
    co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                   asio::redirect_error(use_strand, ec));
    disarm();
    t.tls += clock::now() - t1;
    if (ec) {
      o.where = stage::tls;
      o.ec = classify(timed_out(ec), stage::tls, SSL_get_verify_result(ssl), o.what);
      co_return o;
    }
    tls_resumed_ = SSL_session_reused(ssl) == 1;
    tls_clean_ = true;
    co_return o;
  }

  /// What one exchange sends and where it puts the answer; referred to until it completes.
  struct exchange_args {
    const request_message* req;
    bool head = false;
    std::size_t max_header = 0;  ///< header block limit
    std::size_t max_body = 0;    ///< body limit
    clock::time_point deadline;  ///< for the whole exchange
    std::string_view url;        ///< this hop's URL and method, kept in the response
    std::string_view method;
    block_ptr* out;
    fanout::timings* t;
    exchange_sink* sink = nullptr;      ///< takes the final body as it arrives, if it wants it
    std::uint64_t max_sink_body = 0;    ///< the limit of a body it takes
    exchange_source* upload = nullptr;  ///< the request's body, streamed after its head
  };

  /// Sends `*a.req` and reads the whole response into `*a.out`, all before `a.deadline`; or,
  /// when `a.sink` takes the final response's body, the head into `*a.out` and the body to the
  /// sink, piece by piece, reading no further while the sink works on one.
  /// Completes with an `outcome` through `token`'s executor; the I/O runs on `strand()`.
  /// `a` (or, with a deferred token, the operation's copy of it) must outlive the operation.
  ///
  /// A composed operation, not a coroutine spawned on the strand: a keep-alive request then
  /// costs two hand-offs (onto the strand and back) instead of a coroutine, its launcher,
  /// cancellation state and work guards (about 13 allocations). Cancelling the caller's slot
  /// cancels the socket's operations on the strand; the result is `errc::cancelled`.
  ///
  /// The caller's handler is type-erased on the way in: the socket, TLS and parser operations
  /// below are then compiled once per stream type, not again for every caller's handler type
  /// (a user's file compiles all of them in the header-only mode).
  template <class CompletionToken>
  auto async_exchange(const exchange_args& a, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(outcome)>(
        [this](auto handler, const exchange_args& args) {
          // The caller's executor is kept busy while we are away, unless the socket's pending
          // operations already do (the same execution context): that guard costs a copy of
          // the caller's executor. Asked here, where the executor's type is still known.
          auto ex = asio::get_associated_executor(handler, strand_);
          static_assert(std::is_convertible_v<decltype(ex), boost::asio::any_io_executor>,
                        "the caller's executor is kept as an any_io_executor");
          bool const same_context = &asio::query(ex, asio::execution::context) ==
                                    &asio::query(strand_, asio::execution::context);
          // The caller's executor is taken here too, as an any_io_executor: asking the erased
          // handler for it later wraps it in an any_completion_executor, which does not fit
          // that one's small buffer (two allocations per exchange).
          // The arguments travel with the operation (by address: see async_exchange): args_ is
          // connection state, written on the strand only (this runs on the caller's thread).
          exchange_op::launch(*this, caller_handler(std::move(handler)),
                              boost::asio::any_io_executor(std::move(ex)), args, !same_context);
        },
        token, a);
  }

  /// True when nothing is left unread: a response was consumed exactly, so the connection can
  /// carry the next request.
  bool clean() const noexcept { return reusable_ && buffer_.size() == 0; }

  /// Whether an idle pooled connection still looks usable: false when the server has closed it
  /// or sent bytes nobody asked for (they would be read as the next request's response). A
  /// non-blocking peek, no I/O wait. From any thread: the pool calls it off the strand, where
  /// close() may run meanwhile.
  bool alive() {
    std::lock_guard lock(close_mutex_);
    auto& sock = socket();
    if (!sock.is_open() || buffer_.size() != 0) return false;
    // Over TLS, records may wait in the stream's own input buffer, out of a peek's sight, and
    // those on the socket may carry no data (a late session ticket, a key update): decrypt
    // what has arrived, without waiting, and see.
    if (tls_) return tls_idle_records_harmless();
#if defined(__unix__) || defined(__APPLE__)
    char c;
    auto n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return false;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
#else
    boost::system::error_code ec;
    return sock.available(ec) == 0 && !ec;
#endif
  }

  bool tls_resumed() const noexcept {
    return tls_resumed_;
  }

  /// Closes the socket at once (no TLS close_notify: like browsers, we do not wait for the
  /// peer). Cancels whatever is pending. Call on `strand()`.
  void close() noexcept {
    mark_clean_shutdown();
    boost::system::error_code ec;
    auto& sock = socket();
    {
      std::lock_guard lock(close_mutex_);  // against alive()
      sock.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      sock.close(ec);
    }
    watchdog_.cancel();
    watch_armed_ = false;
  }

  socket_type& socket() noexcept {
    return tls_ ? tls_->next_layer() : *tcp_;
  }

 private:
  using caller_handler = boost::asio::any_completion_handler<void(outcome)>;
  using wire_buffers = std::array<boost::asio::const_buffer, 2>;  // the head, then the body

  // Bodies up to this size are copied behind the head: one buffer, one TLS record.
  static constexpr std::size_t copied_body = 4096;

  // True when the TLS records that arrived on the idle connection hold no application data
  // and no close_notify: reading them then ends in would_block, with nothing read. (A byte
  // read here is lost, but such a connection is dropped anyway.)
  bool tls_idle_records_harmless() {
    auto& sock = tls_->next_layer();
    boost::system::error_code ec, ignored;
    sock.non_blocking(true, ec);
    if (ec) return false;
    char c;
    auto const n = tls_->read_some(boost::asio::buffer(&c, 1), ec);
    sock.non_blocking(false, ignored);
    return n == 0 && ec == boost::asio::error::would_block;
  }

  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*tcp_);
  }

  // Cancels the I/O of exchange number `gen`, if it is still the current one. On the strand.
  void cancel_exchange(std::uint64_t gen) {
    if (exchange_gen_.load(std::memory_order_relaxed) != gen) return;
    cancelled_ = true;  // also stops a step whose operation has not started yet
    boost::system::error_code ignored;
    socket().cancel(ignored);
    stop_body_parties();
  }

  // A sink or a source working on a piece has no socket operation to cancel: told instead.
  void stop_body_parties() noexcept {
    if (sink_busy_ && args_.sink) args_.sink->cancel();
    if (source_busy_ && args_.upload) args_.upload->cancel();
  }

  // Installed in the caller's cancellation slot: hands the cancellation to the strand. A raw
  // pointer: the slot is cleared before the caller's handler runs, and until then the caller
  // holds the connection.
  struct exchange_canceller {
    exchange_canceller(connection* c, std::uint64_t g) noexcept : conn(c), gen(g) {}
    connection* conn;
    std::uint64_t gen;
    void operator()(boost::asio::cancellation_type type) const {
      if (type == boost::asio::cancellation_type::none) return;
      auto& strand = conn->strand_;
      boost::asio::post(strand,
                        [c = conn->shared_from_this(), gen = gen] { c->cancel_exchange(gen); });
    }
  };

  // The steps of async_exchange: write, read the header, read the body. Each runs on the
  // strand; the caller's handler is invoked through its own executor.
  class exchange_op {
   public:
    static void launch(connection& c, caller_handler handler,
                       boost::asio::any_io_executor handler_ex, const exchange_args& args,
                       bool track_work) {
      auto const gen = c.exchange_gen_.fetch_add(1, std::memory_order_relaxed) + 1;
      exchange_op op(c, std::move(handler), std::move(handler_ex), args, track_work);
      if (op.slot_.is_connected()) op.slot_.emplace<exchange_canceller>(&c, gen);
      auto& strand = c.strand_;
      asio::dispatch(asio::bind_executor(strand, std::move(op)));
    }

    exchange_op(exchange_op&&) noexcept = default;

    // The socket operations of the exchange take their memory from the connection.
    using allocator_type = handler_allocator<void>;
    allocator_type get_allocator() const noexcept { return allocator_type(c_->op_memory_); }

   private:
    // Defined before their first use: the class is not a template.
    // The part of `wire` not yet written when `n` bytes of it were.
    static wire_buffers after(const wire_buffers& wire, std::size_t n) noexcept {
      if (n < wire[0].size()) return {wire[0] + n, wire[1]};
      return {boost::asio::const_buffer(), wire[1] + (n - wire[0].size())};
    }

    auto next() { return boost::asio::bind_executor(c_->strand_, std::move(*this)); }

    // Reads what arrives into the buffer; the step says what to do with it. A body is read
    // in blocks of up to 64 KiB (Beast's read_size offers what the buffer already holds, which
    // after a head is about 1 KiB: a large body would take a read per KiB), a streamed one in
    // blocks of 256 KiB (a download: fewer reads and fewer handoffs to the sink, for a buffer
    // only its connection holds).
    void read_more() {
      auto& c = *c_;
      auto const room = step_ != step::body      ? boost::beast::read_size(c.buffer_, 65536)
                        : c.parser_->streaming() ? streamed_read_size
                                                 : body_read_size;
      c.with_stream([&](auto& stream) { stream.async_read_some(c.buffer_.prepare(room), next()); });
    }
    static constexpr std::size_t body_read_size = 64 << 10;
    static constexpr std::size_t streamed_read_size = 256 << 10;

   public:
    // The first step: send the request.
    void operator()() {
      auto& c = *c_;
      c.args_ = *args_;
      c.cancelled_ = false;
      c.arm(c.args_.deadline);
      c.sent_ = clock::now();
      step_ = step::write;
      boost::system::error_code ec;
      auto const wire = c.serialize_request(ec);
      if (ec) return finish(c.write_failed(ec));
      std::size_t sent = 0;
      if (!c.tls_ && c.tcp_->non_blocking()) {
        // A request usually fits the socket's send buffer: written now, it spares the round
        // through the scheduler that async_write's completion costs. Whatever stops it
        // (would_block, or an error the asynchronous write will meet and report) leaves the
        // rest to async_write.
        sent = asio::write(*c.tcp_, wire, ec);
        if (!ec) return (*this)(ec);
      }
      c.with_stream([&](auto& stream) { asio::async_write(stream, after(wire, sent), next()); });
    }

    void operator()(boost::system::error_code ec, std::size_t n = 0) {
      auto& c = *c_;
      // Cancelled or timed out while the source or the sink worked (no socket operation was
      // pending: they were told to stop, see cancel_exchange): that is the outcome, whatever
      // error the stopped piece reports.
      if (step_ == step::upload_read) {  // the source gave the next piece, or failed
        c.source_busy_ = false;
        if (c.cancelled_ || c.timed_out_)
          return finish(c.write_failed(boost::asio::error::operation_aborted));
        if (ec) return finish(c.body_failed(ec, stage::write, "the request body"));
        return send_piece(n);
      }
      if (step_ == step::sink) {  // the sink is done with the piece, or failed
        c.sink_busy_ = false;
        if (c.cancelled_ || c.timed_out_)
          return finish(c.read_done(boost::asio::error::operation_aborted));
        if (ec) return finish(c.body_failed(ec, stage::read, "the body sink"));
        c.buffer_.consume(std::exchange(c.piece_used_, 0));
        return stream_body();
      }
      if (!ec && c.cancelled_) ec = boost::asio::error::operation_aborted;
      switch (step_) {
        case step::write:
          if (ec) return finish(c.write_failed(ec));
          if (c.args_.upload) return next_piece();
          return begin_response();
        case step::upload_write:
          if (ec) return finish(c.write_failed(ec));
          if (!c.upload_ended_) return next_piece();
          return begin_response();
        case step::upload_read: break;  // handled above
        case step::header:
          if (ec) return finish(c.read_done(c.head_read_failed(ec)));
          c.buffer_.commit(n);
          c.got_bytes_ = true;
          return read_head();
        case step::body:
          if (ec == boost::asio::error::eof) {
            // The end of the connection after the head: it ends a body delimited by it, and
            // truncates any other (put_eof says partial_message), as Beast's own read does.
            ec = {};
            c.parser_->put_eof(ec);
            return finish(c.read_done(ec));
          }
          if (ec) return finish(c.read_done(ec));
          c.buffer_.commit(n);
          if (c.parser_->streaming()) return stream_body();
          if (c.parse_buffered(ec)) return finish(c.read_done(ec));
          return read_more();
        case step::sink: break;  // handled above
      }
    }

   private:
    enum class step : unsigned char { write, upload_read, upload_write, header, body, sink };

    // The request is out: the response's head is next.
    void begin_response() {
      auto& c = *c_;
      c.start_parser();
      c.got_bytes_ = false;
      c.close_after_ = false;
      c.head_error_ = nullptr;
      step_ = step::header;
      read_head();
    }

    // Asks the source for the next piece of a streamed request body, into the upload buffer
    // behind room for a chunk-size line.
    void next_piece() {
      auto& c = *c_;
      if (!c.upload_buffer_) c.upload_buffer_ = std::make_unique<char[]>(upload_buffer_size);
      step_ = step::upload_read;
      c.source_busy_ = true;
      c.args_.upload->async_read(
          std::span<char>(c.upload_buffer_.get() + chunk_line_room, upload_piece_size), next());
    }

    // Writes the piece the source gave (n bytes; 0: the end), framed as a chunk when the head
    // says chunked (RFC 9112 §7.1).
    void send_piece(std::size_t n) {
      auto& c = *c_;
      char* const data = c.upload_buffer_.get() + chunk_line_room;
      boost::asio::const_buffer out;
      if (c.args_.req->chunked()) {
        if (n == 0) {
          static constexpr char last_chunk[] = "0\r\n\r\n";
          out = boost::asio::buffer(last_chunk, sizeof last_chunk - 1);
        } else {
          char line[chunk_line_room];
          int const len = std::snprintf(line, sizeof line, "%zx\r\n", n);
          std::memcpy(data - len, line, static_cast<std::size_t>(len));
          data[n] = '\r';
          data[n + 1] = '\n';
          out = boost::asio::buffer(data - len, static_cast<std::size_t>(len) + n + 2);
        }
      } else {
        if (n == 0) return begin_response();
        out = boost::asio::buffer(data, n);
      }
      c.upload_ended_ = n == 0;
      step_ = step::upload_write;
      c.with_stream([&](auto& stream) { asio::async_write(stream, out, next()); });
    }

    static constexpr std::size_t chunk_line_room = 24;  // "ffffffffffffffff\r\n"
    static constexpr std::size_t upload_piece_size = 256 << 10;
    static constexpr std::size_t upload_buffer_size = chunk_line_room + upload_piece_size + 2;
    exchange_op(connection& c, caller_handler handler, boost::asio::any_io_executor handler_ex,
                const exchange_args& args, bool track_work)
        : c_(&c),
          args_(&args),
          handler_(std::move(handler)),
          handler_ex_(std::move(handler_ex)),
          slot_(boost::asio::get_associated_cancellation_slot(handler_)) {
      if (track_work)
        work_.emplace(asio::prefer(handler_ex_, asio::execution::outstanding_work.tracked));
    }

    // Parses the heads buffered (1xx ones are skipped), reading more while the final one is
    // incomplete; then the body.
    void read_head() {
      auto& c = *c_;
      boost::system::error_code ec;
      switch (c.parse_heads(ec)) {
        case head_step::need_more: return read_more();
        case head_step::failed: return finish(c.read_done(ec));
        case head_step::final:
          c.head_done_ = clock::now();
          c.args_.t->ttfb = c.head_done_ - c.sent_;
          if (c.args_.sink) {
            bool took = false;
            try {
              took = c.offer_body();
            } catch (const std::bad_alloc&) {
              return finish(c.read_done(make_error_code(std::errc::not_enough_memory)));
            }
            if (took) return stream_body();
          }
          if (!c.parser_->is_done() && !c.parse_buffered(ec)) {
            step_ = step::body;
            return read_more();
          }
          return finish(c.read_done(ec));
      }
    }

    // Parses the buffered body one piece at a time and hands each to the sink (the buffer is
    // consumed once the sink is done with it: the piece is a view into it); reads more when it
    // is used up.
    void stream_body() {
      auto& c = *c_;
      for (;;) {
        if (c.parser_->is_done()) return finish(c.read_done({}));
        if (c.buffer_.size() == 0) {
          step_ = step::body;
          return read_more();
        }
        boost::system::error_code ec;
        auto const used = c.parser_->put(c.buffer_.data(), ec);
        if (ec == boost::beast::http::error::need_more) {
          ec = {};
          if (used == 0) {  // an incomplete chunk header: more bytes behind it
            step_ = step::body;
            return read_more();
          }
        }
        if (ec) return finish(c.read_done(ec));
        if (auto const piece = c.parser_->take_piece(); !piece.empty()) {
          c.piece_used_ = used;
          step_ = step::sink;
          c.sink_busy_ = true;
          return c.args_.sink->async_write(piece, next());
        }
        c.buffer_.consume(used);
      }
    }

    void finish(outcome o) {
      auto ex = std::move(handler_ex_);
      asio::dispatch(ex, [h = std::move(handler_), o = std::move(o), slot = slot_,
                          work = std::move(work_)]() mutable {
        if (slot.is_connected()) slot.clear();
        work.reset();
        std::move(h)(std::move(o));
      });
    }

    connection* c_;
    // Copied into the connection by the first step, on the strand. A pointer: the operation
    // is moved at every step, and the caller keeps the arguments until it completes.
    const exchange_args* args_;
    caller_handler handler_;
    boost::asio::any_io_executor handler_ex_;  // the handler's own, kept from the initiation
    boost::asio::cancellation_slot slot_;
    std::optional<boost::asio::any_io_executor> work_;  // tracked: see async_exchange
    step step_ = step::write;                           // operator()() starts there
  };

  // The request as buffers to write: its head serialized into wire_ (which keeps its capacity
  // for the next request), then its body where it is, unless small enough to copy behind the
  // head. A chunked body (the caller's Transfer-Encoding) is serialized whole.
  wire_buffers serialize_request(boost::system::error_code& ec) {
    auto const& req = *args_.req;
    wire_.clear();
    std::string_view body;
    upload_ended_ = false;
    if (args_.upload) {  // the head only: the body follows from the source
      serialize_message(req, wire_, true, ec);
    } else if (req.chunked()) {
      serialize_message(req, wire_, false, ec);
    } else {
      serialize_message(req, wire_, true, ec);
      body = req.body();
      if (body.size() <= copied_body) {
        wire_.append(body);
        body = {};
      }
    }
    return {boost::asio::buffer(wire_), boost::asio::buffer(body)};
  }

  void start_parser() {
    builder_.begin(args_.url, args_.method, args_.max_body);
    parser_.emplace(builder_,
                    response_reader::limits{.header = args_.max_header,
                                            .body = args_.max_body,
                                            .streamed_body = args_.sink ? args_.max_sink_body : 0,
                                            .head = args_.head,
                                            .body_hint = body_hint_});
  }

  // Shows the final head to the sink: true when it takes the body (the parser then hands the
  // body out instead of keeping it). The head's block is made here, sized for a kept body.
  bool offer_body() {
    auto const length = parser_->content_length();
    builder_.header_done(length ? static_cast<std::size_t>(*length) : body_hint_,
                         length.has_value());
    if (!args_.sink->take(*builder_.current())) return false;
    parser_->stream_body();
    return true;
  }

  enum class head_step : unsigned char { need_more, final, failed };

  // Takes the response heads at the start of the buffer: each is checked and made canonical
  // (scan_response_head), then parsed. A 1xx is dropped and the next head taken (RFC 9110
  // §15.2: a client parses and skips the 1xx it did not ask for), so that the exchange ends at
  // the final response, never before it.
  head_step parse_heads(boost::system::error_code& ec) {
    for (;;) {
      std::string_view const in(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      auto const head = scan_response_head(in, args_.head, head_scratch_);
      if (head.result == response_head::state::invalid) {
        head_error_ = head.error;
        ec = make_error_code(http_errc::protocol);
        return head_step::failed;
      }
      if (head.result == response_head::state::need_more) {
        if (in.size() >= args_.max_header) {
          ec = boost::beast::http::error::header_limit;
          return head_step::failed;
        }
        return head_step::need_more;
      }
      if (head.status == 101) {
        head_error_ = "101 Switching Protocols, but no upgrade was asked for";
        ec = make_error_code(http_errc::protocol);
        return head_step::failed;
      }
      std::string_view const bytes =
          head.rewritten ? std::string_view(head_scratch_) : in.substr(0, head.size);
      auto const used = parser_->put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
      if (!ec && (used != bytes.size() || !parser_->is_header_done()))
        ec = boost::beast::http::error::bad_field;  // not expected after the scan
      if (ec) return head_step::failed;
      buffer_.consume(head.size);
      if (head.status / 100 != 1) {
        close_after_ = head.close_after;
        return head_step::final;
      }
      start_parser();
    }
  }

  // A read of the head failed: the end of the connection before any byte is the stale
  // connection case; after some, a truncated response.
  boost::system::error_code head_read_failed(boost::system::error_code ec) const noexcept {
    if (ec != boost::asio::error::eof) return ec;
    if (!got_bytes_ && buffer_.size() == 0) return boost::beast::http::error::end_of_stream;
    return boost::beast::http::error::partial_message;
  }

  // Parses the body bytes that arrived with the header. True when that ends the response (or
  // fails it: `ec`); false when more must be read. Beast's async_read would do the same, then
  // post its completion when no I/O was needed: a round through the scheduler per response.
  bool parse_buffered(boost::system::error_code& ec) {
    parser_->eager(true);
    while (buffer_.size() != 0) {
      auto const used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == boost::beast::http::error::need_more) {
        ec = {};
        return false;
      }
      if (ec || parser_->is_done()) return true;
      if (used == 0) return false;
    }
    return false;
  }

  // The response's sink or the request's source failed: its code, as it gave it. The message
  // is half-read or half-sent, so the connection goes.
  outcome body_failed(boost::system::error_code ec, stage where, std::string_view who) {
    disarm();
    outcome o;
    o.where = where;
    o.ec = o.raw = ec;
    o.got_response_bytes = where == stage::read;
    o.what = std::string(who) + " failed: " + ec.message();
    if (where == stage::read) {
      parser_.reset();
      builder_.discard();
    }
    tls_clean_ = false;
    reusable_ = false;
    return o;
  }

  outcome write_failed(boost::system::error_code ec) {
    disarm();
    outcome o;
    o.where = stage::write;
    o.raw = timed_out(ec);
    o.ec = classify(o.raw, stage::write, X509_V_OK, o.what);
    tls_clean_ = false;
    return o;
  }

  // The end of the read, well or not: the outcome, and the response into `*args_.out`.
  outcome read_done(boost::system::error_code ec) {
    disarm();
    outcome o;
    o.got_response_bytes = got_bytes_ || parser_->got_some();
    if (ec) {
      o.where = stage::read;
      o.raw = timed_out(ec);
      o.ec = classify(o.raw, stage::read, X509_V_OK, o.what);
      if (head_error_) o.what = std::string("invalid HTTP response: ") + head_error_;
      parser_.reset();
      builder_.discard();
      tls_clean_ = false;
      return o;
    }
    // A body delimited by the end of the connection leaves nothing to reuse; nor does framing
    // that the server may not mean as we read it (Transfer-Encoding with Content-Length).
    reusable_ = !parser_->need_eof() && !close_after_;
    o.keep_alive = parser_->keep_alive();
    o.received = parser_->body_bytes();
    bool const streamed = parser_->streaming();
    parser_.reset();
    *args_.out = builder_.finish();
    if (!streamed) body_hint_ = std::min<std::size_t>((*args_.out)->body().size(), 64 << 10);
    args_.t->body = clock::now() - head_done_;
    return o;
  }

  // The deadline of the operations in flight: when it passes, the socket's operations are
  // cancelled and report `error::timeout`. Runs on the strand, like the operations.
  //
  // The timer is armed lazily: a wait already armed for an earlier time stays, and when it
  // fires it compares the clock with the deadline of the moment, re-arming if that is later.
  // Requests one after another on a connection then neither cancel the wait (a completion to
  // run) nor move it (a timerfd update when it is the earliest), which they would each time.
  void arm(clock::time_point deadline) {
    timed_out_ = false;
    deadline_ = deadline;
    if (deadline == clock::time_point::max()) return;
    if (watch_armed_ && watch_expiry_ <= deadline) return;
    watch(deadline);
  }
  void disarm() noexcept {
    deadline_ = clock::time_point::max();
  }

  void watch(clock::time_point expiry) {
    watch_armed_ = true;
    watch_expiry_ = expiry;
    watchdog_.expires_at(expiry);  // a wait pending for a later time ends with operation_aborted
    watchdog_.async_wait(
        [self = weak_from_this(), gen = ++watch_generation_](boost::system::error_code ec) {
          auto c = self.lock();
          if (ec || !c || c->watch_generation_ != gen) return;
          c->watch_armed_ = false;
          if (c->deadline_ == clock::time_point::max()) return;  // idle, or no deadline
          if (clock::now() < c->deadline_) return c->watch(c->deadline_);
          c->timed_out_ = true;
          boost::system::error_code ignored;
          c->socket().cancel(ignored);
          c->stop_body_parties();
        });
  }
  boost::system::error_code timed_out(boost::system::error_code ec) const noexcept {
    if (timed_out_ && ec) return boost::beast::error::timeout;
    return ec;
  }

  // OpenSSL marks the TLS session of an SSL freed without a shutdown as not resumable. We close
  // without close_notify (as browsers do), so a connection that ended well says so, and its
  // session stays in the resumption cache; one that failed does not.
  void mark_clean_shutdown() noexcept {
    if (tls_ && tls_clean_) SSL_set_shutdown(tls_->native_handle(), SSL_SENT_SHUTDOWN);
  }

  strand_type strand_;
  std::string origin_;
  std::string host_;
  bool https_;
  bool tls_resumed_ = false;
  bool tls_clean_ = false;
  bool reusable_ = true;
  // For async_exchange's socket operations, one exchange at a time. Before the sockets: an
  // operation still pending when they are destroyed is freed into it.
  handler_memory op_memory_;
  std::optional<socket_type> tcp_;
  std::optional<tls_stream_type> tls_;
  timer_type watchdog_;
  clock::time_point deadline_ = clock::time_point::max();  // in flight; max when idle
  clock::time_point watch_expiry_;                         // when the armed wait fires
  std::uint64_t watch_generation_ = 0;
  bool watch_armed_ = false;
  bool timed_out_ = false;
  std::size_t body_hint_ = 0;  // the last body's size, for the next one of unknown length
  boost::beast::flat_buffer buffer_;
  std::string head_scratch_;          // a head rewritten for the parser (scan_response_head)
  const char* head_error_ = nullptr;  // why the head was refused, when it was
  bool got_bytes_ = false;            // some response bytes arrived in this exchange
  bool close_after_ = false;          // the framing forbids another exchange
  exchange_args args_{};
  std::mutex close_mutex_;  // alive() against close(): the socket's open state
  clock::time_point sent_;
  clock::time_point head_done_;                 // the final head parsed
  std::size_t piece_used_ = 0;                  // the buffer bytes behind the piece the sink has
  std::unique_ptr<char[]> upload_buffer_;       // a streamed request body's pieces (made when used)
  bool upload_ended_ = false;                   // the source said the end; its last chunk is out
  bool sink_busy_ = false;                      // the sink has a piece (its done is pending)
  bool source_busy_ = false;                    // the source is reading a piece
  std::atomic<std::uint64_t> exchange_gen_{0};  // read by cancellers off the strand
  bool cancelled_ = false;
  std::string wire_;          // the request's head (and small body) as sent
  response_builder builder_;  // before the parser, which refers to it
  std::optional<response_reader> parser_;

 public:
  // Intrusive list of the session's open connections, so close() can reach each one.
  connection* prev_ = nullptr;
  connection* next_ = nullptr;
};

}  // namespace fanout::detail

#endif
