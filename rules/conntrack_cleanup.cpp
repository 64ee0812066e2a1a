#include "rules/conntrack_cleanup.h"

#include <algorithm>
#include <set>

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

std::vector<ConntrackFilter> stale_udp_flows(IpFamily family, const UdpTargetsLookup& before,
                                             const UdpTargetsLookup& after, const std::vector<ServicePortName>& ports) {
  std::vector<ConntrackFilter> out;
  for (const ServicePortName& name : ports) {
    const UdpFlowTargets* old = before(name);
    const UdpFlowTargets* now = after(name);
    if (now == nullptr) {
      // The port is gone (or no longer UDP): every flow to it is stale.
      if (old != nullptr) {
        for (const std::string& endpoint : old->endpoints) gone_endpoint(*old, endpoint, family, out);
      }
      continue;
    }
    if (old != nullptr && *old == *now) continue;
    if ((old == nullptr || old->endpoints.empty()) && !now->endpoints.empty()) {
      all_flows(*now, family, out);
      continue;
    }
    if (old == nullptr) continue;
    for (const std::string& endpoint : old->endpoints) {
      if (!std::binary_search(now->endpoints.begin(), now->endpoints.end(), endpoint)) {
        gone_endpoint(*old, endpoint, family, out);
      }
    }
  }
  return out;
}

}  // namespace kubenat
