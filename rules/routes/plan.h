#pragma once

// Static pod-CIDR routes, for clusters without BGP or an overlay: every
// worker routes each other worker's pod CIDR through that worker's
// InternalIP ("10.200.2.0/24 via 10.240.0.12"). This is the pure part: which
// routes a node should hold for a cluster (the RoutePlan), what differs
// between two sets of routes (the RouteDiff), and the text form shown by
// `kubenat routes` and `kubenat plan`. engine/routes/proxier.h puts a plan into
// the kernel.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "rules/diagnostic.h"
#include "rules/ip.h"
#include "rules/model.h"

namespace kubenat {

// One route: `destination` (another node's pod CIDR) via `gateway` (that
// node's InternalIP). `node` names the node, for messages and comments; it is
// not part of what the kernel holds.
struct Route {
  Cidr destination;
  IpAddress gateway;
  std::string node;

  auto operator<=>(const Route&) const = default;
  bool operator==(const Route&) const = default;
};

struct RouteConfig {
  // This node: it needs no route to its own pods.
  std::string node_name;
  // The subnets this node reaches without a gateway. A route "via X" works
  // only when X is on one of them; other nodes are skipped, with a
  // diagnostic, rather than routed into a black hole.
  std::vector<Cidr> local_subnets;
  // Take every node as directly connected and ignore local_subnets: for a
  // snapshot printed away from the node (`kubenat routes` without
  // --local-subnet), where there is no kernel to ask.
  bool assume_directly_connected = false;
};

struct RoutePlan {
  // Sorted by destination (IPv4 before IPv6, then address and prefix);
  // destinations are unique and never overlap one another or this node's
  // own pod CIDRs.
  std::vector<Route> routes;
  // Why a node, or one of its pod CIDRs, got no route; in node-name order.
  Diagnostics diagnostics;
  // The other nodes with a pod CIDR that got no route (InternalIP not on a
  // directly connected subnet, no InternalIP of the CIDR's family, a CIDR
  // that overlaps another's): nodes whose pods this node cannot reach. Nodes
  // without any pod CIDR are not counted (there is nothing to route), though
  // they get a diagnostic.
  std::size_t skipped_nodes = 0;
};

// The routes node `config.node_name` should hold for `nodes`: for every
// other Node, for each of its spec.podCIDRs, a route via its first
// InternalIP of the CIDR's family that lies on a directly connected subnet.
// IPv4 and IPv6 pod CIDRs are routed separately (dual-stack). When two nodes
// claim overlapping CIDRs, the node whose name sorts first keeps its route
// and the other is reported; a CIDR overlapping this node's own is never
// routed elsewhere. The same input gives the same plan.
[[nodiscard]] RoutePlan plan_routes(const std::map<std::string, Node>& nodes, const RouteConfig& config);

// What turns `from` into `to`, by destination: the gateway is what the
// kernel holds, so a route whose only change is its node name is equal.
struct RouteDiff {
  std::vector<Route> add;      // destinations only `to` has
  std::vector<Route> replace;  // destinations both have, with another gateway: the new route
  std::vector<Route> remove;   // destinations only `from` has: the old route

  bool empty() const { return add.empty() && replace.empty() && remove.empty(); }
  bool operator==(const RouteDiff&) const = default;
};

// Both inputs may be in any order, with unique destinations (a later
// duplicate is ignored). The lists come out sorted by destination.
[[nodiscard]] RouteDiff diff_routes(const std::vector<Route>& from, const std::vector<Route>& to);

// "10.200.2.0/24 via 10.240.0.12 # node worker-2": the `ip route` spelling,
// with the node as a comment.
std::string render_route(const Route& route);
// One render_route() line per route, in plan order.
std::string render_route_plan(const RoutePlan& plan);
// The plan as '#' comment lines, to append to iptables-restore input
// without changing what it does: a heading naming the node, one line per
// route and one per diagnostic. Empty when no node has a pod CIDR at all
// (the cluster does not use per-node pod CIDRs, so there is nothing to say).
std::string render_route_plan_comments(const RoutePlan& plan, const std::map<std::string, Node>& nodes,
                                       const RouteConfig& config);

}  // namespace kubenat
