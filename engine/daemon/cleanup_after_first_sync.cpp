#include "engine/daemon/cleanup_after_first_sync.h"

#include "engine/daemon/free_memory.h"

namespace kubenat {

void CleanupAfterFirstSync::compile(const ClusterState& state, const std::set<ObjectName>* changed) {
  if (!done_) release_free_memory();  // a failed first sync is retried: cheap, since little is free then
  inner_.compile(state, changed);
}

SyncResult CleanupAfterFirstSync::apply() {
  // The first compile's garbage too (each port's temporaries, the slack its
  // vectors grew by) goes back before the first apply's transaction buffers
  // are mapped afresh on top of it.
  if (!done_) release_free_memory();
  SyncResult result = inner_.apply();
  if (!result.ok || done_) return result;
  done_ = true;
  const LeftoverReport report = cleanup_();
  for (const std::string& removed : report.removed) {
    result.notes.push_back("removed what another proxy mode left: " + removed);
  }
  for (const std::string& failure : report.failures) {
    result.warnings.push_back("could not remove what another proxy mode left: " + failure);
  }
  // The start-up's garbage (list pages, the decoded objects' temporaries,
  // the first transaction's buffers) is free but still held by the
  // allocator: hand it back once, so that the RSS an operator sees is what
  // the daemon keeps. Later syncs are small.
  release_free_memory();
  return result;
}

}  // namespace kubenat
