// Matching changes made at the API to the daemon's syncs that applied them.

#include "bench/change_latency.h"

#include <gtest/gtest.h>

namespace kubenat::bench {
namespace {

using namespace std::chrono_literals;

const WallClock::time_point kT0 = WallClock::time_point(std::chrono::seconds(1'800'000'000));

// A successful sync from `start_ms` to `end_ms` after kT0.
LoggedSync sync(int start_ms, int end_ms, bool ok = true) {
  LoggedSync s;
  s.end = kT0 + std::chrono::milliseconds(end_ms);
  s.duration = std::chrono::milliseconds(end_ms - start_ms);
  s.ok = ok;
  return s;
}

// Made at `made_ms`, its write returned 1 ms later.
TimedChange change(int made_ms) {
  return {kT0 + std::chrono::milliseconds(made_ms), kT0 + std::chrono::milliseconds(made_ms + 1)};
}

TEST(ChangeLatency, AChangeIsAppliedByTheFirstSyncStartingAfterItsWriteAndTimedFromBeforeIt) {
  const std::vector<LoggedSync> syncs = {sync(0, 10), sync(20, 30), sync(40, 45)};
  const std::vector<TimedChange> changes = {change(5), change(19), change(32)};
  const auto latencies = change_latencies(changes, syncs);
  ASSERT_EQ(latencies.size(), 3u);
  // The sync running when the change was made (0..10) did not take it.
  EXPECT_DOUBLE_EQ(*latencies[0], 0.025);
  // Written at 20: the sync starting at 20 took it.
  EXPECT_DOUBLE_EQ(*latencies[1], 0.011);
  EXPECT_DOUBLE_EQ(*latencies[2], 0.013);
}

TEST(ChangeLatency, AFailedSyncAppliesNothing) {
  const std::vector<LoggedSync> syncs = {sync(10, 20, false), sync(30, 40)};
  const auto latencies = change_latencies(std::vector<TimedChange>{change(0)}, syncs);
  EXPECT_DOUBLE_EQ(*latencies[0], 0.040);
}

TEST(ChangeLatency, AChangeWithNoSyncAfterItIsNotApplied) {
  const auto latencies = change_latencies(std::vector<TimedChange>{change(100)}, std::vector<LoggedSync>{sync(0, 10)});
  EXPECT_FALSE(latencies[0]);
  const LatencySummary summary = summarize_latencies(std::vector<TimedChange>{change(100)}, std::vector{sync(0, 10)});
  EXPECT_EQ(summary.changes, 1u);
  EXPECT_EQ(summary.applied, 0u);
}

TEST(ChangeLatency, SummaryGivesNearestRankPercentilesAndTheSyncsFromTheFirstChangesToTheLasts) {
  // 100 changes, one every 10 ms, each applied by a sync 1 ms after its write
  // taking (i + 1) ms: latencies 3..102 ms; one unrelated sync between.
  std::vector<TimedChange> changes;
  std::vector<LoggedSync> syncs = {sync(-50, -40)};
  for (int i = 0; i < 100; ++i) {
    changes.push_back(change(i * 1000));
    syncs.push_back(sync(i * 1000 + 2, i * 1000 + 3 + i));
    if (i == 50) syncs.push_back(sync(i * 1000 + 500, i * 1000 + 600));
  }
  const LatencySummary s = summarize_latencies(changes, syncs);
  EXPECT_EQ(s.changes, 100u);
  EXPECT_EQ(s.applied, 100u);
  EXPECT_NEAR(s.p50, 0.052, 1e-9);
  EXPECT_NEAR(s.p90, 0.092, 1e-9);
  EXPECT_NEAR(s.p99, 0.101, 1e-9);
  EXPECT_NEAR(s.max, 0.102, 1e-9);
  EXPECT_NEAR(s.mean, 0.0525, 1e-9);
  EXPECT_EQ(s.syncs, 101u);
  EXPECT_NEAR(s.span_seconds, 99.102, 1e-9);
  EXPECT_EQ(s.ambiguous, 100u);  // every sync started 1 ms after the write, within the 2 ms margin
}

TEST(ChangeLatency, ASyncStartingWellAfterTheWriteIsNotAmbiguous) {
  const LatencySummary s = summarize_latencies(std::vector<TimedChange>{change(0)}, std::vector{sync(10, 20)});
  EXPECT_EQ(s.ambiguous, 0u);
  EXPECT_EQ(s.syncs, 1u);
}

}  // namespace
}  // namespace kubenat::bench
