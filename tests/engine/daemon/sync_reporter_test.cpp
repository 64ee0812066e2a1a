// What the daemon makes of the sync loop's reports: kube-proxy's metrics,
// health and log lines.

#include "engine/daemon/sync_reporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/fake_clock.h"

namespace kubenat {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class SyncReporterTest : public ::testing::Test {
 protected:
  explicit SyncReporterTest(ProxyMode mode = ProxyMode::Iptables)
      : metrics_(registry_, mode, {IpFamily::V4}),
        health_(clock_, 60s),
        log_(out_, 2),
        reporter_(metrics_, health_, log_, {IpFamily::V4}, true, nullptr, std::chrono::system_clock::now() - 1h) {}

  static SyncReport successful() {
    SyncReport report;
    report.result.ok = true;
    report.result.summary = "2 chains written";
    report.duration = 3ms;
    return report;
  }

  MetricsRegistry registry_;
  ProxyMetrics metrics_;
  testing::FakeClock clock_;
  ProxyHealth health_;
  std::ostringstream out_;
  Log log_;
  SyncReporter reporter_;
};

TEST_F(SyncReporterTest, NetworkProgrammingLatencyRunsFromEachTriggerTimeToTheEndOfTheSync) {
  SyncReport report = successful();
  const auto now = std::chrono::system_clock::now();
  report.trigger_times = {now - 2s, now - 500ms};
  report.programming_latencies = {100ms};
  reporter_.sync_done(report);
  const Histogram::Snapshot latency = metrics_.network_programming_duration.with({"IPv4"}).snapshot();
  EXPECT_EQ(latency.count, 2u);
  EXPECT_GE(latency.sum, 2.5);
  EXPECT_LT(latency.sum, 3.5);
  EXPECT_EQ(metrics_.network_programming_arrival_duration.snapshot().count, 1u);
}

TEST_F(SyncReporterTest, TriggerTimesFromBeforeTheDaemonStartedAreNotItsLatency) {
  SyncReport report = successful();
  report.trigger_times = {std::chrono::system_clock::now() - 2h};
  reporter_.sync_done(report);
  EXPECT_EQ(metrics_.network_programming_duration.with({"IPv4"}).snapshot().count, 0u);
}

TEST_F(SyncReporterTest, TheConntrackCleanupIsTheReconcilersSync) {
  SyncReport report = successful();
  report.result.conntrack = ConntrackCleanup{.filters = 3, .deleted = 2, .took = 5ms};
  reporter_.sync_done(report);
  EXPECT_EQ(metrics_.conntrack_reconciler_sync_duration.with({"IPv4"}).snapshot().count, 1u);
  EXPECT_DOUBLE_EQ(metrics_.conntrack_reconciler_sync_duration.with({"IPv4"}).snapshot().sum, 0.005);
  EXPECT_EQ(metrics_.conntrack_reconciler_deleted_entries_total.with({"IPv4"}).value(), 2);
}

TEST_F(SyncReporterTest, IptablesRuleCountsAreSetByTable) {
  SyncReport report = successful();
  report.result.rules_by_table = {{"filter", 4}, {"nat", 40}};
  report.result.rules_written_by_table = {{"filter", 0}, {"nat", 7}};
  reporter_.sync_done(report);
  EXPECT_EQ(metrics_.iptables_rules_total->with({"nat", "IPv4"}).value(), 40);
  EXPECT_EQ(metrics_.iptables_rules_total->with({"filter", "IPv4"}).value(), 4);
  EXPECT_EQ(metrics_.iptables_rules_last->with({"nat", "IPv4"}).value(), 7);
}

TEST_F(SyncReporterTest, PendingChangesAreCountedUntilASyncTakesThem) {
  reporter_.sync_queued(2, 5);
  EXPECT_EQ(metrics_.service_changes_pending.value(), 2);
  EXPECT_EQ(metrics_.endpoint_changes_pending.value(), 5);
  EXPECT_GT(metrics_.sync_proxy_rules_last_queued_timestamp.with({"IPv4"}).value(), 0);
  SyncReport report = successful();
  report.endpoints_pending = 1;
  reporter_.sync_done(report);
  EXPECT_EQ(metrics_.service_changes_pending.value(), 0);
  EXPECT_EQ(metrics_.endpoint_changes_pending.value(), 1);
}

TEST_F(SyncReporterTest, AFailedSyncIsLoggedAndLeavesTheProxyUnhealthyAfterTheTimeout) {
  reporter_.sync_queued(1, 0);
  SyncReport report;
  report.result.error = "iptables-restore: line 3 failed";
  reporter_.sync_done(report);
  EXPECT_THAT(out_.str(), HasSubstr("sync failed after"));
  EXPECT_EQ(metrics_.iptables_restore_failures_total->with({"IPv4"}).value(), 1);
  clock_.advance(61s);
  EXPECT_FALSE(health_.healthy());
}

TEST_F(SyncReporterTest, AResourcesFirstListIsLoggedWithItsObjectCountAtDefaultVerbosity) {
  std::ostringstream out;
  Log quiet(out, 0);
  SyncReporter reporter(metrics_, health_, quiet, {IpFamily::V4}, true, nullptr, std::chrono::system_clock::now());
  reporter.resource_listed(WatchedResource::EndpointSlices, 100000);
  EXPECT_THAT(out.str(), HasSubstr("listed EndpointSlices: 100000 objects in "));
  EXPECT_THAT(out.str(), ::testing::EndsWith(" s\n"));
}

class NftablesSyncReporterTest : public SyncReporterTest {
 protected:
  NftablesSyncReporterTest() : SyncReporterTest(ProxyMode::Nftables) {}
};

TEST_F(NftablesSyncReporterTest, FailuresAndCleanupFailuresHaveTheNftablesNames) {
  SyncReport failed;
  failed.result.error = "nftables refused the transaction";
  reporter_.sync_done(failed);
  EXPECT_EQ(metrics_.nftables_sync_failures_total->with({"IPv4"}).value(), 1);
  SyncReport cleaned = successful();
  cleaned.result.cleanup_failures = 1;
  reporter_.sync_done(cleaned);
  EXPECT_EQ(metrics_.nftables_cleanup_failures_total->with({"IPv4"}).value(), 1);
}

class DualStackSyncReporterTest : public ::testing::Test {
 protected:
  DualStackSyncReporterTest()
      : metrics_(registry_, ProxyMode::Iptables, {IpFamily::V6, IpFamily::V4}),
        health_(clock_, 60s),
        log_(out_, 2),
        reporter_(metrics_, health_, log_, {IpFamily::V6, IpFamily::V4}, true, nullptr,
                  std::chrono::system_clock::now() - 1h) {}

  // What the dual-stack proxier reports: each family's result in by_family.
  static SyncReport of(bool v6_ok, bool v4_ok) {
    SyncReport report;
    SyncResult v6;
    v6.ok = v6_ok;
    v6.family = IpFamily::V6;
    v6.rules_by_table = {{"nat", 7}};
    SyncResult v4;
    v4.ok = v4_ok;
    v4.family = IpFamily::V4;
    v4.rules_by_table = {{"nat", 9}};
    report.result.ok = v6_ok && v4_ok;
    report.result.by_family = {v6, v4};
    return report;
  }

  MetricsRegistry registry_;
  ProxyMetrics metrics_;
  testing::FakeClock clock_;
  ProxyHealth health_;
  std::ostringstream out_;
  Log log_;
  SyncReporter reporter_;
};

TEST_F(DualStackSyncReporterTest, EachFamilysFiguresGoUnderItsOwnLabel) {
  reporter_.sync_done(of(true, true));
  EXPECT_EQ(metrics_.iptables_rules_total->with({"nat", "IPv6"}).value(), 7);
  EXPECT_EQ(metrics_.iptables_rules_total->with({"nat", "IPv4"}).value(), 9);
  EXPECT_EQ(metrics_.sync_proxy_rules_duration.with({"IPv6"}).snapshot().count, 1u);
  EXPECT_EQ(metrics_.sync_proxy_rules_duration.with({"IPv4"}).snapshot().count, 1u);
}

TEST_F(DualStackSyncReporterTest, AChangeIsQueuedForBothFamilies) {
  reporter_.sync_queued(1, 0);
  EXPECT_GT(metrics_.sync_proxy_rules_last_queued_timestamp.with({"IPv6"}).value(), 0);
  EXPECT_GT(metrics_.sync_proxy_rules_last_queued_timestamp.with({"IPv4"}).value(), 0);
}

TEST_F(DualStackSyncReporterTest, AFamilyThatKeepsFailingMakesTheProxyUnhealthyWhileTheOtherIsUpToDate) {
  reporter_.sync_queued(1, 0);
  reporter_.sync_done(of(true, false));
  EXPECT_EQ(metrics_.iptables_restore_failures_total->with({"IPv4"}).value(), 1);
  EXPECT_EQ(metrics_.iptables_restore_failures_total->with({"IPv6"}).value(), 0);
  clock_.advance(61s);
  EXPECT_FALSE(health_.healthy());
  const HealthReply reply = health_.healthz(std::chrono::system_clock::now());
  EXPECT_THAT(reply.body, HasSubstr(R"("IPv6":{"lastUpdated")"));
  reporter_.sync_done(of(true, true));
  EXPECT_TRUE(health_.healthy());
}

}  // namespace
}  // namespace kubenat
