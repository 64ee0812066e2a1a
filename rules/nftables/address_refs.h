#pragma once

// NftAddressRefs: how many service ports refer to each endpoint address
// (NftPlan::hairpin_refs), in address order. A plan at 100,000 Services x
// 10 endpoints counts a million addresses; as a std::map each was a 64-byte
// tree node of its own. Here the (address, count) pairs are kept sorted in
// chunks of at most a few hundred (24 bytes a pair), so a change still
// inserts or erases in one small chunk rather than moving a million pairs,
// and addresses added in order fill their chunks.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "rules/ip.h"

namespace kubenat {

class NftAddressRefs {
 public:
  using value_type = std::pair<IpAddress, std::uint32_t>;  // (address, references), references > 0

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = NftAddressRefs::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = const value_type&;
    using pointer = const value_type*;

    const_iterator() = default;
    reference operator*() const { return (*chunks_)[chunk_][at_]; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& other) const { return chunk_ == other.chunk_ && at_ == other.at_; }

   private:
    friend class NftAddressRefs;
    const_iterator(const std::vector<std::vector<value_type>>* chunks, std::size_t chunk, std::size_t at)
        : chunks_(chunks), chunk_(chunk), at_(at) {}
    const std::vector<std::vector<value_type>>* chunks_ = nullptr;
    std::size_t chunk_ = 0;
    std::size_t at_ = 0;
  };

  // The references to `address`: 0 when none.
  [[nodiscard]] std::uint32_t refs(const IpAddress& address) const;
  [[nodiscard]] bool contains(const IpAddress& address) const { return refs(address) > 0; }
  // Adds `delta` (+1 or -1) to the references to `address`: +1 when it came
  // into use by this, -1 when it went out of use, else 0.
  int add(const IpAddress& address, int delta);
  // Sets the references to `address` (0 removes it).
  void set(const IpAddress& address, std::uint32_t refs);

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] const_iterator begin() const { return const_iterator(&chunks_, 0, 0); }
  [[nodiscard]] const_iterator end() const { return const_iterator(&chunks_, chunks_.size(), 0); }

  // Equal when they hold the same pairs, however they are chunked.
  bool operator==(const NftAddressRefs& other) const;

 private:
  // Where `address` is or would go: the chunk (chunks_.size() when past the
  // last one) and the position in it.
  std::pair<std::size_t, std::size_t> locate(const IpAddress& address) const;

  // Sorted, none empty, each chunk's addresses below the next one's.
  std::vector<std::vector<value_type>> chunks_;
  std::size_t size_ = 0;
};

}  // namespace kubenat
