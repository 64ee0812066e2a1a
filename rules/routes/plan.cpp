#include "rules/routes/plan.h"

#include <algorithm>
#include <optional>
#include <set>

namespace kubenat {
namespace {

bool overlap(const Cidr& a, const Cidr& b) {
  return a.family() == b.family() && (a.contains(b.network()) || b.contains(a.network()));
}

// A pod CIDR taken by a node: later claims that overlap it lose.
struct Claim {
  Cidr cidr;
  const std::string* node;
};

bool directly_connected(const IpAddress& address, const RouteConfig& config) {
  if (config.assume_directly_connected) return true;
  return std::any_of(config.local_subnets.begin(), config.local_subnets.end(),
                     [&](const Cidr& subnet) { return subnet.contains(address); });
}

// The gateway for a pod CIDR of `family`: the node's first InternalIP of
// that family on a directly connected subnet. `first` is set to its first
// InternalIP of the family at all, for the message when none is connected.
std::optional<IpAddress> gateway_for(const Node& node, IpFamily family, const RouteConfig& config,
                                     std::optional<IpAddress>& first) {
  for (const NodeAddress& address : node.addresses) {
    if (address.type != "InternalIP") continue;
    const std::optional<IpAddress> ip = IpAddress::parse_sloppy(address.address);
    if (!ip || ip->family() != family) continue;
    if (!first) first = ip;
    if (directly_connected(*ip, config)) return ip;
  }
  return std::nullopt;
}

}  // namespace

RoutePlan plan_routes(const std::map<std::string, Node>& nodes, const RouteConfig& config) {
  RoutePlan plan;
  std::vector<Claim> claims;
  // This node's own pod CIDRs are claimed first: a route sending them to
  // another node would cut this node's pods off.
  if (auto self = nodes.find(config.node_name); self != nodes.end()) {
    for (const Cidr& cidr : self->second.pod_cidrs) claims.push_back({cidr, &self->first});
  }
  std::set<std::string> skipped;
  auto report = [&](const std::string& node, std::string message) {
    plan.diagnostics.push_back({"Node " + node, "", std::move(message)});
  };

  for (const auto& [name, node] : nodes) {
    if (name == config.node_name) continue;
    if (node.pod_cidrs.empty()) {
      report(name, "no spec.podCIDRs; no route to its pods");
      continue;
    }
    for (const Cidr& cidr : node.pod_cidrs) {
      const auto taken =
          std::find_if(claims.begin(), claims.end(), [&](const Claim& claim) { return overlap(claim.cidr, cidr); });
      if (taken != claims.end()) {
        // A node repeating its own CIDR (or nesting two) needs no second route.
        if (*taken->node == name) continue;
        const std::string owner =
            *taken->node == config.node_name ? "this node (" + config.node_name + ")" : "node " + *taken->node;
        report(name, "pod CIDR " + cidr.to_string() + " overlaps pod CIDR " + taken->cidr.to_string() + " of " +
                         owner + "; no route to it");
        skipped.insert(name);
        continue;
      }
      claims.push_back({cidr, &name});

      std::optional<IpAddress> first;
      const std::optional<IpAddress> gateway = gateway_for(node, cidr.family(), config, first);
      if (!first) {
        report(name, "no InternalIP of family " + std::string(ip_family_name(cidr.family())) +
                         "; no route to its pod CIDR " + cidr.to_string());
        skipped.insert(name);
      } else if (!gateway) {
        report(name, "InternalIP " + first->to_string() +
                         " is not on a directly connected subnet; no route to its pod CIDR " + cidr.to_string());
        skipped.insert(name);
      } else {
        plan.routes.push_back({cidr, *gateway, name});
      }
    }
  }
  std::sort(plan.routes.begin(), plan.routes.end());
  plan.skipped_nodes = skipped.size();
  return plan;
}

RouteDiff diff_routes(const std::vector<Route>& from, const std::vector<Route>& to) {
  std::map<Cidr, const Route*> old_routes;
  std::map<Cidr, const Route*> new_routes;
  for (const Route& route : from) old_routes.try_emplace(route.destination, &route);
  for (const Route& route : to) new_routes.try_emplace(route.destination, &route);
  RouteDiff diff;
  for (const auto& [destination, route] : new_routes) {
    auto old = old_routes.find(destination);
    if (old == old_routes.end()) {
      diff.add.push_back(*route);
    } else if (old->second->gateway != route->gateway) {
      diff.replace.push_back(*route);
    }
  }
  for (const auto& [destination, route] : old_routes) {
    if (!new_routes.contains(destination)) diff.remove.push_back(*route);
  }
  return diff;
}

std::string render_route(const Route& route) {
  std::string out = route.destination.to_string() + " via " + route.gateway.to_string();
  if (!route.node.empty()) out += " # node " + route.node;
  return out;
}

std::string render_route_plan(const RoutePlan& plan) {
  std::string out;
  for (const Route& route : plan.routes) out += render_route(route) + "\n";
  return out;
}

std::string render_route_plan_comments(const RoutePlan& plan, const std::map<std::string, Node>& nodes,
                                       const RouteConfig& config) {
  const bool any_pod_cidr =
      std::any_of(nodes.begin(), nodes.end(), [](const auto& entry) { return !entry.second.pod_cidrs.empty(); });
  if (!any_pod_cidr) return "";
  std::string out = "# Static pod-CIDR routes for node " + config.node_name + " (kubenat run --routes):\n";
  if (config.assume_directly_connected) out += "# (every node taken as directly connected)\n";
  for (const Route& route : plan.routes) out += "# " + render_route(route) + "\n";
  if (plan.routes.empty()) out += "# (none)\n";
  for (const Diagnostic& diagnostic : plan.diagnostics) out += "# skipped: " + diagnostic.to_string() + "\n";
  return out;
}

}  // namespace kubenat
