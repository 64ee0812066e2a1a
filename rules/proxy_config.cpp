#include "rules/proxy_config.h"

#include <utility>

namespace kubenat {

namespace {

constexpr std::pair<DetectLocalMode, std::string_view> kDetectLocalModeNames[] = {
    {DetectLocalMode::ClusterCidr, "ClusterCIDR"},
    {DetectLocalMode::NodeCidr, "NodeCIDR"},
    {DetectLocalMode::BridgeInterface, "BridgeInterface"},
    {DetectLocalMode::InterfaceNamePrefix, "InterfaceNamePrefix"},
};

}  // namespace

std::optional<DetectLocalMode> parse_detect_local_mode(std::string_view name) {
  if (name.empty()) return DetectLocalMode::ClusterCidr;
  for (const auto& [mode, mode_name] : kDetectLocalModeNames) {
    if (name == mode_name) return mode;
  }
  return std::nullopt;
}

std::string_view detect_local_mode_name(DetectLocalMode mode) {
  for (const auto& [known, name] : kDetectLocalModeNames) {
    if (known == mode) return name;
  }
  return "";
}

ProxyConfig with_node_ips_from_state(const ProxyConfig& base, const ClusterState& state) {
  ProxyConfig config = base;
  auto node = state.nodes.find(config.node_name);
  if (node == state.nodes.end()) return config;
  if (config.detect_local_mode == DetectLocalMode::NodeCidr) config.node_pod_cidrs = node->second.pod_cidrs;
  // A dual-stack node's --node-ip may name one family only: the other
  // family's proxier still takes its node IP from the Node.
  for (const IpAddress& ip : config.node_ips) {
    if (ip.family() == config.family) return config;
  }
  for (const char* type : {"InternalIP", "ExternalIP"}) {
    for (const NodeAddress& address : node->second.addresses) {
      if (address.type != type) continue;
      auto ip = IpAddress::parse_sloppy(address.address);
      if (ip && ip->family() == config.family) {
        config.node_ips.push_back(*ip);
        return config;
      }
    }
  }
  return config;
}

}  // namespace kubenat
