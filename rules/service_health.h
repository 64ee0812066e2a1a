#pragma once

// What this node can tell load balancers and dashboards about one Service,
// as kube-proxy tells it: the health-check node port of a LoadBalancer
// Service with externalTrafficPolicy Local and how many of its endpoints
// are ready here (pkg/proxy/healthcheck/service_health.go), and which of
// its ports have a Local traffic policy but no endpoint on this node (the
// sync_proxy_rules_no_local_endpoints_total gauge).

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ip.h"
#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat {

struct ServiceHealth {
  // spec.healthCheckNodePort of a LoadBalancer Service with
  // externalTrafficPolicy Local, for this family; 0: none.
  int health_check_node_port = 0;
  // Endpoints of this family on this node that are ready, counted once per
  // IP whatever the ports (kube-proxy's LocalReadyEndpoints): what the
  // health check reports. Terminating endpoints do not count.
  std::size_t local_ready_endpoints = 0;
  // Service ports with internalTrafficPolicy Local, or externalTrafficPolicy
  // Local and reachable from outside, that have no endpoint for Local
  // traffic on this node.
  std::size_t no_local_internal = 0;
  std::size_t no_local_external = 0;

  bool operator==(const ServiceHealth&) const = default;
};

// For config.family and config.node_name; `node_zone` is this node's
// topology zone (topology hints decide nothing local, but the endpoint
// selection takes it). Pure.
ServiceHealth service_health(const Service& service, const std::map<std::string, EndpointSlice>* slices,
                             const ProxyConfig& config, std::string_view node_zone);

// The local addresses NodePorts (and health-check node ports) answer on,
// of config.family: nullopt when --nodeport-addresses does not restrict
// them (every address).
std::optional<std::vector<IpAddress>> nodeport_ips(const ProxyConfig& config);

}  // namespace kubenat
