#ifndef FANOUT_DETAIL_HTTP_HEADER_ARENA_HPP
#define FANOUT_DETAIL_HTTP_HEADER_ARENA_HPP

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace fanout::detail {

/// Bump allocation for the header fields of one response: Beast's fields allocate a node per
/// field, and a response's dozen headers would otherwise cost a dozen heap allocations.
///
/// One allocation holds this header and `capacity` bytes after it; what does not fit goes to
/// overflow chunks freed with the arena. The caller sizes it from what the previous response
/// on the same connection used (servers send much the same headers every time), so it wastes
/// little while a response is kept. Reference counted by the allocators that share it.
class alignas(std::max_align_t) header_arena {
 public:
  static header_arena* create(std::size_t capacity) {
    void* p = ::operator new(sizeof(header_arena) + capacity);
    return ::new (p) header_arena(capacity);
  }

  // `align` is at most alignof(std::max_align_t), like every type Beast's fields allocate.
  void* allocate(std::size_t n, std::size_t align) {
    std::size_t const start = (used_ + align - 1) & ~(align - 1);
    if (start + n <= capacity_) {
      used_ = start + n;
      bytes_ += n;
      return data() + start;
    }
    // An overflow chunk: [next pointer][padding to max_align_t][n bytes].
    constexpr std::size_t head = alignof(std::max_align_t);
    auto* chunk = static_cast<std::byte*>(::operator new(head + n));
    *reinterpret_cast<std::byte**>(chunk) = overflow_;
    overflow_ = chunk;
    bytes_ += n;
    return chunk + head;
  }

  /// Bytes handed out, the overflow included: the size the next arena should have.
  std::size_t bytes_used() const noexcept { return bytes_; }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    for (std::byte* c = overflow_; c;) {
      std::byte* next = *reinterpret_cast<std::byte**>(c);
      ::operator delete(c);
      c = next;
    }
    this->~header_arena();
    ::operator delete(static_cast<void*>(this));
  }

 private:
  explicit header_arena(std::size_t capacity) noexcept : capacity_(capacity) {}
  ~header_arena() = default;
  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }

  std::atomic<std::size_t> refs_{1};
  std::size_t capacity_;
  std::size_t used_ = 0;
  std::size_t bytes_ = 0;
  std::byte* overflow_ = nullptr;
};
static_assert(sizeof(header_arena) % alignof(std::max_align_t) == 0,
              "the arena's bytes follow its header, aligned for anything");

/// The allocator of a response's fields. Copies share one arena, which lives as long as the
/// last of them; freeing is a no-op (the arena goes as a whole). A default-constructed
/// allocator has no arena and uses `operator new`, so an empty response costs nothing. A
/// copied container gets an arena of its own: arenas are not thread-safe, and two responses
/// may be used on two threads.
template <class T>
class header_allocator {
 public:
  using value_type = T;
  using propagate_on_container_copy_assignment = std::false_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;

  header_allocator() noexcept = default;
  /// An allocator with an arena of its own, of `capacity` bytes before it overflows.
  static header_allocator with_arena(std::size_t capacity) {
    header_allocator a;
    a.arena_ = header_arena::create(capacity);
    return a;
  }
  header_allocator(const header_allocator& other) noexcept : arena_(other.arena_) {
    if (arena_) arena_->add_ref();
  }
  template <class U>
  header_allocator(const header_allocator<U>& other) noexcept : arena_(other.arena_) {
    if (arena_) arena_->add_ref();
  }
  header_allocator(header_allocator&& other) noexcept
      : arena_(std::exchange(other.arena_, nullptr)) {}
  header_allocator& operator=(header_allocator other) noexcept {
    std::swap(arena_, other.arena_);
    return *this;
  }
  ~header_allocator() {
    if (arena_) arena_->release();
  }

  T* allocate(std::size_t n) {
    if (!arena_) return std::allocator<T>().allocate(n);
    return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (!arena_) std::allocator<T>().deallocate(p, n);
  }

  header_allocator select_on_container_copy_construction() const {
    return arena_ ? with_arena(arena_->bytes_used()) : header_allocator();
  }

  header_arena* arena() const noexcept { return arena_; }

  /// What the fields allocated so far (0 without an arena).
  std::size_t bytes_used() const noexcept { return arena_ ? arena_->bytes_used() : 0; }

  template <class U>
  friend bool operator==(const header_allocator& a, const header_allocator<U>& b) noexcept {
    return a.arena() == b.arena();
  }
  template <class U>
  friend bool operator!=(const header_allocator& a, const header_allocator<U>& b) noexcept {
    return !(a == b);
  }

 private:
  template <class U>
  friend class header_allocator;
  header_arena* arena_ = nullptr;
};

}  // namespace fanout::detail

#endif
