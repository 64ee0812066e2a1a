#include "rules/local_traffic_detector.h"

#include <algorithm>
#include <cctype>

namespace kubenat {
namespace {

std::optional<Cidr> first_of_family(const std::vector<Cidr>& cidrs, IpFamily family) {
  auto it = std::find_if(cidrs.begin(), cidrs.end(), [&](const Cidr& cidr) { return cidr.family() == family; });
  if (it == cidrs.end()) return std::nullopt;
  return *it;
}

// IFNAMSIZ less the terminating NUL.
constexpr std::size_t kMaxInterfaceName = 15;

}  // namespace

LocalTrafficDetector local_traffic_detector(const ProxyConfig& config) {
  using M = LocalTrafficDetector::Match;
  std::optional<Cidr> cidr;
  switch (config.detect_local_mode) {
    case DetectLocalMode::ClusterCidr:
      cidr = first_of_family(config.cluster_cidrs, config.family);
      break;
    case DetectLocalMode::NodeCidr:
      cidr = first_of_family(config.node_pod_cidrs, config.family);
      break;
    case DetectLocalMode::BridgeInterface:
      if (config.pod_bridge_interface.empty()) return {};
      return LocalTrafficDetector{M::Interface, {}, config.pod_bridge_interface};
    case DetectLocalMode::InterfaceNamePrefix:
      if (config.pod_interface_name_prefix.empty()) return {};
      return LocalTrafficDetector{M::InterfacePrefix, {}, config.pod_interface_name_prefix};
  }
  if (!cidr) return {};
  return LocalTrafficDetector{M::SourceCidr, *cidr, {}};
}

std::optional<std::string> invalid_interface_name(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxInterfaceName) {
    return "\"" + std::string(name) + "\" is longer than " + std::to_string(kMaxInterfaceName) + " bytes";
  }
  const auto refused = [](char c) {
    return c == '/' || c == ':' || c == '"' || std::isspace(static_cast<unsigned char>(c));
  };
  if (std::any_of(name.begin(), name.end(), refused)) {
    return "\"" + std::string(name) + "\" holds a character an interface name cannot ('/', ':', '\"' or whitespace)";
  }
  return std::nullopt;
}

}  // namespace kubenat
