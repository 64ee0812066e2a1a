#include "engine/full_sync_policy.h"

namespace kubenat {

std::optional<std::string> FullSyncPolicy::reason(bool applied_before,
                                                  const std::function<std::expected<bool, std::string>()>& intact,
                                                  std::string_view broken) {
  if (!applied_before) return "first sync";
  if (forced_) return *forced_;
  const Clock::time_point now = clock_.now();
  if (now - last_full_sync_ >= full_sync_period_) return "full-sync period elapsed";
  if (now - last_check_ >= integrity_check_period_) {
    last_check_ = now;
    auto ok = intact();
    if (!ok) return "could not check the rules: " + ok.error();
    if (!*ok) return std::string(broken);
  }
  return std::nullopt;
}

void FullSyncPolicy::synced(bool full, bool ok) {
  if (!ok) {
    forced_ = "previous sync failed";
    return;
  }
  if (full) {
    last_full_sync_ = clock_.now();
    last_check_ = last_full_sync_;
    forced_.reset();
  }
}

}  // namespace kubenat
