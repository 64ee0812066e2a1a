#include "engine/daemon/ip_families.h"

#include <set>

namespace kubenat {
namespace {

// The Node's addresses that are node IPs, InternalIP first, as kube-proxy
// picks them.
std::vector<IpAddress> node_addresses(const std::optional<Node>& node) {
  std::vector<IpAddress> out;
  if (!node) return out;
  for (const char* type : {"InternalIP", "ExternalIP"}) {
    for (const NodeAddress& address : node->addresses) {
      if (address.type != type) continue;
      if (auto ip = IpAddress::parse_sloppy(address.address)) out.push_back(*ip);
    }
  }
  return out;
}

}  // namespace

std::vector<IpFamily> ip_families(const std::vector<IpAddress>& node_ips, const std::vector<Cidr>& cluster_cidrs,
                                  const std::optional<Node>& node) {
  const std::vector<IpAddress> from_node = node_addresses(node);
  std::optional<IpFamily> primary;
  if (!node_ips.empty()) {
    primary = node_ips.front().family();
  } else if (!from_node.empty()) {
    primary = from_node.front().family();
  } else if (!cluster_cidrs.empty()) {
    primary = cluster_cidrs.front().family();
  }
  std::set<IpFamily> seen;
  for (const IpAddress& ip : node_ips) seen.insert(ip.family());
  for (const IpAddress& ip : from_node) seen.insert(ip.family());
  for (const Cidr& cidr : cluster_cidrs) seen.insert(cidr.family());
  std::vector<IpFamily> families = {primary.value_or(IpFamily::V4)};
  const IpFamily other = families.front() == IpFamily::V4 ? IpFamily::V6 : IpFamily::V4;
  if (seen.contains(other)) families.push_back(other);
  return families;
}

bool dual_stack_by_flags(const std::vector<IpAddress>& node_ips, const std::vector<Cidr>& cluster_cidrs) {
  return ip_families(node_ips, cluster_cidrs, std::nullopt).size() == 2;
}

}  // namespace kubenat
