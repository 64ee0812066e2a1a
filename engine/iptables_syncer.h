#pragma once

// Keeps the kernel equal to the latest iptables plan, changing only what
// changed: kube-proxy's proxier logic for the iptables mode, minus the
// compiling (rules/) and the kernel access (IptablesBackend).
//
// A sync is full (every chain rewritten, stale chains removed, jumps and
// canary ensured) at the first sync, after any failure, when the canary
// shows that someone flushed the tables, and once per full-sync period.
// Otherwise it applies the diff from the last applied plan. After a
// successful apply it deletes the UDP conntrack entries the change made
// stale.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/conntrack.h"
#include "engine/full_sync_policy.h"
#include "engine/iptables_backend.h"
#include "rules/iptables_plan.h"

namespace kubenat {

// What a static-route sync did (RouteProxier, engine/route_syncer.h).
struct RouteSyncStats {
  std::size_t programmed = 0;     // planned routes of ours in the kernel after the sync
  std::size_t added = 0;
  std::size_t replaced = 0;       // a node's InternalIP changed
  std::size_t deleted = 0;        // nodes gone, stale routes of an earlier run, stray routes of our protocol
  std::size_t conflicts = 0;      // planned routes not programmed: another protocol's route has the destination
  std::size_t skipped_nodes = 0;  // nodes whose pod CIDRs got no route (RoutePlan::skipped_nodes)
};

struct SyncResult {
  bool ok = false;
  bool full = false;
  std::string reason;  // why a full sync, e.g. "first sync", "canary missing"
  ApplyStats stats;
  std::string error;  // when !ok: what failed, naming the chain and its service port when known
  std::size_t conntrack_filters = 0;
  std::vector<std::string> warnings;  // problems that did not fail the sync (conntrack, route conflicts)
  // Set by the route proxier only, whose stats also count routes added or
  // replaced as chains_written and routes deleted as chains_deleted.
  std::optional<RouteSyncStats> routes;
};

class IptablesSyncer {
 public:
  struct Options {
    // kube-proxy's FullSyncPeriod.
    std::chrono::milliseconds full_sync_period = std::chrono::hours(1);
    // How often a diff sync first checks the canary. Zero: every sync.
    std::chrono::milliseconds canary_check_period = std::chrono::seconds(30);
  };

  // conntrack may be null: no conntrack cleanup.
  IptablesSyncer(IptablesBackend& backend, ConntrackCleaner* conntrack, const Clock& clock, Options options)
      : backend_(backend),
        conntrack_(conntrack),
        policy_(clock, options.full_sync_period, options.canary_check_period) {}

  // Brings the kernel to `plan`. `changed`, when given, names the service
  // ports that may differ from the last applied plan (the others must be
  // equal): the diff then costs what changed, not the size of the plan.
  SyncResult sync(IptablesPlan plan, const std::set<ServicePortName>* changed = nullptr);

  // The next sync will be full.
  void force_full_sync(std::string reason);

  // The plan the kernel holds, as far as kubenat knows.
  const std::optional<IptablesPlan>& applied() const { return applied_; }

 private:
  std::string describe(const ApplyError& error, const IptablesPlan& plan) const;

  IptablesBackend& backend_;
  ConntrackCleaner* conntrack_;

  std::optional<IptablesPlan> applied_;
  FullSyncPolicy policy_;
};

}  // namespace kubenat
