#pragma once

// Synthetic clusters for benchmarks: N services with E endpoints each, a
// seeded mix of Service kinds, reproducible from the seed alone.

#include <cstdint>
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

// The Service index's cluster IP, endpoint IPs: exposed so that scenarios
// can add or remove exactly one endpoint.
std::string synthetic_cluster_ip(int service);
std::string synthetic_endpoint_ip(int service, int endpoint);

}  // namespace kubenat::bench
