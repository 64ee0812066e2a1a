#include "rules/conntrack_cleanup.h"

#include <algorithm>

namespace kubenat {
namespace {

// "IP:port" or "[IP]:port" back into its parts.
std::optional<std::pair<IpAddress, int>> split_endpoint(const std::string& endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string_view host(endpoint.data(), colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  auto ip = IpAddress::parse(host);
  if (!ip) return std::nullopt;
  return std::make_pair(*ip, std::stoi(endpoint.substr(colon + 1)));
}

void gone_endpoint(const UdpFlowTargets& targets, const std::string& endpoint, IpFamily family,
                   std::vector<ConntrackFilter>& out) {
  auto parts = split_endpoint(endpoint);
  if (!parts) return;
  for (const IpAddress& destination : targets.destinations) {
    out.push_back(ConntrackFilter{family, destination, targets.port, parts->first, parts->second});
  }
  if (targets.node_port != 0) {
    out.push_back(ConntrackFilter{family, std::nullopt, targets.node_port, parts->first, parts->second});
  }
}

void all_flows(const UdpFlowTargets& targets, IpFamily family, std::vector<ConntrackFilter>& out) {
  for (const IpAddress& destination : targets.destinations) {
    out.push_back(ConntrackFilter{family, destination, targets.port, std::nullopt, std::nullopt});
  }
  if (targets.node_port != 0) {
    out.push_back(ConntrackFilter{family, std::nullopt, targets.node_port, std::nullopt, std::nullopt});
  }
}

}  // namespace

std::string ConntrackFilter::to_string() const {
  // IPv6 addresses followed by a port are bracketed, or "fd00::10:53" could
  // be read either way.
  auto host_port = [](const IpAddress& address, const std::optional<int>& port) {
    return port ? join_host_port(address, *port) : address.to_string();
  };
  std::string out = "udp";
  if (original_destination) {
    out += " orig-dst " + host_port(*original_destination, original_destination_port);
  } else if (original_destination_port) {
    out += " orig-dst *:" + std::to_string(*original_destination_port);
  }
  if (reply_source) out += " reply-src " + host_port(*reply_source, reply_source_port);
  return out;
}

std::vector<ConntrackFilter> stale_udp_flows(const IptablesPlan* before, const IptablesPlan& after) {
  std::vector<ConntrackFilter> out;
  const IpFamily family = after.family;
  auto old_targets = [&](const ServicePortName& name) -> const UdpFlowTargets* {
    if (before == nullptr) return nullptr;
    auto it = before->service_ports.find(name);
    if (it == before->service_ports.end() || !it->second->udp) return nullptr;
    return &*it->second->udp;
  };
  for (const auto& [name, fragment] : after.service_ports) {
    if (!fragment->udp) continue;
    const UdpFlowTargets& now = *fragment->udp;
    const UdpFlowTargets* old = old_targets(name);
    if (old != nullptr && *old == now) continue;
    if ((old == nullptr || old->endpoints.empty()) && !now.endpoints.empty()) {
      all_flows(now, family, out);
      continue;
    }
    if (old == nullptr) continue;
    for (const std::string& endpoint : old->endpoints) {
      if (!std::binary_search(now.endpoints.begin(), now.endpoints.end(), endpoint)) {
        gone_endpoint(*old, endpoint, family, out);
      }
    }
  }
  if (before != nullptr) {
    for (const auto& [name, fragment] : before->service_ports) {
      if (!fragment->udp || after.service_ports.contains(name)) continue;
      for (const std::string& endpoint : fragment->udp->endpoints) gone_endpoint(*fragment->udp, endpoint, family, out);
    }
  }
  return out;
}

}  // namespace kubenat
