#pragma once

// A Service port joined with its endpoints, reduced to one IP family and
// one node's point of view: everything a backend needs to write rules, and
// nothing that depends on the backend.

#include <map>
#include <string>
#include <vector>

#include "rules/diagnostic.h"
#include "rules/ip.h"
#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat {

struct EndpointInfo {
  IpAddress ip;
  int port = 0;
  std::string address;  // "IP:port" (join_host_port): the endpoint's identity
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  bool is_local = false;  // on this node
  std::vector<std::string> zone_hints;
  std::vector<std::string> node_hints;

  bool operator==(const EndpointInfo&) const = default;
};

struct ServicePortInfo {
  ServicePortName name;
  std::string name_string;  // name.to_string(), computed once
  IpAddress cluster_ip;
  int port = 0;
  int node_port = 0;
  std::vector<IpAddress> external_ips;       // this family only
  std::vector<IpAddress> load_balancer_ips;  // this family only
  // This family only; empty when any range is /0 (which allows everything).
  std::vector<Cidr> load_balancer_source_ranges;
  bool external_policy_local = false;
  bool internal_policy_local = false;
  bool session_affinity = false;
  int session_affinity_timeout_seconds = 0;
  int health_check_node_port = 0;

  // Every endpoint of the port, de-duplicated and sorted by address string
  // (byte-wise, as kube-proxy sorts).
  std::vector<EndpointInfo> endpoints;

  // Derived from the fields above, as kube-proxy's BaseServicePortInfo.
  bool externally_accessible() const {
    return node_port != 0 || !load_balancer_ips.empty() || !external_ips.empty();
  }
  bool uses_cluster_endpoints() const { return !internal_policy_local || externally_accessible(); }
  bool uses_local_endpoints() const {
    return internal_policy_local || (external_policy_local && externally_accessible());
  }

  bool operator==(const ServicePortInfo&) const = default;
};

// The service ports of one Service for config.family, with endpoints from
// its slices (v1-Endpoints-derived slices only when no real slice exists).
// Returns nothing for ExternalName and headless Services and for Services
// without a cluster IP of this family. Pure: same input, same output.
std::vector<ServicePortInfo> resolve_service_ports(
    const Service& service, const std::map<std::string, EndpointSlice>* slices,
    const ProxyConfig& config);

// The number of endpoints resolve_service_ports would give the Service's
// ports, before de-duplication: a cheap upper bound for sizing decisions.
std::size_t count_endpoints(const Service& service, const std::map<std::string, EndpointSlice>* slices,
                            const ProxyConfig& config);

// Slices whose Service is unknown, as diagnostics.
Diagnostics orphan_slice_diagnostics(const ClusterState& state);

// All service ports of the cluster, keyed and therefore ordered by name.
// Reports slices whose Service is unknown.
struct ResolvedCluster {
  std::map<ServicePortName, ServicePortInfo> service_ports;
  Diagnostics diagnostics;
};
ResolvedCluster resolve_cluster(const ClusterState& state, const ProxyConfig& config);

}  // namespace kubenat
