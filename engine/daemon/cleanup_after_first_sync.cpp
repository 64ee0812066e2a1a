#include "engine/daemon/cleanup_after_first_sync.h"

namespace kubenat {

SyncResult CleanupAfterFirstSync::apply() {
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
  return result;
}

}  // namespace kubenat
