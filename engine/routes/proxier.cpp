#include "engine/routes/proxier.h"

#include <algorithm>
#include <cerrno>
#include <map>

namespace kubenat {
namespace {

constexpr int kUnicast = 1;  // RTN_UNICAST

KernelRoute kernel_route(const Route& route, int protocol, std::uint32_t priority = 0) {
  KernelRoute out;
  out.destination = route.destination;
  out.gateway = route.gateway;
  out.protocol = protocol;
  out.priority = priority;
  return out;
}

std::string describe(const Route& route) {
  return route.destination.to_string() + " via " + route.gateway.to_string() + " (node " + route.node + ")";
}

}  // namespace

std::string route_protocol_name(int protocol) {
  static const std::map<int, std::string> kNames = {
      {0, "unspec"}, {1, "redirect"}, {2, "kernel"},    {3, "boot"},   {4, "static"},  {8, "gated"},
      {9, "ra"},     {10, "mrt"},     {11, "zebra"},    {12, "bird"},  {13, "dnrouted"}, {14, "xorp"},
      {15, "ntk"},   {16, "dhcp"},    {18, "keepalived"}, {42, "babel"}, {99, "openr"},  {186, "bgp"},
      {187, "isis"}, {188, "ospf"},   {189, "rip"},     {192, "eigrp"}};
  auto it = kNames.find(protocol);
  return it == kNames.end() ? std::to_string(protocol) : it->second;
}

RouteProxier::RouteProxier(RouteBackend& backend, Options options)
    : backend_(backend), options_(std::move(options)) {
  config_.node_name = options_.node_name;
}

void RouteProxier::compile(const ClusterState& state, const std::set<ObjectName>*) {
  // A copy: apply() plans again when the connected subnets changed, and it
  // runs without the sync loop's lock.
  nodes_ = state.nodes;
  plan_ = plan_routes(nodes_, config_);
}

SyncResult RouteProxier::apply() {
  SyncResult result;
  RouteSyncStats stats;
  std::vector<std::string> warnings;
  std::vector<std::string> errors;
  // `read`: whether the kernel's routes were read, so that the counts mean
  // something (a failed dump leaves them unknown, not zero).
  auto finish = [&](bool read) -> SyncResult {
    stats.skipped_nodes = plan_.skipped_nodes;
    result.ok = errors.empty();
    for (std::size_t i = 0; i < errors.size(); ++i) result.error += (i == 0 ? "" : "; ") + errors[i];
    result.stats.objects_written = stats.added + stats.replaced;
    result.stats.objects_deleted = stats.deleted;
    result.stats.transactions = stats.added + stats.replaced + stats.deleted;
    if (read) {
      result.routes = stats;
      result.summary = std::to_string(stats.added) + " added, " + std::to_string(stats.replaced) +
                       " replaced, " + std::to_string(stats.deleted) + " deleted; " +
                       std::to_string(stats.programmed) + " programmed, " + std::to_string(stats.conflicts) +
                       " in conflict, " + std::to_string(stats.skipped_nodes) + " nodes skipped";
    }
    // Only what was not said in the last sync: a node that stays
    // unreachable is logged once, not every sync period.
    std::set<std::string> now(warnings.begin(), warnings.end());
    for (const std::string& warning : warnings) {
      if (!reported_.contains(warning)) result.warnings.push_back(warning);
    }
    reported_ = std::move(now);
    return result;
  };

  auto subnets = backend_.connected_subnets();
  if (!subnets) {
    errors.push_back("reading the directly connected subnets: " + subnets.error().message);
    return finish(false);
  }
  std::sort(subnets->begin(), subnets->end());
  if (*subnets != config_.local_subnets) {
    config_.local_subnets = std::move(*subnets);
    plan_ = plan_routes(nodes_, config_);
  }
  for (const Diagnostic& diagnostic : plan_.diagnostics) warnings.push_back(diagnostic.to_string());

  auto ours = backend_.list_routes(options_.protocol);
  if (!ours) {
    errors.push_back(ours.error().message);
    return finish(false);
  }
  // What we hold, one route per destination. Anything else of our protocol
  // (a second route to a destination with another metric, a route without a
  // gateway or of another type, which kubenat never writes) is deleted, and
  // its destination counts as not held.
  std::map<Cidr, KernelRoute> held;
  std::vector<KernelRoute> strays;
  for (KernelRoute& route : *ours) {
    if (route.type != kUnicast || !route.gateway || held.contains(route.destination)) {
      strays.push_back(std::move(route));
    } else {
      held.emplace(route.destination, std::move(route));
    }
  }
  std::vector<Route> current;
  for (const auto& [destination, route] : held) current.push_back({destination, *route.gateway, ""});
  const RouteDiff diff = diff_routes(current, plan_.routes);

  // Deletions first: they free destinations, and a stale route must not
  // outlive a failure further on.
  auto remove = [&](const KernelRoute& route) {
    auto removed = backend_.remove(route);
    // ESRCH: gone meanwhile, which is what was wanted.
    if (removed || removed.error().code == ESRCH) {
      ++stats.deleted;
    } else {
      errors.push_back(removed.error().message);
    }
  };
  for (const Route& route : diff.remove) remove(held.at(route.destination));
  for (const KernelRoute& route : strays) remove(route);

  std::size_t failed = 0;
  for (const Route& route : diff.replace) {
    // The metric of the route being replaced, so that only ours is.
    auto replaced = backend_.replace(kernel_route(route, options_.protocol, held.at(route.destination).priority));
    if (replaced) {
      ++stats.replaced;
    } else {
      errors.push_back(replaced.error().message);
      ++failed;
    }
  }

  // Before adding, look for other protocols' routes to the same
  // destinations: those are someone else's, and stay.
  auto add = [&](const Route& route, const std::map<Cidr, KernelRoute>& foreign) {
    if (auto other = foreign.find(route.destination); other != foreign.end()) {
      warnings.push_back("route " + describe(route) + " not programmed: the main table has " +
                         other->second.to_string() + " (" + route_protocol_name(other->second.protocol) +
                         "), not kubenat's (proto " + std::to_string(options_.protocol) + "); it is left alone");
      ++stats.conflicts;
      return;
    }
    auto added = backend_.add(kernel_route(route, options_.protocol));
    if (added) {
      ++stats.added;
    } else if (added.error().code == EEXIST) {
      // Someone else's route appeared between the dump and the add; EXCL
      // kept it. It is a conflict like any other.
      warnings.push_back("route " + describe(route) + " not programmed: another route to " +
                         route.destination.to_string() + " is in the main table; it is left alone");
      ++stats.conflicts;
    } else {
      errors.push_back(added.error().message);
      ++failed;
    }
  };
  if (!diff.add.empty()) {
    std::vector<Cidr> destinations;
    for (const Route& route : diff.add) destinations.push_back(route.destination);
    auto existing = backend_.routes_to(destinations);
    if (!existing) {
      errors.push_back(existing.error().message);
      failed += diff.add.size();
    } else {
      std::map<Cidr, KernelRoute> foreign;
      for (KernelRoute& route : *existing) {
        if (route.protocol != options_.protocol) foreign.try_emplace(route.destination, std::move(route));
      }
      for (const Route& route : diff.add) add(route, foreign);
    }
  }
  stats.programmed = plan_.routes.size() - stats.conflicts - failed;
  return finish(true);
}

}  // namespace kubenat
