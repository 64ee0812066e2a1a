#pragma once

// When the next sync is due. A change makes a sync due; without changes a
// sync is due every period anyway; after a failed sync, retries back off,
// doubling up to the period. How close together syncs may come depends on
// whether a minimum period was set:
//
// - Set (--iptables-min-sync-period, minSyncPeriod): kube-proxy's
//   bounded-frequency runner. A sync no sooner than min_period after the
//   previous one started, so a burst of changes is coalesced into few syncs.
//
// - Unset (the default): the spacing follows what syncs cost. kube-proxy's
//   one-second default exists because its syncs cost seconds; kubenat's
//   partial syncs cost milliseconds, and waiting a second would make the
//   wait, not the work, the network programming latency. So:
//     * a change is synced once the changes have paused for as long as a
//       sync costs (a sync while the changes still stream in is wasted), but
//       never held longer than 50 syncs' cost, at least 100 ms and at most
//       1 s, kube-proxy's default: a burst of changes ends in a few syncs;
//     * a sync starts no sooner than 4 times the cost after the previous one
//       finished (at most 1 s), so syncing takes at most a fifth of the time.
//   The cost is the (lower) median duration of the last five successful
//   syncs after the first: the first writes everything, and one expensive
//   sync (a periodic full one) does not slow the rest.

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>

#include "engine/clock.h"

namespace kubenat {

class SyncScheduler {
 public:
  using time_point = Clock::time_point;

  // The longest a change waits while the spacing follows the cost: kube-proxy's
  // default minSyncPeriod.
  static constexpr std::chrono::milliseconds kMaxCostFollowingDelay = std::chrono::seconds(1);

  // `min_period` unset: the spacing follows the cost of syncs.
  SyncScheduler(std::optional<std::chrono::milliseconds> min_period, std::chrono::milliseconds period);

  // Something to sync arrived at `now`.
  void changed(time_point now);
  bool pending() const { return pending_; }
  time_point pending_since() const { return pending_since_; }

  // A sync ran from `started` to `finished`: ok or not, it consumed every
  // change up to `started`; those after stay pending.
  void synced(time_point started, time_point finished, bool ok);

  // The earliest time the next sync should run.
  time_point next_sync() const;
  bool due(time_point now) const { return now >= next_sync(); }

  // What a sync costs, as the spacing uses it: the lower median duration of
  // the last five successful syncs after the first (zero before).
  std::chrono::steady_clock::duration sync_cost() const;

 private:
  time_point next_change_sync() const;
  std::chrono::milliseconds retry_base() const;

  std::optional<std::chrono::milliseconds> min_period_;
  std::chrono::milliseconds period_;
  time_point last_sync_{};           // when the last sync started
  time_point last_sync_finished_{};  // and finished
  time_point pending_since_{};       // the first change not yet synced
  time_point last_change_{};         // the latest
  bool has_synced_ = false;
  bool pending_ = false;
  int failures_ = 0;
  std::array<std::chrono::steady_clock::duration, 5> recent_costs_{};
  std::size_t costs_recorded_ = 0;
  bool first_sync_counted_ = false;
};

}  // namespace kubenat
