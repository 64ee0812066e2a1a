#pragma once

// A proxier turns the cluster into kernel state for one backend: it compiles
// (only what changed) and syncs. The sync loop drives it; each backend
// (engine/iptables, engine/nftables, engine/routes) has one.

#include <set>
#include <string>

#include "engine/sync_result.h"
#include "rules/model.h"

namespace kubenat {

class Proxier {
 public:
  virtual ~Proxier() = default;
  // Compiles the rules for `state`. `changed` names the Services whose
  // Service, slices or endpoints changed since the last call; nullptr means
  // anything may have changed (start, node change, resync). Reads the state
  // only here, so the caller may hold its lock for this call alone.
  virtual void compile(const ClusterState& state, const std::set<ObjectName>* changed) = 0;
  // Brings the kernel to the rules last compiled.
  virtual SyncResult apply() = 0;
  // The next apply() rewrites everything it owns, as the periodic full sync
  // does. A backend that compares with the kernel at every sync (routes)
  // has nothing to do.
  virtual void force_full_sync(std::string reason) = 0;

  SyncResult sync(const ClusterState& state, const std::set<ObjectName>* changed) {
    compile(state, changed);
    return apply();
  }
};

}  // namespace kubenat
