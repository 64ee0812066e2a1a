#pragma once

// NftSetName: the name of the set or map a plan element belongs to, in 8
// bytes. A plan at 100,000 Services holds over a million elements, and
// most of their sets' names ("nodeport-cluster-endpoints") are longer than
// std::string's inline buffer: as a std::string each element carried a
// 32-byte string and a heap block with its own copy of the name. The names
// the compiler uses are a known name, or a known prefix and a number
// ("cluster-count-3", "affinity-destinations-10800"), stored as an index
// and the number; any other name is kept in a heap block of its own.
//
// It reads like the string it stands for: it converts from and to one,
// and compares and orders exactly as the strings do, so sorted plans stay
// the same.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace kubenat {

class NftSetName {
 public:
  NftSetName() = default;
  NftSetName(std::string_view name);  // NOLINT(google-explicit-constructor): reads like the string
  NftSetName(const std::string& name) : NftSetName(std::string_view(name)) {}  // NOLINT
  NftSetName(const char* name) : NftSetName(std::string_view(name)) {}         // NOLINT
  NftSetName(const NftSetName& other);
  NftSetName(NftSetName&& other) noexcept : bits_(other.bits_) { other.bits_ = 0; }
  NftSetName& operator=(const NftSetName& other);
  NftSetName& operator=(NftSetName&& other) noexcept;
  ~NftSetName();

  [[nodiscard]] std::string str() const;
  operator std::string() const { return str(); }  // NOLINT(google-explicit-constructor)

  friend bool operator==(const NftSetName& a, const NftSetName& b);
  friend std::strong_ordering operator<=>(const NftSetName& a, const NftSetName& b);

 private:
  // Low bit set: a known name (bits 1-8: its index in the table, bit 9: a
  // number follows it, bits 32-63: the number). Otherwise a pointer to an
  // owned std::string, or 0 for the empty name.
  std::uint64_t bits_ = 0;
};

}  // namespace kubenat
