#pragma once

// When the next sync is due: kube-proxy's bounded-frequency runner. A change
// makes a sync due, but no sooner than min_period after the previous sync, so
// a burst of changes is coalesced into few syncs; without changes a sync is
// due every period anyway. After a failed sync, retries back off from
// min_period, doubling up to period.

#include <algorithm>
#include <chrono>

#include "engine/clock.h"

namespace kubenat {

class SyncScheduler {
 public:
  using time_point = Clock::time_point;

  SyncScheduler(std::chrono::milliseconds min_period, std::chrono::milliseconds period)
      : min_period_(min_period), period_(std::max(period, min_period)) {}

  // Something to sync arrived at `now`.
  void changed(time_point now) {
    if (!pending_) pending_since_ = now;
    pending_ = true;
  }
  bool pending() const { return pending_; }
  time_point pending_since() const { return pending_since_; }

  // A sync ran (and, ok or not, consumed every change before it started).
  void synced(time_point started, bool ok) {
    last_sync_ = started;
    has_synced_ = true;
    failures_ = ok ? 0 : failures_ + 1;
    pending_ = false;
  }

  // The earliest time the next sync should run.
  time_point next_sync() const {
    if (!has_synced_) return pending_ ? pending_since_ : time_point::min();
    if (failures_ > 0) {
      auto delay = min_period_;
      for (int i = 1; i < failures_ && delay < period_; ++i) delay *= 2;
      return last_sync_ + std::min(delay, period_);
    }
    if (pending_) return std::max(pending_since_, last_sync_ + min_period_);
    return last_sync_ + period_;
  }

  bool due(time_point now) const { return now >= next_sync(); }

 private:
  std::chrono::milliseconds min_period_;
  std::chrono::milliseconds period_;
  time_point last_sync_{};
  time_point pending_since_{};
  bool has_synced_ = false;
  bool pending_ = false;
  int failures_ = 0;
};

}  // namespace kubenat
