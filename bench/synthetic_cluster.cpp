#include "bench/synthetic_cluster.h"

#include <charconv>
#include <random>

namespace kubenat::bench {

std::string synthetic_cluster_ip(int service) {
  // 172.16.0.0/12 holds a million addresses; skip .0 and .255 in each /24.
  const int host = service % 254 + 1;
  const int net = service / 254;
  return "172." + std::to_string(16 + net / 256) + "." + std::to_string(net % 256) + "." + std::to_string(host);
}

std::string synthetic_endpoint_ip(int service, int endpoint) {
  // 10.0.0.0/8 with 64 addresses per service: enough for 262,144 services.
  const long index = static_cast<long>(service) * 64 + endpoint;
  return "10." + std::to_string((index >> 16) & 255) + "." + std::to_string((index >> 8) & 255) + "." +
         std::to_string(index & 255);
}

ObjectName synthetic_service_name(int index) {
  return {"ns" + std::to_string(index % 50), "svc" + std::to_string(index)};
}

std::optional<int> synthetic_service_index(const ObjectName& name) {
  // from_chars takes a minus sign; a synthetic index never has one.
  if (!name.name.starts_with("svc") || name.name.size() == 3 || name.name[3] < '0' || name.name[3] > '9') {
    return std::nullopt;
  }
  int index = 0;
  const char* begin = name.name.data() + 3;
  const char* end = name.name.data() + name.name.size();
  auto [at, ec] = std::from_chars(begin, end, index);
  if (ec != std::errc() || at != end || synthetic_service_name(index) != name) return std::nullopt;
  return index;
}

namespace {

// Service `index`'s one EndpointSlice, its endpoints spread over the nodes.
void put_endpoints(ClusterState& state, const SyntheticSpec& spec, const ObjectName& service, int index) {
  EndpointSlice slice;
  slice.id = {service.namespace_, service.name + "-abcde"};
  slice.service_name = service.name;
  slice.ports.push_back(EndpointPort{std::string("http"), Protocol::Tcp, 8080});
  for (int e = 0; e < spec.endpoints_per_service; ++e) {
    Endpoint ep;
    ep.address = *IpAddress::parse(synthetic_endpoint_ip(index, e));
    ep.node_name = "node-" + std::to_string((index + e) % spec.nodes);
    slice.endpoints.push_back(ep);
  }
  state.put_slice(std::move(slice));
}

}  // namespace

ClusterState make_synthetic_cluster(const SyntheticSpec& spec) {
  ClusterState state;
  std::mt19937_64 rng(spec.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int n = 0; n < spec.nodes; ++n) {
    Node node;
    node.name = "node-" + std::to_string(n);
    node.addresses.push_back({"InternalIP", "192.168." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1)});
    state.nodes[node.name] = node;
  }
  // NodePorts are unique, as the API server keeps them, numbered from 30000:
  // past 2,768 of them a cluster would have widened
  // --service-node-port-range; 35,535 fit below 65536.
  int next_node_port = 30000;
  for (int i = 0; i < spec.services; ++i) {
    Service svc;
    svc.id = synthetic_service_name(i);
    svc.cluster_ips.push_back(*IpAddress::parse(synthetic_cluster_ip(i)));
    ServicePort port{"http", Protocol::Tcp, 80, 0};
    const double kind = unit(rng);
    if (kind < spec.load_balancer_share) {
      svc.type = ServiceType::LoadBalancer;
      port.node_port = next_node_port < 65536 ? next_node_port++ : 0;
      svc.load_balancer_ips.push_back(*IpAddress::parse("198.18." + std::to_string(i / 250 % 256) + "." +
                                                        std::to_string(i % 250 + 1)));
    } else if (kind < spec.load_balancer_share + spec.node_port_share) {
      svc.type = ServiceType::NodePort;
      port.node_port = next_node_port < 65536 ? next_node_port++ : 0;
    }
    if (unit(rng) < spec.affinity_share) svc.session_affinity = SessionAffinity::ClientIP;
    if (unit(rng) < spec.local_policy_share && svc.type != ServiceType::ClusterIP) {
      svc.external_traffic_policy = TrafficPolicy::Local;
    }
    svc.ports.push_back(port);
    state.services[svc.id] = svc;
    put_endpoints(state, spec, svc.id, i);
  }
  return state;
}

ObjectName add_synthetic_service(ClusterState& state, const SyntheticSpec& spec, int index) {
  Service svc;
  svc.id = synthetic_service_name(index);
  svc.cluster_ips.push_back(*IpAddress::parse(synthetic_cluster_ip(index)));
  svc.ports.push_back(ServicePort{"http", Protocol::Tcp, 80, 0});
  state.services[svc.id] = svc;
  put_endpoints(state, spec, svc.id, index);
  return svc.id;
}

}  // namespace kubenat::bench
