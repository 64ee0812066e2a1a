#pragma once

// When a sync must be full rather than a diff, for any backend: the first
// sync, after a failure (the kernel may hold anything), when the kernel's
// state was changed behind kubenat's back (a flush), and once per full-sync
// period as a safety net.

#include <chrono>
#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "engine/clock.h"

namespace kubenat {

class FullSyncPolicy {
 public:
  // `integrity_check_period`: how often a diff sync first asks the backend
  // whether its rules are intact (zero: every sync).
  FullSyncPolicy(const Clock& clock, std::chrono::milliseconds full_sync_period,
                 std::chrono::milliseconds integrity_check_period)
      : clock_(clock), full_sync_period_(full_sync_period), integrity_check_period_(integrity_check_period) {}

  // Why the coming sync must be full, or nullopt for a diff. `intact` is
  // called only when an integrity check is due; `broken` is the reason given
  // when it answers false ("canary missing: ...").
  std::optional<std::string> reason(bool applied_before,
                                    const std::function<std::expected<bool, std::string>()>& intact,
                                    std::string_view broken);

  // The next sync will be full (the first reason given wins).
  void force(std::string reason) {
    if (!forced_) forced_ = std::move(reason);
  }

  // A sync finished: a successful full one resets the clocks, a failed one
  // forces the next to be full.
  void synced(bool full, bool ok);

 private:
  const Clock& clock_;
  std::chrono::milliseconds full_sync_period_;
  std::chrono::milliseconds integrity_check_period_;
  std::optional<std::string> forced_;
  Clock::time_point last_full_sync_{};
  Clock::time_point last_check_{};
};

}  // namespace kubenat
