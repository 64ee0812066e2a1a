#include "bench/bench_cluster.h"

#include <algorithm>

#include "bench/dataplane_world.h"

namespace kubenat::bench {

SyntheticSpec synthetic_spec(const BenchOptions& options, int services) {
  SyntheticSpec spec;
  spec.services = services;
  spec.endpoints_per_service = options.endpoints;
  spec.node_port_share = options.node_port_share;
  spec.load_balancer_share = options.load_balancer_share;
  spec.affinity_share = options.affinity_share;
  spec.local_policy_share = options.local_share;
  spec.seed = options.seed;
  return spec;
}

ProxyConfig bench_proxy_config() {
  ProxyConfig config;
  config.node_name = "node-0";
  config.node_ips = {*IpAddress::parse(DataplaneWorld::kNodeIp)};
  config.cluster_cidrs = {*Cidr::parse("10.0.0.0/8")};
  return config;
}

ObjectName last_in_kube_services(const ClusterState& state) {
  ObjectName last;
  for (const auto& [id, service] : state.services) {
    if (service.cluster_ips.empty() || service.ports.empty()) continue;
    auto slices = state.slices.find(id);
    if (slices == state.slices.end()) continue;
    const bool has_endpoints = std::any_of(slices->second.begin(), slices->second.end(),
                                           [](const auto& entry) { return !entry.second.endpoints.empty(); });
    if (has_endpoints) last = id;  // the map is in name order: the last one wins
  }
  return last;
}

void route_to_pod(ClusterState& state, const ObjectName& service, const std::string& pod_ip) {
  bool first = true;
  for (auto& [name, slice] : state.slices[service]) {
    slice.endpoints.clear();
    if (!first) continue;
    // The first slice holds the one endpoint; the others are left empty.
    Endpoint pod;
    pod.address = *IpAddress::parse(pod_ip);
    pod.node_name = "node-0";
    slice.endpoints = {pod};
    first = false;
  }
}

ObjectName add_endpoint_for_run(ClusterState& state, const SyntheticSpec& spec, int run, const ObjectName& spare) {
  // Runs walk the Services other than `spare` with a prime stride, so that
  // they are spread over the table and distinct as long as there are
  // Services enough; two primes cannot both divide a count the flags allow.
  const std::optional<int> spare_index = synthetic_service_index(spare);
  const long others = spec.services - (spare_index ? 1 : 0);
  const long stride = others % 7919 == 0 ? 7907 : 7919;
  int service = static_cast<int>((13 + static_cast<long>(run) * stride) % others);
  if (spare_index && service >= *spare_index) ++service;
  const ObjectName id = synthetic_service_name(service);
  EndpointSlice& slice = state.slices[id].begin()->second;
  Endpoint ep;
  // The next of the Service's addresses: a Service changed again (more runs
  // than Services) gets another one.
  ep.address = *IpAddress::parse(synthetic_endpoint_ip(service, static_cast<int>(slice.endpoints.size())));
  ep.node_name = "node-1";
  slice.endpoints.push_back(ep);
  return id;
}

ObjectName add_service_for_run(ClusterState& state, const SyntheticSpec& spec, int run) {
  return add_synthetic_service(state, spec, spec.services + run);
}

}  // namespace kubenat::bench
