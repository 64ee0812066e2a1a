#include "engine/network_namespace.h"

#include <utility>

#include "engine/process.h"

namespace kubenat {

std::expected<ScopedNetworkNamespace, std::string> ScopedNetworkNamespace::create(std::string name) {
  auto result = run_process({"ip", "netns", "add", name});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("ip netns add " + name + ": " + result->err);
  return ScopedNetworkNamespace(std::move(name));
}

ScopedNetworkNamespace::ScopedNetworkNamespace(ScopedNetworkNamespace&& other) noexcept
    : name_(std::exchange(other.name_, std::string())) {}

ScopedNetworkNamespace::~ScopedNetworkNamespace() {
  if (!name_.empty()) (void)run_process({"ip", "netns", "del", name_});
}

}  // namespace kubenat
