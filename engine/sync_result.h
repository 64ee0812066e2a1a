#pragma once

// What one proxier's sync did, in terms every backend shares, for the sync
// loop, metrics, health and logs. Each backend fills it from its own
// figures and words its own summary.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rules/ip.h"

namespace kubenat {

// What a sync put into the kernel. A backend leaves at zero what it does
// not have (iptables has no elements, routes no bytes).
struct SyncStats {
  // Kernel objects written whole (iptables chains; nftables chains and sets;
  // routes added or replaced) and deleted.
  std::size_t objects_written = 0;
  std::size_t objects_deleted = 0;
  // nftables set and map elements.
  std::size_t elements_added = 0;
  std::size_t elements_removed = 0;
  // Handed to the kernel or its tools: iptables-restore input, netlink
  // batches.
  std::size_t bytes = 0;
  // Atomic steps: iptables-restore calls, nftables batches, route requests.
  std::size_t transactions = 0;
};

// What a static-route sync did (engine/routes/proxier.h).
struct RouteSyncStats {
  std::size_t programmed = 0;     // planned routes of ours in the kernel after the sync
  std::size_t added = 0;
  std::size_t replaced = 0;       // a node's InternalIP changed
  std::size_t deleted = 0;        // nodes gone, stale routes of an earlier run, stray routes of our protocol
  std::size_t conflicts = 0;      // planned routes not programmed: another protocol's route has the destination
  std::size_t skipped_nodes = 0;  // nodes whose pod CIDRs got no route (RoutePlan::skipped_nodes)
};

// The conntrack cleanup that followed a sync: kube-proxy's conntrack
// reconciler.
struct ConntrackCleanup {
  std::size_t filters = 0;  // stale UDP flows looked for, one filter each
  std::size_t deleted = 0;  // entries deleted, as far as the tool said
  std::chrono::nanoseconds took{};
};

struct SyncResult {
  bool ok = false;
  bool full = false;
  std::string reason;  // why a full sync, e.g. "first sync", "canary missing"
  SyncStats stats;
  // What the sync did in the backend's own words, for logs: "12 chains
  // written, 3 deleted, 4,096 bytes in 1 iptables-restore call".
  std::string summary;
  std::string error;  // when !ok: what failed, naming the object and its service port when known
  // Set when the proxier cleans conntrack (not with --conntrack-cleanup=false).
  std::optional<ConntrackCleanup> conntrack;
  std::vector<std::string> warnings;  // problems that did not fail the sync (conntrack, route conflicts)
  std::vector<std::string> notes;     // other things it did worth a log line (another mode's leftovers removed)
  // Clean-ups after the sync that failed and are left for later (nftables:
  // stale session-affinity entries not deleted; kube-proxy's nftables
  // cleanup failures).
  std::size_t cleanup_failures = 0;
  // Set by the route proxier only.
  std::optional<RouteSyncStats> routes;
  // Rules by table ("filter", "nat"): in kubenat's chains after the sync, and
  // in the chains the sync wrote. Set by the iptables proxier only.
  std::map<std::string, std::size_t> rules_by_table;
  std::map<std::string, std::size_t> rules_written_by_table;
  // Set by the dual-stack proxier (engine/dual_stack_proxier.h): the family a
  // result is for, and on the combined result each family's own, so that
  // metrics and health stay per family as kube-proxy reports them.
  std::optional<IpFamily> family;
  std::vector<SyncResult> by_family;
};

}  // namespace kubenat
