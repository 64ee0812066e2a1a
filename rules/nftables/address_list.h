#pragma once

// NftAddressList: a service port's endpoint addresses for the hairpin set
// (NftServicePortRules::hairpin_ips), packed. Every port of a plan holds
// one: at 100,000 Services x 10 endpoints, as a std::vector<IpAddress> each
// cost 200 bytes (17 an address, plus the vector); packed, an IPv4 address
// takes 5 bytes (its length, then its bytes) and the list 16 plus one heap
// block past 15 bytes, 80 bytes for ten. Built once, read whole, compared.

#include <cstddef>
#include <iterator>
#include <span>
#include <string_view>

#include "rules/ip.h"
#include "rules/nftables/packed_bytes.h"

namespace kubenat {

class NftAddressList {
 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = IpAddress;
    using difference_type = std::ptrdiff_t;
    using reference = IpAddress;
    using pointer = void;

    const_iterator() = default;
    IpAddress operator*() const;
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& other) const { return at_ == other.at_; }

   private:
    friend class NftAddressList;
    const_iterator(std::string_view bytes, std::size_t at) : bytes_(bytes), at_(at) {}
    std::string_view bytes_;
    std::size_t at_ = 0;
  };
  using value_type = IpAddress;

  NftAddressList() = default;
  // The addresses in the order given.
  explicit NftAddressList(std::span<const IpAddress> addresses);

  const_iterator begin() const { return {bytes_.view(), 0}; }
  const_iterator end() const { return {bytes_.view(), bytes_.size()}; }
  std::size_t size() const { return static_cast<std::size_t>(std::distance(begin(), end())); }
  bool empty() const { return bytes_.empty(); }

  friend bool operator==(const NftAddressList& a, const NftAddressList& b) { return a.bytes_ == b.bytes_; }

 private:
  PackedBytes bytes_;  // per address: its length (4 or 16), then its bytes in network order
};

}  // namespace kubenat
