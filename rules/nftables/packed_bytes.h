#pragma once

// PackedBytes: a byte string in 16 bytes, for the packed values of set
// elements (NftValues). A plan at 100,000 Services holds over a million
// elements of two NftValues each; as std::string each cost 32 bytes although
// nearly all keys are at most 15 bytes (an IPv4 endpoint key) and nearly all
// data at most 8. Up to 15 bytes live inline with the size in the last byte;
// longer strings live in a heap block of exactly their size, held as pointer
// and size. Appending to a heap string reallocates: these strings are built
// once and rarely grown.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kubenat {

class PackedBytes {
 public:
  static constexpr std::size_t kInlineCapacity = 15;

  PackedBytes() noexcept;
  explicit PackedBytes(std::string_view bytes);
  PackedBytes(const PackedBytes& other);
  PackedBytes(PackedBytes&& other) noexcept;
  PackedBytes& operator=(const PackedBytes& other);
  PackedBytes& operator=(PackedBytes&& other) noexcept;
  ~PackedBytes();

  void append(std::string_view bytes);
  void push_back(char byte) { append(std::string_view(&byte, 1)); }

  std::size_t size() const;
  bool empty() const { return size() == 0; }
  const char* data() const;
  std::string_view view() const { return {data(), size()}; }
  char operator[](std::size_t index) const { return data()[index]; }
  // Whether the bytes are in a heap block (more than kInlineCapacity of them).
  bool on_heap() const { return storage_[kMarker] == kHeapMarker; }

  friend bool operator==(const PackedBytes& a, const PackedBytes& b) { return a.view() == b.view(); }

 private:
  // Inline: bytes [0, size), the size in storage_[kMarker] (0..15).
  // Heap: the block's pointer in [0, 8), its size (uint32) in [8, 12),
  // kHeapMarker in storage_[kMarker]. Both are read and written with memcpy,
  // as storage_ has no pointer type.
  static constexpr std::size_t kMarker = 15;
  static constexpr unsigned char kHeapMarker = 0x80;

  void set_inline_size(std::size_t size) { storage_[kMarker] = static_cast<unsigned char>(size); }
  char* heap_block() const;
  void set_heap(char* block, std::size_t size);
  void release();
  void take(PackedBytes& other) noexcept;  // steals other's bytes, leaving it empty

  alignas(8) unsigned char storage_[16];
};

static_assert(sizeof(PackedBytes) == 16);

}  // namespace kubenat
