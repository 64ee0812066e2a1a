#pragma once

// Immutable text shared between the values that hold it: an endpoint's node
// name and zone. A cluster of 100,000 Services has a million endpoints but a
// few thousand node names; as SharedText each endpoint holds a pointer (8
// bytes) instead of a std::string (32), and equal names interned through one
// SharedTextPool share one block.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kubenat {

class SharedText {
 public:
  SharedText() = default;  // empty
  // A block of its own (none for empty text): not shared with equal texts.
  explicit SharedText(std::string_view text);
  SharedText(const SharedText& other) noexcept;
  SharedText(SharedText&& other) noexcept : block_(other.block_) { other.block_ = nullptr; }
  SharedText& operator=(const SharedText& other) noexcept;
  SharedText& operator=(SharedText&& other) noexcept;
  // As SharedText(text): lets `endpoint.node_name = "worker-1"` read as for a string.
  SharedText& operator=(std::string_view text) { return *this = SharedText(text); }
  ~SharedText() { release(); }

  std::string_view view() const { return block_ == nullptr ? std::string_view() : block_->text(); }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor): reads as a string
  std::string str() const { return std::string(view()); }
  bool empty() const { return block_ == nullptr; }
  std::size_t size() const { return view().size(); }

  // How many SharedText values hold this block (0 when empty). Any thread;
  // exact only when no other thread copies or drops a holder meanwhile.
  long use_count() const { return block_ == nullptr ? 0 : block_->refs.load(std::memory_order_acquire); }

  // By content: equal texts are equal whether they share a block or not.
  friend bool operator==(const SharedText& a, const SharedText& b) {
    return a.block_ == b.block_ || a.view() == b.view();
  }
  friend bool operator==(const SharedText& a, std::string_view b) { return a.view() == b; }

 private:
  // Allocated with the text's characters right behind it. The count is
  // atomic: endpoints are copied from the watch thread to the sync thread.
  struct Block {
    std::atomic<long> refs;
    std::size_t size;
    std::string_view text() const { return {reinterpret_cast<const char*>(this + 1), size}; }
  };
  void release() noexcept;

  Block* block_ = nullptr;
};

std::ostream& operator<<(std::ostream& out, const SharedText& text);

// Hands out one SharedText per distinct text. Not thread-safe: one pool per
// thread that decodes (each informer has its own). Texts no value holds any
// more are dropped as the pool grows, so names of nodes long gone do not
// accumulate.
class SharedTextPool {
 public:
  SharedText intern(std::string_view text);
  std::size_t size() const { return texts_.size(); }

 private:
  void drop_unused();

  // Keys view the text inside their value's block, which outlives the entry.
  std::unordered_map<std::string_view, SharedText> texts_;
  std::size_t drop_at_ = kMinDropAt;
  static constexpr std::size_t kMinDropAt = 1024;
};

}  // namespace kubenat
