#pragma once

// Which endpoints serve which traffic: kube-proxy's CategorizeEndpoints,
// with its terminating-endpoint fallback and topology hints.

#include <string_view>
#include <vector>

#include "rules/service_port_info.h"

namespace kubenat {

struct EndpointSelection {
  // Indices into ServicePortInfo::endpoints, in list order.
  std::vector<std::size_t> cluster;    // for Cluster traffic policy
  std::vector<std::size_t> local;      // for Local traffic policy
  std::vector<std::size_t> reachable;  // every endpoint that needs a chain
  // Some endpoint somewhere can take traffic; false means REJECT.
  bool has_any = false;
};

// node_zone is this node's topology.kubernetes.io/zone label, or empty.
EndpointSelection select_endpoints(const ServicePortInfo& port, std::string_view node_name,
                                   std::string_view node_zone);

}  // namespace kubenat
