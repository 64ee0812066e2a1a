#include "engine/sync_scheduler.h"

#include <algorithm>

namespace kubenat {

namespace {

using std::chrono::milliseconds;

// A sync may start once the changes have paused for this long...
constexpr milliseconds kMinQuiet{2};
constexpr milliseconds kMaxQuiet{100};
// ...but the first pending change waits at most 50 syncs' cost, within these.
constexpr int kHoldCosts = 50;
constexpr milliseconds kMinHold{100};
// Syncing takes at most 1 / (1 + kGapCosts) of the time.
constexpr int kGapCosts = 4;

template <typename Duration>
std::chrono::steady_clock::duration clamp_to(std::chrono::steady_clock::duration value, Duration low, Duration high) {
  return std::clamp<std::chrono::steady_clock::duration>(value, low, std::max<std::chrono::steady_clock::duration>(low, high));
}

}  // namespace

SyncScheduler::SyncScheduler(std::optional<milliseconds> min_period, milliseconds period)
    : min_period_(min_period), period_(min_period ? std::max(period, *min_period) : period) {}

void SyncScheduler::changed(time_point now) {
  if (!pending_) pending_since_ = now;
  last_change_ = std::max(last_change_, now);
  pending_ = true;
}

void SyncScheduler::synced(time_point started, time_point finished, bool ok) {
  last_sync_ = started;
  last_sync_finished_ = finished;
  has_synced_ = true;
  failures_ = ok ? 0 : failures_ + 1;
  // A change that arrived while the sync ran is not in it: the next one is due.
  pending_ = pending_ && last_change_ > started;
  if (pending_) pending_since_ = std::max(pending_since_, started);
  // The first sync writes everything; what it cost says nothing about the
  // partial syncs that follow.
  if (ok && !first_sync_counted_) {
    first_sync_counted_ = true;
  } else if (ok) {
    recent_costs_[costs_recorded_++ % recent_costs_.size()] = finished - started;
  }
}

std::chrono::steady_clock::duration SyncScheduler::sync_cost() const {
  const std::size_t n = std::min(costs_recorded_, recent_costs_.size());
  if (n == 0) return std::chrono::steady_clock::duration::zero();
  std::array<std::chrono::steady_clock::duration, 5> costs = recent_costs_;
  // The lower median: of two, the cheaper.
  const std::size_t middle = (n - 1) / 2;
  std::nth_element(costs.begin(), costs.begin() + static_cast<std::ptrdiff_t>(middle),
                   costs.begin() + static_cast<std::ptrdiff_t>(n));
  return costs[middle];
}

milliseconds SyncScheduler::retry_base() const {
  return std::min(min_period_.value_or(kMaxCostFollowingDelay), period_);
}

SyncScheduler::time_point SyncScheduler::next_change_sync() const {
  if (min_period_) return std::max(pending_since_, last_sync_ + *min_period_);
  const milliseconds ceiling = std::min(kMaxCostFollowingDelay, period_);
  const std::chrono::steady_clock::duration cost = sync_cost();
  const std::chrono::steady_clock::duration quiet = clamp_to(cost, kMinQuiet, std::min(kMaxQuiet, ceiling));
  const std::chrono::steady_clock::duration hold = clamp_to(cost * kHoldCosts, std::min(kMinHold, ceiling), ceiling);
  const std::chrono::steady_clock::duration gap = std::min<std::chrono::steady_clock::duration>(cost * kGapCosts, ceiling);
  const time_point ready = std::min(last_change_ + quiet, pending_since_ + hold);
  return std::max(ready, last_sync_finished_ + gap);
}

SyncScheduler::time_point SyncScheduler::next_sync() const {
  if (!has_synced_) return pending_ ? pending_since_ : time_point::min();
  if (failures_ > 0) {
    std::chrono::steady_clock::duration delay = retry_base();
    for (int i = 1; i < failures_ && delay < period_; ++i) delay *= 2;
    return last_sync_ + std::min<std::chrono::steady_clock::duration>(delay, period_);
  }
  if (pending_) return next_change_sync();
  return last_sync_ + period_;
}

}  // namespace kubenat
