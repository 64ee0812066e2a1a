#include "rules/nftables/address_list.h"

#include <cstdint>
#include <string>

namespace kubenat {

NftAddressList::NftAddressList(std::span<const IpAddress> addresses) {
  std::string packed;
  for (const IpAddress& address : addresses) {
    packed.push_back(static_cast<char>(address.byte_length()));
    packed.append(reinterpret_cast<const char*>(address.bytes().data()), address.byte_length());
  }
  bytes_ = PackedBytes(packed);
}

IpAddress NftAddressList::const_iterator::operator*() const {
  const auto length = static_cast<std::size_t>(static_cast<unsigned char>(bytes_[at_]));
  return *IpAddress::from_bytes(std::span(reinterpret_cast<const std::uint8_t*>(bytes_.data() + at_ + 1), length));
}

NftAddressList::const_iterator& NftAddressList::const_iterator::operator++() {
  at_ += 1 + static_cast<std::size_t>(static_cast<unsigned char>(bytes_[at_]));
  return *this;
}

}  // namespace kubenat
