#pragma once

// The nftables backend's proxier: recompiles the changed Services into the
// last nftables plan (rules/nftables/compiler.h) and applies the difference as one
// netlink transaction (engine/nftables/backend.h). A sync is full (the table
// replaced atomically) at the start, after a failure, when the table was
// deleted or recreated behind kubenat's back (`nft flush ruleset`), and once
// per full-sync period. Stale UDP conntrack entries are deleted after each
// successful apply, as with iptables, and so are the session-affinity
// entries that remember an endpoint the sync took away
// (rules/nftables/affinity_cleanup.h). A full sync carries the clients the
// session-affinity services remember over into the new table.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/conntrack/cleaner.h"
#include "engine/full_sync_policy.h"
#include "engine/nftables/backend.h"
#include "engine/proxier.h"
#include "rules/diagnostic.h"
#include "rules/nftables/plan.h"
#include "rules/proxy_config.h"

namespace kubenat {

class NftProxier final : public Proxier {
 public:
  struct Options {
    std::chrono::milliseconds full_sync_period = std::chrono::hours(1);
    // How often a diff sync first checks that the table is still ours
    // (one cheap GETTABLE). Zero: every sync.
    std::chrono::milliseconds integrity_check_period = std::chrono::seconds(0);
  };

  // conntrack may be null: no conntrack cleanup.
  NftProxier(NftBackend& backend, ConntrackCleaner* conntrack, const Clock& clock, ProxyConfig config,
             Options options);

  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override;
  SyncResult apply() override;

  // The next sync will be full.
  void force_full_sync(std::string reason) override { policy_.force(std::move(reason)); }

  // The plan as last compiled.
  const std::optional<NftPlan>& plan() const { return plan_; }

 private:
  // The affinity map's entries that the plan no longer allows, deleted;
  // problems are warnings (the entries time out in the end).
  void forget_stale_affinity(SyncResult& result);
  // What the kernel's affinity map holds that the plan still allows, for a
  // full sync to carry over into the new table: so that neither the hourly
  // full sync nor a restart forgets which endpoint each client had.
  std::map<std::string, std::vector<NftTimedElement>> remembered_clients(SyncResult& result);
  // Sources that get the endpoints pods get (pod CIDRs, the node's
  // addresses), for judging remembered clients.
  std::vector<Cidr> cluster_sources() const;
  // The entries of the affinity map, as read back, that the plan no longer
  // allows.
  std::vector<NftElement> stale_among(const std::vector<NftTimedElement>& entries) const;

  NftBackend& backend_;
  ConntrackCleaner* conntrack_;
  ProxyConfig config_;
  FullSyncPolicy policy_;
  std::optional<ProxyConfig> compiled_with_;
  // The plan is updated in place, never copied: a sync costs what changed.
  std::optional<NftPlan> plan_;
  bool applied_once_ = false;
  // Left by compile() for apply(): the change from the applied plan (after
  // an incremental compile), its "before" view for the conntrack cleanup,
  // or the whole previous plan (after a complete compile).
  std::optional<NftChange> pending_change_;
  std::optional<NftPlan> before_view_;
  bool compiled_ = false;
  // What the last complete compile found wrong in the objects, for the next
  // apply()'s warnings.
  Diagnostics diagnostics_;
};

}  // namespace kubenat
