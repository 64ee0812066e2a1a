#pragma once

// NftValues: the values of a set element's key or data, packed. A plan at
// 100,000 Services holds over a million elements; as std::vector<NftValue>
// each one cost two heap blocks of 48-byte variants (over 400 bytes an
// element), packed an IPv4 key (address . protocol . port . index) is 15
// bytes and fits in PackedBytes' inline buffer, so most elements need no
// heap block at all, and an NftValues is 16 bytes.
//
// It reads like a std::vector<NftValue> that hands out values rather than
// references (operator[], iteration, size), converts to and from one, and
// orders and compares exactly as one would, so sorted plans stay the same.

#include <compare>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/ip.h"
#include "rules/model.h"
#include "rules/nftables/packed_bytes.h"

namespace kubenat {

// A verdict: accept, drop, return, or a jump or goto to a chain.
struct NftVerdict {
  enum class Kind : std::uint8_t { Accept, Drop, Return, Jump, Goto };
  Kind kind = Kind::Accept;
  std::string chain;  // for Jump and Goto
  auto operator<=>(const NftVerdict&) const = default;
};

// A value in a set element or a rule: an address, a prefix (interval sets,
// prefix matches), a protocol, a port, a number, or a verdict.
using NftValue = std::variant<IpAddress, Cidr, Protocol, std::uint16_t /*port*/, std::uint32_t /*number*/, NftVerdict>;

class NftValues {
 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = NftValue;
    using difference_type = std::ptrdiff_t;
    using reference = NftValue;
    using pointer = void;

    const_iterator() = default;
    NftValue operator*() const;
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& other) const { return at_ == other.at_; }

   private:
    friend class NftValues;
    const_iterator(std::string_view bytes, std::size_t at) : bytes_(bytes), at_(at) {}
    std::string_view bytes_;
    std::size_t at_ = 0;
  };
  using value_type = NftValue;
  using size_type = std::size_t;

  NftValues() = default;
  NftValues(std::initializer_list<NftValue> values);
  NftValues(const std::vector<NftValue>& values);  // NOLINT: as interchangeable as the vector it replaces
  operator std::vector<NftValue>() const;          // NOLINT: ditto

  void push_back(const NftValue& value);
  template <typename... Args>
  void emplace_back(Args&&... args) {
    push_back(NftValue(std::forward<Args>(args)...));
  }

  std::size_t size() const;
  bool empty() const { return bytes_.empty(); }
  // The value at `index` (< size()), by value.
  NftValue operator[](std::size_t index) const;
  const_iterator begin() const { return {bytes_.view(), 0}; }
  const_iterator end() const { return {bytes_.view(), bytes_.size()}; }

  // One value packs to one sequence of bytes, so equal lists are equal bytes.
  friend bool operator==(const NftValues& a, const NftValues& b) { return a.bytes_ == b.bytes_; }
  // As std::vector<NftValue> orders: value by value, then by length.
  friend std::strong_ordering operator<=>(const NftValues& a, const NftValues& b);

 private:
  PackedBytes bytes_;  // per value: a tag byte, then its fields (see values.cpp)
};

}  // namespace kubenat
