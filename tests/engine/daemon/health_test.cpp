// kube-proxy's /healthz and /livez semantics, on a clock the test moves.

#include "engine/daemon/health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace kubenat {
namespace {

using ::testing::HasSubstr;
using namespace kubenat::testing;
using namespace std::chrono_literals;

constexpr IpFamily V4 = IpFamily::V4;
constexpr IpFamily V6 = IpFamily::V6;
// 2024-01-02T03:04:05Z
const std::chrono::system_clock::time_point kWallNow{1'704'164'645s};

class HealthTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  ProxyHealth health_{clock_, 60s};
};

TEST(HealthTimeout, IsTwiceTheSyncPeriod) { EXPECT_EQ(health_timeout_for(30s), 60s); }

TEST_F(HealthTest, IsHealthyAtStartup) {
  EXPECT_TRUE(health_.healthy());
  EXPECT_EQ(health_.healthz(kWallNow).status, 200);
}

TEST_F(HealthTest, StaysHealthyWhileAQueuedUpdateIsYoungerThanTheTimeout) {
  health_.updated(V4);
  health_.queued_update(V4);
  clock_.advance(59s);
  EXPECT_TRUE(health_.healthy());
}

TEST_F(HealthTest, TurnsUnhealthyWhenAQueuedUpdateReachesTheTimeout) {
  health_.updated(V4);
  health_.queued_update(V4);
  clock_.advance(60s);
  EXPECT_FALSE(health_.healthy());
  EXPECT_EQ(health_.healthz(kWallNow).status, 503);
}

TEST_F(HealthTest, RecoversWhenTheUpdateIsApplied) {
  health_.queued_update(V4);
  clock_.advance(120s);
  health_.updated(V4);
  EXPECT_TRUE(health_.healthy());
}

TEST_F(HealthTest, LaterQueuedUpdatesDoNotMoveTheDeadline) {
  health_.queued_update(V4);
  clock_.advance(50s);
  health_.queued_update(V4);
  clock_.advance(10s);
  EXPECT_FALSE(health_.healthy());
}

TEST_F(HealthTest, StaysHealthyLongAfterTheLastSyncWhenNothingIsPending) {
  health_.updated(V4);
  clock_.advance(24h);
  EXPECT_TRUE(health_.healthy());
}

TEST_F(HealthTest, TurnsUnhealthyWhenTheFirstSyncNeverSucceeds) {
  health_.queued_update(V4);
  clock_.advance(60s);
  EXPECT_FALSE(health_.healthy());
}

TEST_F(HealthTest, OneLateFamilyMakesTheProxyUnhealthy) {
  health_.updated(V4);
  health_.updated(V6);
  health_.queued_update(V6);
  clock_.advance(60s);
  EXPECT_FALSE(health_.healthy());
}

TEST_F(HealthTest, HealthzFailsWhenTheNodeIsNotEligible) {
  health_.set_node_eligible(false);
  EXPECT_TRUE(health_.healthy());
  EXPECT_EQ(health_.healthz(kWallNow).status, 503);
}

TEST_F(HealthTest, LivezIgnoresNodeEligibility) {
  health_.set_node_eligible(false);
  EXPECT_EQ(health_.livez(kWallNow).status, 200);
}

TEST_F(HealthTest, LivezFailsWhenAnUpdateIsLate) {
  health_.queued_update(V4);
  clock_.advance(61s);
  EXPECT_EQ(health_.livez(kWallNow).status, 503);
}

TEST_F(HealthTest, HealthzBodyHasKubeProxysFieldsInItsOrder) {
  health_.updated(V4);
  clock_.advance(10s);
  EXPECT_EQ(health_.healthz(kWallNow).body,
            R"({"lastUpdated":"2024-01-02T03:04:05Z","currentTime":"2024-01-02T03:04:05Z",)"
            R"("nodeEligible":true,"healthy":true,)"
            R"("status":{"IPv4":{"lastUpdated":"2024-01-02T03:03:55Z","healthy":true}}})");
}

TEST_F(HealthTest, LivezBodyLeavesOutNodeEligibility) {
  EXPECT_EQ(health_.livez(kWallNow).body,
            R"({"lastUpdated":"2024-01-02T03:04:05Z","currentTime":"2024-01-02T03:04:05Z","healthy":true})");
}

TEST_F(HealthTest, UnhealthyBodyReportsTheLastSuccessfulSync) {
  health_.updated(V4);
  health_.queued_update(V4);
  clock_.advance(90s);
  const HealthReply reply = health_.healthz(kWallNow);
  EXPECT_THAT(reply.body, HasSubstr(R"({"lastUpdated":"2024-01-02T03:02:35Z",)"));
  EXPECT_THAT(reply.body, HasSubstr(R"("healthy":false,)"));
  EXPECT_THAT(reply.body, HasSubstr(R"("IPv4":{"lastUpdated":"2024-01-02T03:02:35Z","healthy":false})"));
}

TEST_F(HealthTest, UnhealthyBodyBeforeAnySyncShowsGosZeroTime) {
  health_.queued_update(V4);
  clock_.advance(60s);
  EXPECT_THAT(health_.healthz(kWallNow).body, HasSubstr(R"({"lastUpdated":"0001-01-01T00:00:00Z",)"));
}

TEST_F(HealthTest, ListsFamiliesInKubernetesSpellingIPv4First) {
  health_.updated(V6);
  health_.updated(V4);
  EXPECT_THAT(health_.livez(kWallNow).body, HasSubstr(R"("status":{"IPv4":{)"));
  EXPECT_THAT(health_.livez(kWallNow).body, HasSubstr(R"(},"IPv6":{)"));
}

TEST(NodeEligibleForTraffic, AnOrdinaryNodeIs) {
  Node node;
  node.name = "worker-1";
  node.taint_keys = {"node.kubernetes.io/unschedulable"};
  EXPECT_TRUE(node_eligible_for_traffic(node));
}

TEST(NodeEligibleForTraffic, NotWhenGoneBeingDeletedOrTaintedForRemoval) {
  EXPECT_FALSE(node_eligible_for_traffic(std::nullopt));
  Node deleting;
  deleting.being_deleted = true;
  EXPECT_FALSE(node_eligible_for_traffic(deleting));
  Node tainted;
  tainted.taint_keys = {"example.com/x", "ToBeDeletedByClusterAutoscaler"};
  EXPECT_FALSE(node_eligible_for_traffic(tainted));
}

}  // namespace
}  // namespace kubenat
