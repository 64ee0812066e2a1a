#include "rules/iptables/chain_name.h"

#include <cstdio>
#include <cstdlib>

namespace kubenat {

ChainName::ChainName(std::string_view name) {
  if (name.size() > kMaxLength) {
    std::fprintf(stderr, "kubenat: bug: chain name \"%.*s\" exceeds %zu characters\n", static_cast<int>(name.size()),
                 name.data(), kMaxLength);
    std::abort();
  }
  name.copy(data_.data(), name.size());
  size_ = static_cast<std::uint8_t>(name.size());
}

}  // namespace kubenat
