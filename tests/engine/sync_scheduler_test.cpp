// When syncs happen: coalesced, bounded, periodic, backing off on failure;
// spaced as kube-proxy spaces them when a minimum period is set, else by
// what syncs cost.

#include "engine/sync_scheduler.h"

#include <gtest/gtest.h>

namespace kubenat {
namespace {

using namespace std::chrono_literals;
using time_point = SyncScheduler::time_point;

const time_point t0 = time_point{} + 1000h;

TEST(SyncScheduler, FirstSyncIsDueAtOnce) {
  SyncScheduler s(1s, 30s);
  EXPECT_TRUE(s.due(t0));
}

TEST(SyncScheduler, WithoutChangesASyncIsDueEverySyncPeriod) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, t0, true);
  EXPECT_FALSE(s.due(t0 + 29s));
  EXPECT_TRUE(s.due(t0 + 30s));
}

TEST(SyncScheduler, AChangeIsSyncedNoSoonerThanMinSyncPeriodAfterTheLastSync) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, t0, true);
  s.changed(t0 + 100ms);
  EXPECT_FALSE(s.due(t0 + 999ms));
  EXPECT_TRUE(s.due(t0 + 1s));
}

TEST(SyncScheduler, AChangeLongAfterTheLastSyncIsDueAtOnce) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, t0, true);
  s.changed(t0 + 10s);
  EXPECT_TRUE(s.due(t0 + 10s));
}

TEST(SyncScheduler, ABurstOfChangesMakesOneSync) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, t0, true);
  for (int i = 0; i < 1000; ++i) s.changed(t0 + std::chrono::microseconds(i * 900));
  EXPECT_EQ(s.next_sync(), t0 + 1s);
  s.synced(t0 + 1s, t0 + 1s, true);
  EXPECT_FALSE(s.pending());
  EXPECT_EQ(s.next_sync(), t0 + 31s);
}

TEST(SyncScheduler, AChangeThatArrivesDuringASyncMakesTheNextOneDue) {
  SyncScheduler s(0ms, 30s);
  s.synced(t0, t0 + 1s, true);
  s.changed(t0 + 2s);
  s.changed(t0 + 3s);  // while the sync below runs
  s.synced(t0 + 2500ms, t0 + 4s, true);
  EXPECT_TRUE(s.pending());
  EXPECT_TRUE(s.due(t0 + 4s));
}

TEST(SyncScheduler, FailuresRetryWithDoublingDelaysUpToTheSyncPeriod) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, t0, false);
  EXPECT_EQ(s.next_sync(), t0 + 1s);
  s.synced(t0 + 1s, t0 + 1s, false);
  EXPECT_EQ(s.next_sync(), t0 + 3s);
  s.synced(t0 + 3s, t0 + 3s, false);
  EXPECT_EQ(s.next_sync(), t0 + 7s);
  for (int i = 0; i < 10; ++i) s.synced(t0 + 100s, t0 + 100s, false);
  EXPECT_EQ(s.next_sync(), t0 + 130s);
  s.synced(t0 + 130s, t0 + 130s, true);
  EXPECT_EQ(s.next_sync(), t0 + 160s);
}

// Without a minimum period: the spacing follows the cost of syncs.

constexpr std::optional<std::chrono::milliseconds> kFollowCost = std::nullopt;

// A first sync, then five syncs of `cost` each, the last finishing at `end`.
void sync_five_times(SyncScheduler& s, time_point end, std::chrono::microseconds cost) {
  s.synced(end - 10s, end - 9s, true);
  for (int i = 4; i >= 0; --i) s.synced(end - cost - i * 1s, end - i * 1s, true);
}

TEST(SyncSchedulerFollowingCost, TheFirstSyncsCostCountsForNothing) {
  SyncScheduler s(kFollowCost, 30s);
  s.synced(t0, t0 + 10s, true);
  EXPECT_EQ(s.sync_cost(), 0ms);
  s.changed(t0 + 10s + 1ms);
  EXPECT_EQ(s.next_sync(), t0 + 10s + 3ms);
}

TEST(SyncSchedulerFollowingCost, TheCostIsTheMedianOfTheLastFiveSyncs) {
  SyncScheduler s(kFollowCost, 30s);
  s.synced(t0, t0 + 10s, true);  // the first sync
  s.synced(t0 + 11s, t0 + 11s + 2ms, true);
  s.synced(t0 + 12s, t0 + 12s + 20s, true);  // a periodic full one
  EXPECT_EQ(s.sync_cost(), 2ms) << "of two, the cheaper";
  s.synced(t0 + 33s, t0 + 33s + 3ms, true);
  EXPECT_EQ(s.sync_cost(), 3ms);
  s.synced(t0 + 34s, t0 + 34s + 1ms, true);
  s.synced(t0 + 35s, t0 + 35s + 1ms, true);
  s.synced(t0 + 36s, t0 + 36s + 1ms, true);  // the 2 ms one is gone
  EXPECT_EQ(s.sync_cost(), 1ms);
}

TEST(SyncSchedulerFollowingCost, FailedSyncsDoNotCountTowardsTheCost) {
  SyncScheduler s(kFollowCost, 30s);
  s.synced(t0 - 20s, t0 - 10s, true);  // the first sync
  s.synced(t0, t0 + 2ms, true);
  s.synced(t0 + 1s, t0 + 1s + 20s, false);
  EXPECT_EQ(s.sync_cost(), 2ms);
}

TEST(SyncSchedulerFollowingCost, ALoneChangeIsSyncedAfterAPauseAsLongAsOneSync) {
  SyncScheduler s(kFollowCost, 30s);
  sync_five_times(s, t0, 5ms);
  s.changed(t0 + 1s);
  EXPECT_EQ(s.next_sync(), t0 + 1s + 5ms);
}

TEST(SyncSchedulerFollowingCost, CheapSyncsWaitAtLeastTwoMillisecondsForTheChangesToPause) {
  SyncScheduler s(kFollowCost, 30s);
  sync_five_times(s, t0, 100us);
  s.changed(t0 + 1s);
  EXPECT_EQ(s.next_sync(), t0 + 1s + 2ms);
}

TEST(SyncSchedulerFollowingCost, EachChangeOfASteadyStreamIsSyncedOnItsOwn) {
  SyncScheduler s(kFollowCost, 30s);
  sync_five_times(s, t0, 5ms);
  // 20 changes a second, each synced within 10 ms of its arrival.
  for (int i = 1; i <= 20; ++i) {
    const time_point change = t0 + i * 50ms;
    s.changed(change);
    const time_point sync = s.next_sync();
    EXPECT_LE(sync - change, 10ms) << "change " << i;
    s.synced(sync, sync + 5ms, true);
  }
}

TEST(SyncSchedulerFollowingCost, ABurstOfAThousandChangesInASecondEndsInAFewSyncs) {
  SyncScheduler s(kFollowCost, 30s);
  sync_five_times(s, t0, 2ms);
  int syncs = 0;
  time_point now = t0 + 1s;
  for (int i = 0; i < 1000; ++i, now += 1ms) {
    s.changed(now);
    // A sync takes longer the more changes it holds: 2 ms and 20 us each.
    if (s.due(now + 1ms)) {
      const time_point end = now + 2ms + 20us * i;
      s.synced(now + 1ms, end, true);
      ++syncs;
    }
  }
  if (s.pending()) ++syncs;
  EXPECT_LE(syncs, 12);
  EXPECT_GE(syncs, 2);
}

TEST(SyncSchedulerFollowingCost, AChangeWaitsAtMostFiftySyncsCost) {
  SyncScheduler s(kFollowCost, 30s);
  sync_five_times(s, t0, 4ms);
  s.changed(t0 + 1s);
  for (int i = 1; i < 1000; ++i) s.changed(t0 + 1s + i * 1ms);  // never pausing
  EXPECT_EQ(s.next_sync(), t0 + 1s + 200ms);
}

TEST(SyncSchedulerFollowingCost, AChangeWaitsAtMostOneSecondHoweverCostlyTheSyncs) {
  SyncScheduler s(kFollowCost, 30s);
  sync_five_times(s, t0, 300ms);
  s.changed(t0 + 10s);
  for (int i = 1; i < 2000; ++i) s.changed(t0 + 10s + i * 1ms);
  EXPECT_EQ(s.next_sync(), t0 + 11s);
}

TEST(SyncSchedulerFollowingCost, SyncingTakesAtMostAFifthOfTheTime) {
  SyncScheduler s(kFollowCost, 30s);
  sync_five_times(s, t0, 100ms);
  s.changed(t0 + 1ms);
  EXPECT_EQ(s.next_sync(), t0 + 400ms);
}

TEST(SyncSchedulerFollowingCost, FailuresRetryFromOneSecondDoublingUpToTheSyncPeriod) {
  SyncScheduler s(kFollowCost, 30s);
  s.synced(t0, t0 + 1ms, false);
  EXPECT_EQ(s.next_sync(), t0 + 1s);
  s.synced(t0 + 1s, t0 + 1s + 1ms, false);
  EXPECT_EQ(s.next_sync(), t0 + 3s);
}

TEST(SyncSchedulerFollowingCost, WithoutChangesASyncIsDueEverySyncPeriod) {
  SyncScheduler s(kFollowCost, 30s);
  s.synced(t0, t0 + 1ms, true);
  EXPECT_FALSE(s.due(t0 + 29s));
  EXPECT_TRUE(s.due(t0 + 30s));
}

TEST(SyncSchedulerFollowingCost, AShortSyncPeriodBoundsTheWait) {
  SyncScheduler s(kFollowCost, 50ms);
  sync_five_times(s, t0, 300ms);
  s.changed(t0 + 10s);
  for (int i = 1; i < 100; ++i) s.changed(t0 + 10s + i * 1ms);
  EXPECT_EQ(s.next_sync(), t0 + 10s + 50ms);
}

}  // namespace
}  // namespace kubenat
