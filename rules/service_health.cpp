#include "rules/service_health.h"

#include <algorithm>
#include <set>

#include "rules/endpoint_selection.h"
#include "rules/service_port_info.h"

namespace kubenat {

ServiceHealth service_health(const Service& service, const std::map<std::string, EndpointSlice>* slices,
                             const ProxyConfig& config, std::string_view node_zone) {
  ServiceHealth out;
  std::set<IpAddress> ready_here;
  for (const ServicePortInfo& port : resolve_service_ports(service, slices, config)) {
    // Set by the resolution for LoadBalancer Services with
    // externalTrafficPolicy Local only.
    if (port.health_check_node_port != 0) out.health_check_node_port = port.health_check_node_port;
    for (const EndpointInfo& endpoint : port.endpoints) {
      if (endpoint.is_local && endpoint.ready) ready_here.insert(endpoint.ip);
    }
    if (!port.uses_local_endpoints()) continue;
    if (!select_endpoints(port, config.node_name, node_zone).local.empty()) continue;
    if (port.internal_policy_local) ++out.no_local_internal;
    if (port.external_policy_local && port.externally_accessible()) ++out.no_local_external;
  }
  out.local_ready_endpoints = ready_here.size();
  return out;
}

std::optional<std::vector<IpAddress>> nodeport_ips(const ProxyConfig& config) {
  // As the compilers read --nodeport-addresses: no CIDR of this family, or
  // a zero-length one, means every address.
  std::vector<Cidr> cidrs;
  for (const Cidr& cidr : config.nodeport_addresses) {
    if (cidr.family() != config.family) continue;
    if (cidr.prefix_length() == 0) return std::nullopt;
    cidrs.push_back(cidr);
  }
  if (cidrs.empty()) return std::nullopt;
  std::vector<IpAddress> out;
  for (const IpAddress& ip : config.local_addresses) {
    const bool inside = std::any_of(cidrs.begin(), cidrs.end(), [&](const Cidr& cidr) { return cidr.contains(ip); });
    if (inside && std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
  }
  return out;
}

}  // namespace kubenat
