#ifndef FANOUT_DETAIL_HTTP_HEADER_ARENA_HPP
#define FANOUT_DETAIL_HTTP_HEADER_ARENA_HPP

#include <array>
#include <cstddef>
#include <memory>
#include <memory_resource>
#include <new>

namespace fanout::detail {

/// Bump allocation for the header fields of one response: Beast's fields allocate a node per
/// field, and a response's dozen headers would otherwise cost a dozen heap allocations.
struct header_arena {
  header_arena() = default;
  header_arena(const header_arena&) = delete;
  header_arena& operator=(const header_arena&) = delete;

  // Typical response headers fit; larger ones continue in blocks from the default resource.
  alignas(std::max_align_t) std::array<std::byte, 1024> first_block;
  std::pmr::monotonic_buffer_resource resource{first_block.data(), first_block.size()};
};

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
  /// An allocator with an arena of its own.
  static header_allocator with_arena() {
    header_allocator a;
    a.arena_ = std::make_shared<header_arena>();
    return a;
  }
  template <class U>
  header_allocator(const header_allocator<U>& other) noexcept : arena_(other.arena_) {}

  T* allocate(std::size_t n) {
    if (!arena_) return std::allocator<T>().allocate(n);
    return static_cast<T*>(arena_->resource.allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (!arena_) std::allocator<T>().deallocate(p, n);
  }

  header_allocator select_on_container_copy_construction() const {
    return arena_ ? with_arena() : header_allocator();
  }

  template <class U>
  friend bool operator==(const header_allocator& a, const header_allocator<U>& b) noexcept {
    return a.arena_ == b.arena_;
  }
  template <class U>
  friend bool operator!=(const header_allocator& a, const header_allocator<U>& b) noexcept {
    return !(a == b);
  }

 private:
  template <class U>
  friend class header_allocator;
  std::shared_ptr<header_arena> arena_;
};

}  // namespace fanout::detail

#endif
