#include "rules/nftables/packed_bytes.h"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace kubenat {

PackedBytes::PackedBytes() noexcept { std::memset(storage_, 0, sizeof storage_); }

PackedBytes::PackedBytes(std::string_view bytes) : PackedBytes() { append(bytes); }

PackedBytes::PackedBytes(const PackedBytes& other) : PackedBytes() { append(other.view()); }

PackedBytes::PackedBytes(PackedBytes&& other) noexcept : PackedBytes() { take(other); }

PackedBytes& PackedBytes::operator=(const PackedBytes& other) {
  if (this == &other) return *this;
  PackedBytes copy(other);
  release();
  take(copy);
  return *this;
}

PackedBytes& PackedBytes::operator=(PackedBytes&& other) noexcept {
  if (this == &other) return *this;
  release();
  take(other);
  return *this;
}

PackedBytes::~PackedBytes() { release(); }

void PackedBytes::append(std::string_view bytes) {
  if (bytes.empty()) return;
  const std::size_t old_size = size();
  const std::size_t new_size = old_size + bytes.size();
  if (new_size <= kInlineCapacity) {
    // Within the inline buffer, which a heap string never is.
    std::memcpy(storage_ + old_size, bytes.data(), bytes.size());
    set_inline_size(new_size);
    return;
  }
  if (new_size > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("PackedBytes: over 4 GiB");
  // `bytes` may point into this string's own bytes: copy before releasing.
  char* block = new char[new_size];
  std::memcpy(block, data(), old_size);
  std::memcpy(block + old_size, bytes.data(), bytes.size());
  release();
  set_heap(block, new_size);
}

std::size_t PackedBytes::size() const {
  if (!on_heap()) return storage_[kMarker];
  std::uint32_t size = 0;
  std::memcpy(&size, storage_ + sizeof(char*), sizeof size);
  return size;
}

const char* PackedBytes::data() const { return on_heap() ? heap_block() : reinterpret_cast<const char*>(storage_); }

char* PackedBytes::heap_block() const {
  char* block = nullptr;
  std::memcpy(&block, storage_, sizeof block);
  return block;
}

void PackedBytes::set_heap(char* block, std::size_t size) {
  const auto size32 = static_cast<std::uint32_t>(size);
  std::memset(storage_, 0, sizeof storage_);
  std::memcpy(storage_, &block, sizeof block);
  std::memcpy(storage_ + sizeof block, &size32, sizeof size32);
  storage_[kMarker] = kHeapMarker;
}

void PackedBytes::release() {
  if (on_heap()) delete[] heap_block();
  std::memset(storage_, 0, sizeof storage_);
}

void PackedBytes::take(PackedBytes& other) noexcept {
  std::memcpy(storage_, other.storage_, sizeof storage_);
  std::memset(other.storage_, 0, sizeof other.storage_);
}

}  // namespace kubenat
