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
#include "engine/conntrack/cleaner.h"
#include "engine/full_sync_policy.h"
#include "engine/sync_result.h"
#include "engine/iptables/backend.h"
#include "rules/iptables/plan.h"

namespace kubenat {

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
  std::string describe(const IptablesApplyError& error, const IptablesPlan& plan) const;

  IptablesBackend& backend_;
  ConntrackCleaner* conntrack_;

  std::optional<IptablesPlan> applied_;
  FullSyncPolicy policy_;
};

}  // namespace kubenat
