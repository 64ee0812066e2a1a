#pragma once

// An iptables chain name. The kernel limits names to 28 characters, so the
// name is stored inline: a full compile creates one per endpoint, and none of
// them needs the heap.

#include <array>
#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace kubenat {

class ChainName {
 public:
  static constexpr std::size_t kMaxLength = 28;

  ChainName() = default;
  // Names longer than kMaxLength are a bug in the caller (every name kubenat
  // makes is a fixed prefix and a 16-character hash): they abort.
  ChainName(std::string_view name);  // NOLINT: implicit, names are written as strings
  ChainName(const std::string& name) : ChainName(std::string_view(name)) {}  // NOLINT
  ChainName(const char* name) : ChainName(std::string_view(name)) {}         // NOLINT

  std::string_view view() const { return {data_.data(), size_}; }
  operator std::string_view() const { return view(); }  // NOLINT
  std::string str() const { return std::string(view()); }
  std::size_t size() const { return size_; }

  bool operator==(const ChainName& other) const { return view() == other.view(); }
  bool operator==(std::string_view other) const { return view() == other; }
  bool operator==(const std::string& other) const { return view() == other; }
  bool operator==(const char* other) const { return view() == other; }
  std::strong_ordering operator<=>(const ChainName& other) const { return view() <=> other.view(); }

 private:
  std::array<char, kMaxLength> data_{};
  std::uint8_t size_ = 0;
};

inline std::ostream& operator<<(std::ostream& out, const ChainName& name) { return out << name.view(); }

}  // namespace kubenat
