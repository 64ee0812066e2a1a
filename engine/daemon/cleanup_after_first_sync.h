#pragma once

// The service proxier of the mode in use, which, once its first sync has put
// its rules into the kernel, removes what other modes left on the node
// (engine/daemon/leftovers.h). kube-proxy removes them before its first sync;
// after is better: the old mode's rules keep serving until the new ones are
// in (both DNAT the same way, and a packet the first one translated no longer
// matches the second), so switching costs no connection.
//
// It also hands the memory the start-up freed back to the system
// (engine/daemon/free_memory.h): before the first compile, what the initial
// lists left (with glibc's malloc at 100,000 Services that lowered the
// daemon's high-water mark by 17 MB, since the first sync's peak no longer
// stacked on it); before the first apply, the first compile's garbage, under
// the transaction buffers to come; and after the first sync, that sync's own.

#include <functional>
#include <string>

#include "engine/daemon/leftovers.h"
#include "engine/proxier.h"

namespace kubenat {

class CleanupAfterFirstSync final : public Proxier {
 public:
  using Cleanup = std::function<LeftoverReport()>;

  // `cleanup` runs once, after the first successful apply(); what it removed
  // becomes that sync's notes, what it could not its warnings (kube-proxy
  // too goes on when its start-up cleanup fails).
  CleanupAfterFirstSync(Proxier& inner, Cleanup cleanup) : inner_(inner), cleanup_(std::move(cleanup)) {}

  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override;
  SyncResult apply() override;
  void force_full_sync(std::string reason) override { inner_.force_full_sync(std::move(reason)); }

 private:
  Proxier& inner_;
  Cleanup cleanup_;
  bool done_ = false;
};

}  // namespace kubenat
