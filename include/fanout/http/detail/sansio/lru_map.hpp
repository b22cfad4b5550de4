#ifndef FANOUT_HTTP_DETAIL_SANSIO_LRU_MAP_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_LRU_MAP_HPP

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace fanout::detail {

/// A map from origin (or any string key) to `Value` that remembers the order of use, so that a
/// session's per-origin caches (DNS answers, TLS sessions, rate limiters) stay bounded however
/// many origins a crawler visits. Not synchronised: the owner's mutex guards every call.
///
/// `capacity` is the number of entries `trim` keeps (0: no limit). Entries still in use are
/// never evicted: the map may hold more than `capacity` while more than that are in use.
template <class Value>
class lru_map {
 public:
  explicit lru_map(std::size_t capacity) : capacity_(capacity) {}

  lru_map(const lru_map&) = delete;
  lru_map& operator=(const lru_map&) = delete;

  /// The entry for `key`, now the most recently used, or null.
  Value* find(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    items_.splice(items_.begin(), items_, it->second);
    return &it->second->second;
  }

  /// The entry for `key`, made (value-initialised) when missing; now the most recently used.
  /// The second member is true when it was made.
  std::pair<Value*, bool> try_emplace(std::string_view key) {
    if (Value* v = find(key)) return {v, false};
    items_.emplace_front(std::string(key), Value{});
    index_.emplace(items_.front().first, items_.begin());
    return {&items_.front().second, true};
  }

  void erase(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    auto item = it->second;
    index_.erase(it);
    items_.erase(item);
  }

  /// Erases from the least recently used end while there are more than `capacity` entries or
  /// the oldest `expired(value)`, but only entries `evictable(value)`: one in use moves to the
  /// front instead. One pass at most, so the work is bounded by the size.
  template <class Evictable, class Expired>
  void trim(Evictable&& evictable, Expired&& expired) {
    for (std::size_t steps = items_.size(); steps > 0 && !items_.empty(); --steps) {
      auto oldest = std::prev(items_.end());
      bool const over = capacity_ != 0 && items_.size() > capacity_;
      if (!over && !expired(oldest->second)) return;
      if (evictable(oldest->second)) {
        index_.erase(oldest->first);
        items_.erase(oldest);
      } else {
        items_.splice(items_.begin(), items_, oldest);
      }
    }
  }

  std::size_t size() const noexcept { return items_.size(); }

  /// Every (key, value), most recently used first.
  auto begin() noexcept { return items_.begin(); }
  auto end() noexcept { return items_.end(); }

  void clear() noexcept {
    index_.clear();
    items_.clear();
  }

 private:
  std::size_t capacity_;
  std::list<std::pair<std::string, Value>> items_;  // most recently used first
  // Keys are views of the list's own strings: a list node never moves.
  std::unordered_map<std::string_view, typename std::list<std::pair<std::string, Value>>::iterator>
      index_;
};

}  // namespace fanout::detail

#endif
