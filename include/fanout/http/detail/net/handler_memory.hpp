#ifndef FANOUT_HTTP_DETAIL_NET_HANDLER_MEMORY_HPP
#define FANOUT_HTTP_DETAIL_NET_HANDLER_MEMORY_HPP

#include <array>
#include <cstddef>
#include <new>

namespace fanout::detail {

/// A few blocks of memory for the intermediate operations of one asynchronous operation at a
/// time (Asio's "custom memory allocation" technique): a socket's send and receive operations
/// and the hand-offs between executors are allocated through the completion handler's
/// associated allocator, and an object that runs one operation chain at a time (a connection)
/// can serve them from here instead of the heap. Larger or further requests go to the heap.
///
/// Not thread-safe by itself: the chain must allocate and free in sequence, which it does when
/// each step starts the next (Asio frees an operation's memory before invoking its handler).
class handler_memory {
 public:
  handler_memory() = default;
  handler_memory(const handler_memory&) = delete;
  handler_memory& operator=(const handler_memory&) = delete;

  void* allocate(std::size_t size) {
    for (auto& b : blocks_) {
      if (!b.used && size <= sizeof(b.storage)) {
        b.used = true;
        return b.storage;
      }
    }
    return ::operator new(size);
  }

  void deallocate(void* p) noexcept {
    for (auto& b : blocks_) {
      if (p == b.storage) {
        b.used = false;
        return;
      }
    }
    ::operator delete(p);
  }

 private:
  // A socket operation wrapping a coroutine's handler through Beast's layers takes 700-750
  // bytes; two in flight cover a TLS record read beneath an HTTP read.
  struct block {
    alignas(std::max_align_t) unsigned char storage[1024];
    bool used = false;
  };
  std::array<block, 2> blocks_{};
};

/// The allocator that hands out `handler_memory`.
template <class T>
class handler_allocator {
 public:
  using value_type = T;

  explicit handler_allocator(handler_memory& memory) noexcept : memory_(&memory) {}
  template <class U>
  handler_allocator(const handler_allocator<U>& other) noexcept : memory_(other.memory_) {}

  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) noexcept { memory_->deallocate(p); }

  template <class U>
  bool operator==(const handler_allocator<U>& other) const noexcept {
    return memory_ == other.memory_;
  }

 private:
  template <class>
  friend class handler_allocator;
  handler_memory* memory_;
};

}  // namespace fanout::detail

#endif
