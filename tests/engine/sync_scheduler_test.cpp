// When syncs happen: coalesced, bounded, periodic, backing off on failure.

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
  s.synced(t0, true);
  EXPECT_FALSE(s.due(t0 + 29s));
  EXPECT_TRUE(s.due(t0 + 30s));
}

TEST(SyncScheduler, AChangeIsSyncedNoSoonerThanMinSyncPeriodAfterTheLastSync) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, true);
  s.changed(t0 + 100ms);
  EXPECT_FALSE(s.due(t0 + 999ms));
  EXPECT_TRUE(s.due(t0 + 1s));
}

TEST(SyncScheduler, AChangeLongAfterTheLastSyncIsDueAtOnce) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, true);
  s.changed(t0 + 10s);
  EXPECT_TRUE(s.due(t0 + 10s));
}

TEST(SyncScheduler, ABurstOfChangesMakesOneSync) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, true);
  for (int i = 0; i < 1000; ++i) s.changed(t0 + std::chrono::microseconds(i * 900));
  EXPECT_EQ(s.next_sync(), t0 + 1s);
  s.synced(t0 + 1s, true);
  EXPECT_FALSE(s.pending());
  EXPECT_EQ(s.next_sync(), t0 + 31s);
}

TEST(SyncScheduler, FailuresRetryWithDoublingDelaysUpToTheSyncPeriod) {
  SyncScheduler s(1s, 30s);
  s.synced(t0, false);
  EXPECT_EQ(s.next_sync(), t0 + 1s);
  s.synced(t0 + 1s, false);
  EXPECT_EQ(s.next_sync(), t0 + 3s);
  s.synced(t0 + 3s, false);
  EXPECT_EQ(s.next_sync(), t0 + 7s);
  for (int i = 0; i < 10; ++i) s.synced(t0 + 100s, false);
  EXPECT_EQ(s.next_sync(), t0 + 130s);
  s.synced(t0 + 130s, true);
  EXPECT_EQ(s.next_sync(), t0 + 160s);
}

}  // namespace
}  // namespace kubenat
