#ifndef FANOUT_FETCH_INPUT_HPP
#define FANOUT_FETCH_INPUT_HPP

// The URLs to fetch: the command line's first, then one per line of a file or standard input.
// A reader thread reads the lines as the fetching goes (never more than a bounded number ahead,
// so 3 million lines are never in memory at once), and hands them to the event loop; item i of
// the fan-out awaits line i. The loop never blocks on input: a slow producer on a pipe delays
// only the items waiting for its lines, while answers to earlier lines are printed.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace fetch_tool {

/// The URL a line of input holds, trimmed of blanks and CR; nullopt for a blank line or a
/// comment (first non-blank character '#').
inline std::optional<std::string_view> url_in_line(std::string_view raw) {
  auto first = raw.find_first_not_of(" \t\r");
  if (first == std::string_view::npos || raw[first] == '#') return std::nullopt;
  auto last = raw.find_last_not_of(" \t\r");
  return raw.substr(first, last - first + 1);
}

/// How many URLs of `in`, whose first has index `first_index`, `wanted(index, url)` takes:
/// one pass, a line at a time (the progress line's total for a regular file).
template <class Wanted>
std::size_t count_urls(std::istream& in, std::size_t first_index, Wanted&& wanted) {
  std::size_t index = first_index, count = 0;
  for (std::string raw; std::getline(in, raw);)
    if (auto url = url_in_line(raw)) count += wanted(index++, *url) ? 1 : 0;
  return count;
}

/// Used on the event loop's (single) thread, but for the reader thread it starts.
class url_feed {
 public:
  /// `args` come first; then, if `lines` is set, its lines (blank ones and # comments skipped).
  /// At most `read_ahead` lines are buffered before items claim them.
  url_feed(boost::asio::any_io_executor ex, std::vector<std::string> args, std::istream* lines,
           std::size_t read_ahead)
      : executor_(ex),
        changed_(ex, boost::asio::steady_timer::time_point::max()),
        read_ahead_(read_ahead) {
    for (auto& a : args) buffer_.push_back(std::move(a));
    received_ = buffer_.size();
    if (!lines) {
      closed_ = true;
      return;
    }
    // The work guard keeps the event loop alive while the reader may still post lines.
    reader_ = std::thread([this, lines, work = boost::asio::make_work_guard(ex)]() mutable {
      read_all(*lines);
      work.reset();
    });
  }

  url_feed(const url_feed&) = delete;
  url_feed& operator=(const url_feed&) = delete;

  /// Joins the reader: call only once the input has ended (`closed()`), or it waits for it.
  ~url_feed() {
    if (reader_.joinable()) reader_.join();
  }

  /// Line `index` (0-based, over every URL), or nullopt when the input ended before it. Each
  /// index is claimed once. Suspends while the line has not been read yet.
  boost::asio::awaitable<std::optional<std::string>> line(std::size_t index) {
    while (index >= received_ && !closed_) {
      // The timer is only an event, cancelled to wake us; if this coroutine itself is
      // cancelled, the next wait throws and the item ends.
      boost::system::error_code ignored;
      co_await changed_.async_wait(
          boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }
    if (index >= received_) co_return std::nullopt;
    std::string url = std::move(buffer_[index - first_]);
    claimed_.push_back(index);
    release_claimed();
    co_return url;
  }

  /// True once every line has been read; `total()` is then final.
  bool closed() const noexcept { return closed_; }
  std::size_t total() const noexcept { return received_; }

 private:
  void read_all(std::istream& in) {
    // Lines go to the event loop in batches: as many as the stream already holds (up to 256),
    // so a fast file costs one wake-up per batch and a slow pipe still delivers each line at once.
    std::vector<std::string> batch;
    std::string raw;
    while (std::getline(in, raw)) {
      auto url = url_in_line(raw);
      if (!url) continue;
      {
        std::unique_lock lock(mutex_);
        if (in_flight_ >= read_ahead_ && !batch.empty()) {
          lock.unlock();
          deliver(std::exchange(batch, {}));  // what we hold is what frees room
          lock.lock();
        }
        room_.wait(lock, [&] { return in_flight_ < read_ahead_; });
        ++in_flight_;
      }
      batch.emplace_back(*url);
      if (batch.size() < 256 && in.rdbuf()->in_avail() > 0) continue;
      deliver(std::exchange(batch, {}));
    }
    deliver(std::move(batch));
    boost::asio::post(executor_, [this] {
      closed_ = true;
      changed_.cancel();
    });
  }

  void deliver(std::vector<std::string> batch) {
    if (batch.empty()) return;
    boost::asio::post(executor_, [this, batch = std::move(batch)]() mutable {
      for (auto& url : batch) buffer_.push_back(std::move(url));
      received_ += batch.size();
      changed_.cancel();
    });
  }

  // Drops claimed lines from the front of the buffer and lets the reader read that many more.
  void release_claimed() {
    std::size_t freed = 0;
    std::sort(claimed_.begin(), claimed_.end());
    while (!claimed_.empty() && claimed_.front() == first_) {
      claimed_.pop_front();
      buffer_.pop_front();
      ++first_;
      ++freed;
    }
    if (freed == 0) return;
    bool wake_reader = false;
    {
      std::lock_guard lock(mutex_);
      in_flight_ -= std::min(in_flight_, freed);
      // Wake the reader only once half the read-ahead is free: one wake-up per many lines.
      wake_reader = in_flight_ <= read_ahead_ / 2;
    }
    if (wake_reader) room_.notify_one();
  }

  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer changed_;  // never expires; cancelled when lines arrive or input ends
  std::deque<std::string> buffer_;     // lines first_ .. received_ - 1
  std::deque<std::size_t> claimed_;    // claimed indices not yet dropped from the front
  std::size_t first_ = 0;
  std::size_t received_ = 0;
  bool closed_ = false;

  // Shared with the reader thread.
  std::mutex mutex_;
  std::condition_variable room_;
  std::size_t in_flight_ = 0;  // lines read but not yet dropped from the buffer
  const std::size_t read_ahead_;
  std::thread reader_;
};

}  // namespace fetch_tool

#endif
