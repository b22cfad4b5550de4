#ifndef FANOUT_HTTP_DETAIL_SANSIO_RESPONSE_BLOCK_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_RESPONSE_BLOCK_HPP

#include <fanout/config.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fanout {

/// One header field of a response: views into the response, valid while it lives.
struct header_field {
  std::string_view name;   ///< as the server spelled it
  std::string_view value;  ///< without surrounding whitespace
};

namespace detail {

/// The sizes of one field's name and value; the text itself follows the index.
struct field_entry {
  std::uint32_t name;
  std::uint32_t value;
};

/// Walks a block's fields in order, as `header_field`s: the index holds sizes only, and each
/// field's text follows the previous one's.
class field_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = header_field;
  using difference_type = std::ptrdiff_t;
  using pointer = const header_field*;
  using reference = header_field;

  field_iterator() = default;
  field_iterator(const field_entry* entry, const char* text) noexcept
      : entry_(entry), text_(text) {}
  header_field operator*() const noexcept {
    return {std::string_view(text_, entry_->name),
            std::string_view(text_ + entry_->name, entry_->value)};
  }
  field_iterator& operator++() noexcept {
    text_ += entry_->name + entry_->value;
    ++entry_;
    return *this;
  }
  field_iterator operator++(int) noexcept {
    auto old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const field_iterator& a, const field_iterator& b) noexcept {
    return a.entry_ == b.entry_;
  }

 private:
  const field_entry* entry_ = nullptr;
  const char* text_ = nullptr;
};

/// A complete response in one heap block: status line, header fields in the order received,
/// final URL and method, and the body.
///
/// Beast's `basic_fields` keeps a node per field with list and tree hooks (about 50 bytes each
/// beyond the text), and the body and URL are further allocations; a response kept by the
/// thousand (gather's results) then costs about three times its wire size. Here it is one
/// allocation of about its wire size: [this header][field_entry x N][reason, name/value pairs,
/// URL, method][body]. Immutable once built, reference counted (atomically: copies of a
/// response may live on several threads).
class response_block {
 public:
  int status() const noexcept { return status_; }
  int version() const noexcept { return version_; }
  std::string_view reason() const noexcept { return {text(), reason_size_}; }
  std::string_view url() const noexcept { return {text() + text_size_, url_size_}; }
  std::string_view method() const noexcept {
    return {text() + text_size_ + url_size_, method_size_};
  }
  std::string_view body() const noexcept { return {body_data(), body_size_}; }
  std::size_t field_count() const noexcept { return field_count_; }
  field_iterator fields_begin() const noexcept { return {fields(), text() + reason_size_}; }
  field_iterator fields_end() const noexcept { return {fields() + field_count_, nullptr}; }

  /// The value of the first field named `name` (case-insensitive).
  std::optional<std::string_view> find(std::string_view name) const noexcept {
    for (auto it = fields_begin(); it != fields_end(); ++it)
      if (auto f = *it; boost::beast::iequals(f.name, name)) return f.value;
    return std::nullopt;
  }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) std::free(this);
  }

 private:
  friend class response_builder;
  response_block() = default;

  const field_entry* fields() const noexcept {
    return reinterpret_cast<const field_entry*>(this + 1);
  }
  char* text() noexcept {
    return reinterpret_cast<char*>(this + 1) + field_count_ * sizeof(field_entry);
  }
  const char* text() const noexcept {
    return reinterpret_cast<const char*>(this + 1) + field_count_ * sizeof(field_entry);
  }
  std::size_t head_size() const noexcept {
    return sizeof(response_block) + field_count_ * sizeof(field_entry) + text_size_ + url_size_ +
           method_size_;
  }
  char* body_data() noexcept { return reinterpret_cast<char*>(this) + head_size(); }
  const char* body_data() const noexcept {
    return reinterpret_cast<const char*>(this) + head_size();
  }

  std::atomic<std::uint32_t> refs_{1};
  std::uint16_t status_ = 0;
  std::uint16_t version_ = 11;
  std::uint32_t field_count_ = 0;
  std::uint32_t reason_size_ = 0;
  std::uint32_t text_size_ = 0;  // the reason and every name and value
  std::uint32_t url_size_ = 0;
  std::uint32_t method_size_ = 0;
  std::size_t body_size_ = 0;
  std::size_t body_capacity_ = 0;
};
static_assert(alignof(response_block) >= alignof(field_entry));

/// An owning, copyable handle to a block (copies share it).
class block_ptr {
 public:
  block_ptr() noexcept = default;
  explicit block_ptr(response_block* b) noexcept : b_(b) {}
  block_ptr(const block_ptr& o) noexcept : b_(o.b_) {
    if (b_) b_->add_ref();
  }
  block_ptr(block_ptr&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  block_ptr& operator=(block_ptr o) noexcept {
    std::swap(b_, o.b_);
    return *this;
  }
  ~block_ptr() {
    if (b_) b_->release();
  }
  const response_block* get() const noexcept { return b_; }
  const response_block* operator->() const noexcept { return b_; }
  const response_block& operator*() const noexcept { return *b_; }
  explicit operator bool() const noexcept { return b_ != nullptr; }

 private:
  response_block* b_ = nullptr;
};

/// Builds response blocks, one at a time. The status line and fields go to scratch storage
/// kept between responses (a connection owns one builder), so that the block can be allocated
/// at its exact header size once the header is complete; the body is then written in place.
class response_builder {
 public:
  response_builder() = default;
  response_builder(const response_builder&) = delete;
  response_builder& operator=(const response_builder&) = delete;
  ~response_builder() { discard(); }

  /// Starts a response. `url` and `method` are copied into the block; `max_body` bounds the
  /// body's capacity while its length is unknown.
  void begin(std::string_view url, std::string_view method, std::size_t max_body) {
    discard();
    text_.clear();
    fields_.clear();
    url_ = url;
    method_ = method;
    max_body_ = max_body;
    status_ = 0;
    version_ = 11;
    reason_size_ = 0;
  }

  void status_line(int status, std::string_view reason, int version) {
    status_ = static_cast<std::uint16_t>(status);
    version_ = static_cast<std::uint16_t>(version);
    text_.assign(reason);
    reason_size_ = static_cast<std::uint32_t>(reason.size());
  }

  void field(std::string_view name, std::string_view value) {
    text_.append(name).append(value);
    fields_.push_back(
        {static_cast<std::uint32_t>(name.size()), static_cast<std::uint32_t>(value.size())});
  }

  /// The first room made for a body: an announced Content-Length is believed only this far,
  /// so that a header alone never reserves max_body_bytes (the body grows as it arrives).
  static constexpr std::size_t initial_body_reserve = std::size_t(1) << 20;

  /// The header is complete: allocates the block with room for `body_size` bytes of body
  /// (the Content-Length, or a guess when it is unknown), at most `initial_body_reserve`.
  /// `exact`: `body_size` is the announced length, and the body does not grow past it.
  void header_done(std::size_t body_size, bool exact = false) {
    if (block_) return;
    grow_limit_ = exact ? std::min(body_size, max_body_) : max_body_;
    body_size = std::min(body_size, initial_body_reserve);
    std::size_t const head = sizeof(response_block) + fields_.size() * sizeof(field_entry) +
                             text_.size() + url_.size() + method_.size();
    if (body_size > std::numeric_limits<std::size_t>::max() - head) throw std::bad_alloc();
    void* p = std::malloc(head + body_size);
    if (!p) throw std::bad_alloc();
    auto* b = ::new (p) response_block();
    b->status_ = status_;
    b->version_ = version_;
    b->field_count_ = static_cast<std::uint32_t>(fields_.size());
    b->reason_size_ = reason_size_;
    b->text_size_ = static_cast<std::uint32_t>(text_.size());
    b->url_size_ = static_cast<std::uint32_t>(url_.size());
    b->method_size_ = static_cast<std::uint32_t>(method_.size());
    b->body_capacity_ = body_size;
    if (!fields_.empty())
      std::memcpy(static_cast<void*>(b + 1), fields_.data(), fields_.size() * sizeof(field_entry));
    char* t = b->text();
    std::memcpy(t, text_.data(), text_.size());
    std::memcpy(t + text_.size(), url_.data(), url_.size());
    std::memcpy(t + text_.size() + url_.size(), method_.data(), method_.size());
    block_ = b;
    // A connection that once saw a huge header block does not keep its scratch forever.
    if (text_.capacity() > scratch_limit) std::string().swap(text_);
    if (fields_.capacity() * sizeof(field_entry) > scratch_limit)
      std::vector<field_entry>().swap(fields_);
  }

  void append_body(std::string_view data) {
    if (!block_) header_done(data.size());
    if (data.empty()) return;  // and memcpy never sees the null pointer of an empty view
    auto& b = *block_;
    if (b.body_capacity_ - b.body_size_ < data.size()) {
      std::size_t const need = b.body_size_ + data.size();
      std::size_t const grown = std::max(need, std::min(2 * b.body_capacity_, grow_limit_));
      void* p = std::realloc(block_, b.head_size() + grown);
      if (!p) throw std::bad_alloc();
      block_ = static_cast<response_block*>(p);
      block_->body_capacity_ = grown;
    }
    std::memcpy(block_->body_data() + block_->body_size_, data.data(), data.size());
    block_->body_size_ += data.size();
  }

  /// The finished block (the builder no longer holds it); unused body room is given back.
  block_ptr finish() {
    if (!block_) header_done(0);
    auto& b = *block_;
    if (b.body_capacity_ - b.body_size_ > 64) {
      if (void* p = std::realloc(block_, b.head_size() + b.body_size_)) {
        block_ = static_cast<response_block*>(p);
        block_->body_capacity_ = block_->body_size_;
      }
    }
    return block_ptr(std::exchange(block_, nullptr));
  }

  /// The block being built, once its header is done (null before): a look at the head before
  /// the body arrives.
  const response_block* current() const noexcept { return block_; }

  /// The room for body bytes of the block being built (0 before the header is done).
  std::size_t body_capacity() const noexcept { return block_ ? block_->body_capacity_ : 0; }

  /// Starts a copy of `from` without its body and without the fields `drop` names
  /// (case-insensitive); the body is then `append_body`ed, up to `max_body`, and `finish`ed.
  void begin_copy(const response_block& from, std::initializer_list<std::string_view> drop,
                  std::size_t max_body) {
    begin(from.url(), from.method(), max_body);
    status_line(from.status(), from.reason(), from.version());
    for (auto it = from.fields_begin(); it != from.fields_end(); ++it) {
      auto const f = *it;
      if (std::none_of(drop.begin(), drop.end(),
                       [&](std::string_view d) { return boost::beast::iequals(d, f.name); }))
        field(f.name, f.value);
    }
    header_done(0);
  }

  /// Drops a response being built (a failed read).
  void discard() noexcept {
    if (block_) std::free(std::exchange(block_, nullptr));
  }

  /// A copy of `from` whose body is `body`, without the fields `drop` names (case-insensitive).
  static block_ptr rebuild(const response_block& from, std::string_view body,
                           std::initializer_list<std::string_view> drop) {
    response_builder b;
    b.begin(from.url(), from.method(), body.size());
    b.status_line(from.status(), from.reason(), from.version());
    for (auto it = from.fields_begin(); it != from.fields_end(); ++it) {
      auto const f = *it;
      if (std::none_of(drop.begin(), drop.end(),
                       [&](std::string_view d) { return boost::beast::iequals(d, f.name); }))
        b.field(f.name, f.value);
    }
    b.header_done(body.size());
    b.append_body(body);
    return b.finish();
  }

 private:
  static constexpr std::size_t scratch_limit = 16 << 10;

  response_block* block_ = nullptr;
  std::string text_;
  std::vector<field_entry> fields_;
  std::string_view url_, method_;
  std::size_t max_body_ = 0;
  std::size_t grow_limit_ = 0;
  std::uint16_t status_ = 0;
  std::uint16_t version_ = 11;
  std::uint32_t reason_size_ = 0;
};

}  // namespace detail
}  // namespace fanout

#endif
