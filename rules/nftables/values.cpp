#include "rules/nftables/values.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kubenat {
namespace {

// The packed form: a tag byte, then the value's fields. Addresses carry
// only their own bytes (4 or 16), numbers their width in network order.
enum Tag : std::uint8_t {
  kIpv4 = 0,     // 4 address bytes
  kIpv6 = 1,     // 16 address bytes
  kCidrV4 = 2,   // 4 network bytes, prefix length
  kCidrV6 = 3,   // 16 network bytes, prefix length
  kProtocol = 4, // 1 byte
  kPort = 5,     // 2 bytes
  kNumber = 6,   // 4 bytes
  kVerdict = 7,  // kind, 2 bytes of chain length, the chain's name
};

void put_address(std::string& out, const IpAddress& address) {
  out.append(reinterpret_cast<const char*>(address.bytes().data()), address.byte_length());
}

void put(std::string& out, const NftValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, IpAddress>) {
          out.push_back(static_cast<char>(v.is_v4() ? kIpv4 : kIpv6));
          put_address(out, v);
        } else if constexpr (std::is_same_v<T, Cidr>) {
          out.push_back(static_cast<char>(v.network().is_v4() ? kCidrV4 : kCidrV6));
          put_address(out, v.network());
          out.push_back(static_cast<char>(v.prefix_length()));
        } else if constexpr (std::is_same_v<T, Protocol>) {
          out.push_back(static_cast<char>(kProtocol));
          out.push_back(static_cast<char>(v));
        } else if constexpr (std::is_same_v<T, std::uint16_t>) {
          out.push_back(static_cast<char>(kPort));
          out.push_back(static_cast<char>(v >> 8));
          out.push_back(static_cast<char>(v & 0xff));
        } else if constexpr (std::is_same_v<T, std::uint32_t>) {
          out.push_back(static_cast<char>(kNumber));
          for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
        } else {
          out.push_back(static_cast<char>(kVerdict));
          out.push_back(static_cast<char>(v.kind));
          out.push_back(static_cast<char>(v.chain.size() >> 8));
          out.push_back(static_cast<char>(v.chain.size() & 0xff));
          out += v.chain;
        }
      },
      value);
}

std::uint8_t byte_at(std::string_view bytes, std::size_t at) { return static_cast<std::uint8_t>(bytes[at]); }

IpAddress address_at(std::string_view bytes, std::size_t at, std::size_t length) {
  return *IpAddress::from_bytes(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data() + at), length));
}

// The length of the packed value at `at`, tag included.
std::size_t length_at(std::string_view bytes, std::size_t at) {
  switch (byte_at(bytes, at)) {
    case kIpv4:
      return 5;
    case kIpv6:
      return 17;
    case kCidrV4:
      return 6;
    case kCidrV6:
      return 18;
    case kProtocol:
      return 2;
    case kPort:
      return 3;
    case kNumber:
      return 5;
    default:
      return 4 + (std::size_t{byte_at(bytes, at + 2)} << 8 | byte_at(bytes, at + 3));
  }
}

NftValue value_at(std::string_view bytes, std::size_t at) {
  switch (byte_at(bytes, at)) {
    case kIpv4:
      return address_at(bytes, at + 1, 4);
    case kIpv6:
      return address_at(bytes, at + 1, 16);
    case kCidrV4:
      return Cidr(address_at(bytes, at + 1, 4), byte_at(bytes, at + 5));
    case kCidrV6:
      return Cidr(address_at(bytes, at + 1, 16), byte_at(bytes, at + 17));
    case kProtocol:
      return static_cast<Protocol>(byte_at(bytes, at + 1));
    case kPort:
      return static_cast<std::uint16_t>(byte_at(bytes, at + 1) << 8 | byte_at(bytes, at + 2));
    case kNumber:
      return static_cast<std::uint32_t>(std::uint32_t{byte_at(bytes, at + 1)} << 24 |
                                        std::uint32_t{byte_at(bytes, at + 2)} << 16 |
                                        std::uint32_t{byte_at(bytes, at + 3)} << 8 | byte_at(bytes, at + 4));
    default:
      return NftVerdict{static_cast<NftVerdict::Kind>(byte_at(bytes, at + 1)),
                        std::string(bytes.substr(at + 4, length_at(bytes, at) - 4))};
  }
}

// Packs `values` in a scratch string first, so a list longer than the inline
// buffer is allocated once.
template <typename Values>
PackedBytes pack(const Values& values) {
  std::string bytes;
  for (const NftValue& value : values) put(bytes, value);
  return PackedBytes(bytes);
}

}  // namespace

NftValue NftValues::const_iterator::operator*() const { return value_at(bytes_, at_); }

NftValues::const_iterator& NftValues::const_iterator::operator++() {
  at_ += length_at(bytes_, at_);
  return *this;
}

NftValues::NftValues(std::initializer_list<NftValue> values) : bytes_(pack(values)) {}

NftValues::NftValues(const std::vector<NftValue>& values) : bytes_(pack(values)) {}

NftValues::operator std::vector<NftValue>() const { return std::vector<NftValue>(begin(), end()); }

void NftValues::push_back(const NftValue& value) {
  std::string bytes;
  put(bytes, value);
  bytes_.append(bytes);
}

std::size_t NftValues::size() const {
  const std::string_view bytes = bytes_.view();
  std::size_t count = 0;
  for (std::size_t at = 0; at < bytes.size(); at += length_at(bytes, at)) ++count;
  return count;
}

NftValue NftValues::operator[](std::size_t index) const {
  const std::string_view bytes = bytes_.view();
  std::size_t at = 0;
  for (; index > 0; --index) at += length_at(bytes, at);
  return value_at(bytes, at);
}

std::strong_ordering operator<=>(const NftValues& a, const NftValues& b) {
  auto x = a.begin();
  auto y = b.begin();
  for (; x != a.end() && y != b.end(); ++x, ++y) {
    if (const auto order = *x <=> *y; order != 0) return order;
  }
  if (x != a.end()) return std::strong_ordering::greater;
  if (y != b.end()) return std::strong_ordering::less;
  return std::strong_ordering::equal;
}

}  // namespace kubenat
