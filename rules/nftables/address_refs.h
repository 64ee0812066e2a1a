#pragma once

// NftAddressRefs: how many service ports refer to each endpoint address
// (NftPlan::hairpin_refs), in address order. A plan at 100,000 Services x
// 10 endpoints counts a million addresses; as a std::map each was a 64-byte
// tree node of its own, and as sorted (IpAddress, count) pairs 24 bytes plus
// the room of half-full chunks (38 MiB in all). Here IPv4 addresses are kept
// as 32-bit numbers beside their counts (8 bytes a pair) and IPv6 ones as
// their 16 bytes (20), each family's pairs sorted in chunks of at most a few
// hundred, so a change still inserts or erases in one small chunk rather than
// moving a million pairs, and addresses added in order fill their chunks.
// The pairs are handed out by value, since no IpAddress is stored.

#include <array>
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

  // Every IPv4 address in order, then every IPv6 one: IpAddress's order.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = NftAddressRefs::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    using pointer = void;

    const_iterator() = default;
    value_type operator*() const;
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& other) const {
      return v6_ == other.v6_ && chunk_ == other.chunk_ && at_ == other.at_;
    }

   private:
    friend class NftAddressRefs;
    const_iterator(const NftAddressRefs* refs, bool v6, std::size_t chunk, std::size_t at)
        : refs_(refs), v6_(v6), chunk_(chunk), at_(at) {}
    // Past the last IPv4 chunk, on to the first IPv6 one.
    void skip_to_v6_when_past_v4();
    const NftAddressRefs* refs_ = nullptr;
    bool v6_ = false;
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

  [[nodiscard]] std::size_t size() const { return v4_.size + v6_.size; }
  [[nodiscard]] bool empty() const { return size() == 0; }
  [[nodiscard]] const_iterator begin() const;
  [[nodiscard]] const_iterator end() const { return const_iterator(this, true, v6_.chunks.size(), 0); }

  // Equal when they hold the same pairs, however they are chunked.
  bool operator==(const NftAddressRefs& other) const;

 private:
  // One family's (key, references) pairs: sorted, no chunk empty, each
  // chunk's keys below the next one's.
  template <typename Key>
  struct Counts {
    struct Pair {
      Key key;
      std::uint32_t refs;
    };
    std::vector<std::vector<Pair>> chunks;
    std::size_t size = 0;

    std::uint32_t get(const Key& key) const;
    void set(const Key& key, std::uint32_t refs);
    // Where `key` is or would go: the chunk (chunks.size() when past the
    // last one) and the position in it.
    std::pair<std::size_t, std::size_t> locate(const Key& key) const;
  };
  using V6Bytes = std::array<std::uint8_t, 16>;

  Counts<std::uint32_t> v4_;  // the address's bytes read big-endian, so that numbers sort as addresses do
  Counts<V6Bytes> v6_;
};

}  // namespace kubenat
