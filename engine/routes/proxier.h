#pragma once

// Static pod-CIDR routes as a proxier: the sync loop drives it next to (or
// instead of) the service proxier, with the same cluster state.
//
// Each apply() makes the main table hold exactly the plan among the routes
// of our protocol number, comparing with the kernel every time (one dump of
// our routes per sync, plus one of the whole table when a planned route is
// missing):
// - missing routes are added, routes whose gateway changed are replaced,
//   and routes of ours no longer planned are deleted. At start-up this is
//   adoption: routes of an earlier run that still fit are kept, stale ones
//   removed. A route of ours deleted by hand comes back at the next sync.
// - routes of other protocols are never changed or deleted. A planned
//   destination that already has one (a conflict) is not programmed, and
//   the conflict is reported in the result's warnings.
// - the directly connected subnets are asked from the kernel at every sync,
//   so a node that becomes reachable (an address added) gets its route.
//
// Warnings (plan diagnostics, conflicts) are reported once, in the sync
// where they first appear, not at every sync; RouteSyncStats carries the
// counts every time.

#include <set>
#include <string>

#include "engine/proxier.h"
#include "engine/routes/backend.h"
#include "rules/routes/plan.h"

namespace kubenat {

class RouteProxier final : public Proxier {
 public:
  struct Options {
    std::string node_name;                   // this node: no route to its own pods
    int protocol = kDefaultRouteProtocol;    // the rtm_protocol of our routes (5..255)
  };

  // `backend` must outlive the proxier.
  RouteProxier(RouteBackend& backend, Options options);

  // Recomputes the plan from state.nodes (every node, whatever `changed`
  // says: that set names Services).
  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override;
  // Brings the kernel to the plan. ok is false when a kernel operation
  // failed (error names each route and errno; the other routes are still
  // done, and the next sync retries); conflicts are warnings, not failures.
  // `routes` is set once the kernel's routes could be read (not after a
  // failed dump); stats.objects_written counts the routes added or
  // replaced, stats.objects_deleted those deleted.
  SyncResult apply() override;
  // Every apply() compares with the kernel: there is no partial sync.
  void force_full_sync(std::string) override {}

  // The plan as last computed (with the subnets of the last apply()).
  const RoutePlan& plan() const { return plan_; }

 private:
  RouteBackend& backend_;
  Options options_;
  RouteConfig config_;
  std::map<std::string, Node> nodes_;
  RoutePlan plan_;
  // The warnings of the last sync: only new ones are reported.
  std::set<std::string> reported_;
};

// "kernel", "boot", "static", "bird", ... for the protocol numbers iproute2
// names; otherwise the number.
std::string route_protocol_name(int protocol);

}  // namespace kubenat
