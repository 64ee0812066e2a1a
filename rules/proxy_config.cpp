#include "rules/proxy_config.h"

namespace kubenat {

ProxyConfig with_node_ips_from_state(const ProxyConfig& base, const ClusterState& state) {
  ProxyConfig config = base;
  if (!config.node_ips.empty()) return config;
  auto node = state.nodes.find(config.node_name);
  if (node == state.nodes.end()) return config;
  for (const char* type : {"InternalIP", "ExternalIP"}) {
    for (const NodeAddress& address : node->second.addresses) {
      if (address.type != type) continue;
      auto ip = IpAddress::parse_sloppy(address.address);
      if (ip && ip->family() == config.family) {
        config.node_ips = {*ip};
        return config;
      }
    }
  }
  return config;
}

}  // namespace kubenat
