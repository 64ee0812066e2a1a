#pragma once

// Which UDP conntrack entries a plan change leaves stale. UDP has no
// connection to close: a client that keeps its source port (DNS resolvers
// do) stays pinned by conntrack to an endpoint that is gone, or to the
// "no endpoint" verdict it got before the service had any. kube-proxy deletes
// those entries after applying rules; so does kubenat.

#include <functional>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "rules/ip.h"
#include "rules/model.h"

namespace kubenat {

// Where a UDP service port's clients send and which endpoints may answer:
// what the conntrack cleanup compares between two plans.
struct UdpFlowTargets {
  std::vector<IpAddress> destinations;  // cluster IP, external IPs, load balancer IPs
  int port = 0;
  int node_port = 0;
  std::vector<std::string> endpoints;  // "IP:port" of every endpoint with a chain, sorted
  bool operator==(const UdpFlowTargets&) const = default;
};

// The conntrack entries to delete: UDP flows matching every field that is set.
struct ConntrackFilter {
  IpFamily family = IpFamily::V4;
  std::optional<IpAddress> original_destination;
  std::optional<int> original_destination_port;
  std::optional<IpAddress> reply_source;  // the endpoint the flow was DNATed to
  std::optional<int> reply_source_port;

  // "udp orig-dst 10.96.0.10:53 reply-src 10.200.1.5:53", for logs.
  std::string to_string() const;
  bool operator==(const ConntrackFilter&) const = default;
};

// The stale UDP flows between two plans, looking only at `ports` (the
// service ports that changed): `before` and `after` give a port's targets in
// each plan, or null when the port is absent there or not UDP. For each UDP
// service port:
// - an endpoint that is gone: flows to the port's addresses (and NodePort)
//   that were DNATed to it;
// - a port that had no endpoint and now has one: every flow to its
//   addresses and NodePort, which carried the no-endpoint verdict.
using UdpTargetsLookup = std::function<const UdpFlowTargets*(const ServicePortName&)>;
std::vector<ConntrackFilter> stale_udp_flows(IpFamily family, const UdpTargetsLookup& before,
                                             const UdpTargetsLookup& after, const std::vector<ServicePortName>& ports);

// The lookup for a plan whose service ports carry an optional `udp` (the
// iptables and nftables plans both do).
template <class Plan>
UdpTargetsLookup udp_targets_of(const Plan* plan) {
  return [plan](const ServicePortName& name) -> const UdpFlowTargets* {
    if (plan == nullptr) return nullptr;
    auto it = plan->service_ports.find(name);
    if (it == plan->service_ports.end() || !it->second->udp) return nullptr;
    return &*it->second->udp;
  };
}

// The stale UDP flows between two whole plans of any backend (before may be
// null: nothing was applied), every service port that is UDP in either
// compared (one that is UDP in neither has no flow to clean; after a first
// sync at 100,000 Services, the names of all of them were 23 MB more at the
// daemon's peak).
template <class Plan>
std::vector<ConntrackFilter> stale_udp_flows(const Plan* before, const Plan& after) {
  std::set<ServicePortName> ports;
  for (const auto& [name, fragment] : after.service_ports) {
    if (fragment && fragment->udp) ports.insert(name);
  }
  if (before != nullptr) {
    for (const auto& [name, fragment] : before->service_ports) {
      if (fragment && fragment->udp) ports.insert(name);
    }
  }
  return stale_udp_flows(after.family, udp_targets_of(before), udp_targets_of(&after),
                         std::vector<ServicePortName>(ports.begin(), ports.end()));
}

}  // namespace kubenat
