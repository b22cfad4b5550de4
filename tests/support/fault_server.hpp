#ifndef FANOUT_TESTS_SUPPORT_FAULT_SERVER_HPP
#define FANOUT_TESTS_SUPPORT_FAULT_SERVER_HPP

// A raw TCP server that misbehaves on purpose, for fault-injection tests. It listens on
// 127.0.0.1 and an ephemeral port, runs on its own thread and io_context, and does not use an
// HTTP library: it writes the exact bytes (or resets) a broken server would.
//
// One fault per instance. Every connection reads the request head first (except
// `close_on_accept` and `backlog_full`); the target "/ok" is always answered properly with
// keep-alive, so healthy requests can share the faulty host; any other target gets the fault.

#include <zlib.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fanout::test {

namespace asio = boost::asio;

enum class fault {
  none,                  ///< every request answered "200 ok"
  close_on_accept,       ///< accept, then close at once without reading
  rst_mid_headers,       ///< half a status line and header, then a reset (SO_LINGER 0)
  rst_mid_body,          ///< headers with Content-Length 100000, 1000 bytes of body, then a reset
  truncated_body,        ///< Content-Length 100000, 1000 bytes of body, then an orderly close
  bad_chunk_size,        ///< chunked body whose chunk size is not hexadecimal
  bad_status_line,       ///< "HTTP/1.1 OK 200"
  huge_headers,          ///< one header field of 256 KiB
  huge_body,             ///< Content-Length 8 MiB, streamed
  never_answers,         ///< read the request, answer nothing, keep the connection open
  slowloris,             ///< a valid response written one byte every 100 ms
  gzip_bomb,             ///< a 64 MiB run of zeros, gzipped to about 64 KiB
  redirect_loop,         ///< 302 to the same URL, forever
  backlog_full,          ///< listen backlog 0, never accept, the queue filled by the server itself
  close_after_response,  ///< "200 ok" with keep-alive, then the connection is closed
  idle_close,            ///< "200 ok" with keep-alive; a connection idle for 100 ms is closed
  server_error,          ///< "500 Internal Server Error" with keep-alive
};

/// Gzips `n` zero bytes without holding them in memory.
inline std::string gzip_zeros(std::size_t n) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::vector<unsigned char> zeros(std::size_t(1) << 16, 0);
  std::string out;
  unsigned char buf[1 << 14];
  for (std::size_t left = n;;) {
    auto take = std::min(left, zeros.size());
    left -= take;
    zs.next_in = zeros.data();
    zs.avail_in = static_cast<uInt>(take);
    int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    int rc;
    do {
      zs.next_out = buf;
      zs.avail_out = sizeof buf;
      rc = deflate(&zs, flush);
      out.append(reinterpret_cast<char*>(buf), sizeof buf - zs.avail_out);
    } while (zs.avail_out == 0);
    if (flush == Z_FINISH && rc == Z_STREAM_END) break;
  }
  deflateEnd(&zs);
  return out;
}

class fault_server {
 public:
  explicit fault_server(fault f) : fault_(f), acceptor_(io_) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    if (f == fault::backlog_full) {
      // Linux queues backlog + 1 connections; later SYNs are dropped and connect() hangs.
      acceptor_.listen(0);
      for (int i = 0; i < 4; ++i) {
        fillers_.emplace_back(io_);
        fillers_.back().async_connect(acceptor_.local_endpoint(), [](boost::system::error_code) {});
      }
      io_.run_for(std::chrono::milliseconds(200));
      io_.restart();
    } else {
      acceptor_.listen(asio::socket_base::max_listen_connections);
      if (f == fault::gzip_bomb) bomb_ = gzip_zeros(std::size_t(64) << 20);
      asio::co_spawn(io_, accept_loop(), asio::detached);
    }
    port_ = acceptor_.local_endpoint().port();
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  fault_server(const fault_server&) = delete;
  fault_server& operator=(const fault_server&) = delete;

  ~fault_server() { stop(); }

  /// Closes the listener and every connection, and joins the thread.
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& f : fillers_) f.close(ec);
      for (auto* s : sockets_) s->close(ec);
      stopping_ = true;
      work_.reset();
    });
    thread_.join();
  }

  std::uint16_t port() const noexcept { return port_; }
  /// "http://127.0.0.1:<port><path>".
  std::string url(std::string_view path = "/fault") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  std::size_t connections() const noexcept { return accepted_.load(); }
  /// Connections still open on the server side.
  std::size_t open_connections() const noexcept { return open_.load(); }

 private:
  using tcp = boost::asio::ip::tcp;

  static constexpr std::string_view ok_response =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      accepted_.fetch_add(1);
      asio::co_spawn(io_, serve(std::move(sock)), asio::detached);
    }
  }

  // Writes `data`, ignoring errors (the client may already have given up).
  static asio::awaitable<bool> send(tcp::socket& s, std::string_view data) {
    boost::system::error_code ec;
    co_await asio::async_write(s, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(io_, d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  static void reset(tcp::socket& s) {
    boost::system::error_code ec;
    s.set_option(asio::socket_base::linger(true, 0), ec);
    s.close(ec);
  }

  // Waits until the client closes its side (or the server stops), discarding what it sends.
  static asio::awaitable<void> drain(tcp::socket& s) {
    char buf[512];
    for (;;) {
      boost::system::error_code ec;
      co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  asio::awaitable<void> serve(tcp::socket sock) {
    open_.fetch_add(1);
    // Shared, so that the idle timer's handler can tell whether the socket still exists.
    auto holder = std::make_shared<tcp::socket>(std::move(sock));
    auto& s = *holder;
    sockets_.insert(&s);
    co_await respond(holder);
    sockets_.erase(&s);
    boost::system::error_code ec;
    s.close(ec);
    open_.fetch_sub(1);
  }

  asio::awaitable<void> respond(const std::shared_ptr<tcp::socket>& holder) {
    auto& s = *holder;
    if (fault_ == fault::close_on_accept) co_return;
    std::string in;
    for (std::size_t served = 0;; ++served) {
      // A keep-alive connection idle for 100 ms is closed, without telling the client.
      std::optional<asio::steady_timer> idle;
      if (fault_ == fault::idle_close && served > 0) {
        idle.emplace(io_, std::chrono::milliseconds(100));
        // The handler may run after the connection ended (the timer fired as the read
        // completed): it must not touch a destroyed socket.
        idle->async_wait([weak = std::weak_ptr(holder)](boost::system::error_code ec) {
          if (auto p = weak.lock(); p && !ec) p->close(ec);
        });
      }
      // The request head; these clients send GETs without a body.
      boost::system::error_code ec;
      auto n = co_await asio::async_read_until(s, asio::dynamic_buffer(in, 1 << 16), "\r\n\r\n",
                                               asio::redirect_error(asio::use_awaitable, ec));
      if (idle) idle->cancel();
      if (ec || stopping_) co_return;
      auto first_line = in.substr(0, in.find("\r\n"));
      in.erase(0, n);
      auto sp1 = first_line.find(' ');
      auto sp2 = first_line.find(' ', sp1 + 1);
      auto target = first_line.substr(sp1 + 1, sp2 - sp1 - 1);
      if (target == "/ok" || fault_ == fault::none || fault_ == fault::idle_close) {
        if (!co_await send(s, ok_response)) co_return;
        continue;
      }
      if (fault_ == fault::server_error) {
        // In this loop, not by recursion: a long keep-alive connection must not nest frames.
        if (!co_await send(s,
                           "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nerror"))
          co_return;
        continue;
      }
      if (fault_ == fault::close_after_response) {
        // A keep-alive answer (no "Connection: close"), then the connection is closed.
        co_await send(s, ok_response);
        co_return;
      }
      co_await inflict(holder);
      co_return;
    }
  }

  asio::awaitable<void> inflict(const std::shared_ptr<tcp::socket>& holder) {
    auto& s = *holder;
    switch (fault_) {
      case fault::rst_mid_headers:
        co_await send(s, "HTTP/1.1 200 OK\r\nContent-Type: text/pl");
        co_await pause(std::chrono::milliseconds(50));
        reset(s);
        break;
      case fault::rst_mid_body:
        co_await send(s,
                      "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'x'));
        co_await pause(std::chrono::milliseconds(50));
        reset(s);
        break;
      case fault::truncated_body:
        co_await send(s,
                      "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'x'));
        s.shutdown(tcp::socket::shutdown_send);
        co_await drain(s);
        break;
      case fault::bad_chunk_size:
        co_await send(s,
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n");
        co_await drain(s);
        break;
      case fault::bad_status_line:
        co_await send(s, "HTTP/1.1 OK 200\r\nContent-Length: 2\r\n\r\nok");
        co_await drain(s);
        break;
      case fault::huge_headers:
        co_await send(s, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(256 << 10, 'h') +
                             "\r\nContent-Length: 2\r\n\r\nok");
        co_await drain(s);
        break;
      case fault::huge_body: {
        if (!co_await send(s, "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n")) break;
        std::string block(1 << 16, 'b');
        for (int i = 0; i < 128 && !stopping_; ++i)
          if (!co_await send(s, block)) break;
        co_await drain(s);
        break;
      }
      case fault::never_answers: co_await drain(s); break;
      case fault::slowloris: {
        std::string res =
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 's');
        // Bounded: 1,044 bytes at 100 ms each is 104 s, far beyond any test's timeout; the
        // loop ends as soon as the client goes away.
        for (char c : res) {
          if (stopping_ || !co_await send(s, std::string_view(&c, 1))) break;
          co_await pause(std::chrono::milliseconds(100));
        }
        break;
      }
      case fault::gzip_bomb:
        if (co_await send(s, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
                                 std::to_string(bomb_.size()) + "\r\n\r\n"))
          co_await send(s, bomb_);
        co_await drain(s);
        break;
      case fault::redirect_loop:
        co_await send(s, "HTTP/1.1 302 Found\r\nLocation: /fault\r\nContent-Length: 0\r\n\r\n");
        // Keep-alive: the client may follow on this same connection.
        co_await respond(holder);
        break;
      case fault::server_error:
      case fault::none:
      case fault::close_on_accept:
      case fault::backlog_full:
      case fault::close_after_response:
      case fault::idle_close: break;
    }
  }

  fault fault_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> fillers_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::string bomb_;
  std::set<tcp::socket*> sockets_;  // touched on the server thread only
  bool stopping_ = false;           // idem
  std::atomic<std::size_t> accepted_{0}, open_{0};
};

}  // namespace fanout::test

#endif
