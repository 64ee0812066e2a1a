#include "rules/service_port_info.h"

#include <algorithm>
#include <optional>

namespace kubenat {
namespace {

AddressType address_type_for(IpFamily family) {
  return family == IpFamily::V4 ? AddressType::IPv4 : AddressType::IPv6;
}

std::vector<IpAddress> of_family(const std::vector<IpAddress>& ips, IpFamily family) {
  std::vector<IpAddress> out;
  for (const IpAddress& ip : ips) {
    if (ip.family() == family) out.push_back(ip);
  }
  return out;
}

std::vector<Cidr> source_ranges_of_family(const std::vector<Cidr>& ranges, IpFamily family) {
  std::vector<Cidr> out;
  for (const Cidr& range : ranges) {
    if (range.family() != family) continue;
    // A /0 range admits everyone: no firewall at all, as kube-proxy reads it.
    if (range.prefix_length() == 0) return {};
    out.push_back(range);
  }
  return out;
}

bool external_policy_local(const Service& service) {
  const bool external = service.type == ServiceType::LoadBalancer ||
                        service.type == ServiceType::NodePort || !service.external_ips.empty();
  return external && service.external_traffic_policy == TrafficPolicy::Local;
}

// The slices that feed a Service: real EndpointSlices when there are any,
// otherwise the ones converted from v1 Endpoints.
std::vector<const EndpointSlice*> feeding_slices(const std::map<std::string, EndpointSlice>* slices,
                                                 IpFamily family) {
  std::vector<const EndpointSlice*> real;
  std::vector<const EndpointSlice*> legacy;
  if (slices == nullptr) return real;
  for (const auto& [name, slice] : *slices) {
    if (slice.address_type != address_type_for(family)) continue;
    (slice.from_endpoints_v1 ? legacy : real).push_back(&slice);
  }
  bool any_real = std::any_of(slices->begin(), slices->end(),
                              [](const auto& entry) { return !entry.second.from_endpoints_v1; });
  return any_real ? real : legacy;
}

bool port_matches(const EndpointPort& slice_port, const ServicePort& port) {
  return slice_port.name && slice_port.port != 0 && *slice_port.name == port.name &&
         slice_port.protocol == port.protocol;
}

const IpAddress* cluster_ip_of_family(const Service& service, IpFamily family) {
  if (service.type == ServiceType::ExternalName) return nullptr;
  for (const IpAddress& ip : service.cluster_ips) {
    if (ip.family() == family) return &ip;
  }
  return nullptr;
}

std::vector<EndpointInfo> endpoints_for(const ServicePort& port,
                                        const std::vector<const EndpointSlice*>& slices,
                                        const ProxyConfig& config) {
  std::size_t count = 0;
  for (const EndpointSlice* slice : slices) count += slice->endpoints.size();
  std::vector<EndpointInfo> out;
  out.reserve(count);
  for (const EndpointSlice* slice : slices) {
    for (const EndpointPort& slice_port : slice->ports) {
      if (!port_matches(slice_port, port)) continue;
      for (const Endpoint& ep : slice->endpoints) {
        if (ep.address.family() != config.family) continue;
        EndpointInfo& info = out.emplace_back();
        info.ip = ep.address;
        info.port = slice_port.port;
        info.address = join_host_port(ep.address, slice_port.port);
        info.ready = ep.ready;
        info.serving = ep.serving;
        info.terminating = ep.terminating;
        info.is_local = !ep.node_name.empty() && ep.node_name == config.node_name;
        info.zone_hints.assign(ep.hints.zones().begin(), ep.hints.zones().end());
        info.node_hints.assign(ep.hints.nodes().begin(), ep.hints.nodes().end());
      }
    }
  }
  // Byte-wise order of "IP:port": "10.1.1.11:11" sorts before "10.1.1.1:11".
  // The sort is stable so that duplicates keep their slice order.
  std::stable_sort(out.begin(), out.end(),
                   [](const EndpointInfo& a, const EndpointInfo& b) { return a.address < b.address; });
  // A duplicate (an endpoint moving between slices) replaces the earlier copy
  // unless it is the terminating one.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (kept > 0 && out[kept - 1].address == out[i].address) {
      if (!out[i].terminating) out[kept - 1] = std::move(out[i]);
    } else {
      if (kept != i) out[kept] = std::move(out[i]);
      ++kept;
    }
  }
  out.resize(kept);
  return out;
}

}  // namespace

std::vector<ServicePortInfo> resolve_service_ports(
    const Service& service, const std::map<std::string, EndpointSlice>* slices,
    const ProxyConfig& config) {
  std::vector<ServicePortInfo> out;
  const IpAddress* cluster_ip = cluster_ip_of_family(service, config.family);
  if (cluster_ip == nullptr) return out;

  const bool ext_local = external_policy_local(service);
  const std::vector<const EndpointSlice*> feeding = feeding_slices(slices, config.family);

  for (const ServicePort& port : service.ports) {
    ServicePortInfo info;
    info.name = ServicePortName{service.id, port.name, port.protocol};
    bool duplicate = std::any_of(out.begin(), out.end(),
                                 [&](const ServicePortInfo& other) { return other.name == info.name; });
    if (duplicate) continue;
    info.name_string = info.name.to_string();
    info.cluster_ip = *cluster_ip;
    info.port = port.port;
    info.node_port = port.node_port;
    info.external_ips = of_family(service.external_ips, config.family);
    info.load_balancer_ips = of_family(service.load_balancer_ips, config.family);
    info.load_balancer_source_ranges =
        source_ranges_of_family(service.load_balancer_source_ranges, config.family);
    info.external_policy_local = ext_local;
    info.internal_policy_local = service.internal_traffic_policy == TrafficPolicy::Local;
    info.session_affinity = service.session_affinity == SessionAffinity::ClientIP;
    info.session_affinity_timeout_seconds =
        info.session_affinity ? service.session_affinity_timeout_seconds : 0;
    if (service.type == ServiceType::LoadBalancer && ext_local) {
      info.health_check_node_port = service.health_check_node_port;
    }
    info.endpoints = endpoints_for(port, feeding, config);
    out.push_back(std::move(info));
  }
  return out;
}

std::size_t count_endpoints(const Service& service, const std::map<std::string, EndpointSlice>* slices,
                            const ProxyConfig& config) {
  if (cluster_ip_of_family(service, config.family) == nullptr) return 0;
  std::size_t count = 0;
  const std::vector<const EndpointSlice*> feeding = feeding_slices(slices, config.family);
  for (const ServicePort& port : service.ports) {
    for (const EndpointSlice* slice : feeding) {
      for (const EndpointPort& slice_port : slice->ports) {
        if (!port_matches(slice_port, port)) continue;
        for (const Endpoint& ep : slice->endpoints) count += ep.address.family() == config.family ? 1 : 0;
      }
    }
  }
  return count;
}

Diagnostics orphan_slice_diagnostics(const ClusterState& state) {
  Diagnostics out;
  for (const auto& [service_id, slices] : state.slices) {
    if (state.services.contains(service_id)) continue;
    for (const auto& [slice_name, slice] : slices) {
      const char* kind = slice.from_endpoints_v1 ? "Endpoints " : "EndpointSlice ";
      std::string field = slice.from_endpoints_v1 ? "metadata.name"
                                                  : "metadata.labels[kubernetes.io/service-name]";
      out.push_back(Diagnostic{kind + ObjectName{slice.id.namespace_, slice.id.name}.to_string(), std::move(field),
                               "Service " + service_id.to_string() + " not found; ignored"});
    }
  }
  return out;
}

ResolvedCluster resolve_cluster(const ClusterState& state, const ProxyConfig& config) {
  ResolvedCluster out;
  for (const auto& [id, service] : state.services) {
    auto slices = state.slices.find(id);
    for (ServicePortInfo& port : resolve_service_ports(
             service, slices == state.slices.end() ? nullptr : &slices->second, config)) {
      ServicePortName key = port.name;
      out.service_ports.emplace(std::move(key), std::move(port));
    }
  }
  out.diagnostics = orphan_slice_diagnostics(state);
  return out;
}

}  // namespace kubenat
