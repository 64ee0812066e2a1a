#pragma once

// Synthetic clusters for benchmarks: N services with E endpoints each, a
// seeded mix of Service kinds, reproducible from the seed alone.

#include <cstdint>
#include <optional>
#include <string>

#include "rules/model.h"

namespace kubenat::bench {

struct SyntheticSpec {
  int services = 1000;
  int endpoints_per_service = 10;
  int nodes = 50;
  // Shares of services of each kind, in [0, 1]; the rest are ClusterIP.
  double node_port_share = 0.0;
  double load_balancer_share = 0.0;
  // Independent of the kind.
  double affinity_share = 0.0;
  double local_policy_share = 0.0;
  std::uint64_t seed = 1;
};

// Service i is "ns<i % 50>/svc<i>" with ClusterIP from 172.16.0.0/12 and
// port "http" 80/TCP to 8080; endpoints are spread over nodes "node-<k>",
// "node-0" being the node the plan is compiled for.
ClusterState make_synthetic_cluster(const SyntheticSpec& spec);

// "ns<index % 50>/svc<index>", and back (nullopt for other names).
ObjectName synthetic_service_name(int index);
std::optional<int> synthetic_service_index(const ObjectName& name);

// Adds Service `index` (ClusterIP, named and addressed as above) with
// `spec.endpoints_per_service` endpoints: what a scenario that adds one
// Service to a synthetic cluster adds. Returns its name.
ObjectName add_synthetic_service(ClusterState& state, const SyntheticSpec& spec, int index);

// The Service index's cluster IP, endpoint IPs: exposed so that scenarios
// can add or remove exactly one endpoint.
std::string synthetic_cluster_ip(int service);
std::string synthetic_endpoint_ip(int service, int endpoint);

}  // namespace kubenat::bench
