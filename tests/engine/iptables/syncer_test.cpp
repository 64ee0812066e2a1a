// The iptables sync loop's decisions: when a sync is full and why, what a
// diff sync writes, how a failure is reported and repaired, and when stale
// UDP conntrack entries are cleared. Runs against an in-memory iptables, a
// recording conntrack cleaner and a clock the test moves.

#include "engine/iptables/syncer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/iptables/chain_names.h"
#include "rules/iptables/compiler.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_conntrack.h"
#include "tests/support/fake_iptables.h"

namespace kubenat {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using namespace kubenat::testing;
using namespace std::chrono_literals;

constexpr IpFamily V4 = IpFamily::V4;

ProxyConfig test_config() {
  ProxyConfig config;
  config.node_name = "test-node";
  config.node_ips = {ip("192.168.0.2")};
  config.cluster_cidrs = {cidr("10.0.0.0/8")};
  return config;
}

ServicePortName web(int i) { return ServicePortName{{"ns", "web" + std::to_string(i)}, "p80", Protocol::Tcp}; }
const ServicePortName kDns{{"kube-system", "dns"}, "dns", Protocol::Udp};

// Ten TCP Services ns/web<i> (web_endpoints[i] endpoints each, default one)
// and the UDP Service kube-system/dns (cluster IP 172.30.0.10) with the
// given endpoints.
struct Cluster {
  std::vector<std::string> dns_endpoints = {"10.200.0.1", "10.200.0.2"};
  std::map<int, int> web_endpoints;
  int web_services = 10;

  IptablesPlan plan() const {
    ClusterBuilder cluster;
    for (int i = 0; i < web_services; ++i) {
      const std::string name = "web" + std::to_string(i);
      cluster.add(ServiceBuilder("ns", name).cluster_ip("172.30.1." + std::to_string(i + 1)).port("p80", 80));
      SliceBuilder slice("ns", name);
      slice.port("p80", 80);
      const int n = web_endpoints.contains(i) ? web_endpoints.at(i) : 1;
      for (int k = 0; k < n; ++k) slice.endpoint("10." + std::to_string(180 + k) + ".0." + std::to_string(i + 1));
      cluster.add(slice.build());
    }
    cluster.add(ServiceBuilder("kube-system", "dns").cluster_ip("172.30.0.10").port("dns", 53, Protocol::Udp));
    SliceBuilder slice("kube-system", "dns");
    slice.port("dns", 53, Protocol::Udp);
    for (const std::string& endpoint : dns_endpoints) slice.endpoint(endpoint);
    cluster.add(slice.build());
    return compile_iptables(cluster.build(), test_config()).plan;
  }
};

IptablesPlan base_plan() { return Cluster{}.plan(); }
IptablesPlan plan_with_web_endpoints(int i, int n) {
  Cluster cluster;
  cluster.web_endpoints[i] = n;
  return cluster.plan();
}
IptablesPlan plan_with_dns(std::vector<std::string> endpoints) {
  Cluster cluster;
  cluster.dns_endpoints = std::move(endpoints);
  return cluster.plan();
}
IptablesPlan plan_without_web(int count) {
  Cluster cluster;
  cluster.web_services = count;
  return cluster.plan();
}

ConntrackFilter dns_flows_to(const std::string& endpoint) {
  return ConntrackFilter{V4, ip("172.30.0.10"), 53, ip(endpoint), 53};
}

class IptablesSyncerTest : public ::testing::Test {
 protected:
  static IptablesSyncer::Options options() {
    IptablesSyncer::Options options;
    options.full_sync_period = 1h;
    options.canary_check_period = 0ms;
    return options;
  }

  // Syncs and requires success.
  SyncResult synced(IptablesPlan plan) {
    SyncResult result = syncer_.sync(std::move(plan));
    EXPECT_TRUE(result.ok) << result.error;
    return result;
  }

  FakeIptables iptables_;
  IptablesBackend backend_{iptables_, V4};
  FakeConntrack conntrack_;
  FakeClock clock_;
  IptablesSyncer syncer_{backend_, &conntrack_, clock_, options()};
};

// ---------------------------------------------------------------------------
// Full or diff

TEST_F(IptablesSyncerTest, FirstSyncIsFull) {
  const SyncResult result = syncer_.sync(base_plan());
  EXPECT_TRUE(result.ok);
  EXPECT_TRUE(result.full);
  EXPECT_EQ(result.reason, "first sync");
  EXPECT_THAT(differences_from_plan(iptables_, base_plan()), IsEmpty());
  EXPECT_EQ(backend_.canary_intact(), true);
}

TEST_F(IptablesSyncerTest, NextSyncWritesOnlyTheChangedChains) {
  synced(base_plan());
  iptables_.clear_restores();
  const SyncResult result = synced(plan_with_web_endpoints(3, 2));
  EXPECT_FALSE(result.full);
  EXPECT_EQ(result.reason, "");
  ASSERT_THAT(iptables_.restores(), SizeIs(1));
  const std::string& payload = iptables_.restores()[0].payload;
  EXPECT_LT(payload.size(), 1024u);
  EXPECT_EQ(result.stats.bytes, payload.size());
  EXPECT_EQ(result.stats.objects_written, 2u);
  EXPECT_THAT(payload, AllOf(HasSubstr(":" + svc_chain(web(3)) + " "), Not(HasSubstr(":KUBE-SERVICES "))));
  EXPECT_THAT(differences_from_plan(iptables_, plan_with_web_endpoints(3, 2)), IsEmpty());
}

TEST_F(IptablesSyncerTest, SyncOfAnUnchangedPlanWritesNothing) {
  synced(base_plan());
  iptables_.clear_restores();
  const SyncResult result = synced(base_plan());
  EXPECT_FALSE(result.full);
  EXPECT_THAT(iptables_.restores(), IsEmpty());
}

TEST_F(IptablesSyncerTest, ChangedServicePortsLimitWhatTheDiffLooksAt) {
  synced(base_plan());
  const std::set<ServicePortName> changed = {web(3)};
  const SyncResult result = syncer_.sync(plan_with_web_endpoints(3, 2), &changed);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.full);
  EXPECT_THAT(differences_from_plan(iptables_, plan_with_web_endpoints(3, 2)), IsEmpty());
}

TEST_F(IptablesSyncerTest, AppliedIsTheLastPlanSynced) {
  EXPECT_FALSE(syncer_.applied());
  synced(base_plan());
  synced(plan_with_web_endpoints(3, 2));
  EXPECT_EQ(syncer_.applied(), plan_with_web_endpoints(3, 2));
}

TEST_F(IptablesSyncerTest, FullSyncPeriodElapsingTriggersAFullSync) {
  synced(base_plan());
  clock_.advance(59min);
  EXPECT_FALSE(synced(base_plan()).full);
  clock_.advance(1min);
  const SyncResult result = synced(base_plan());
  EXPECT_TRUE(result.full);
  EXPECT_EQ(result.reason, "full-sync period elapsed");
}

TEST_F(IptablesSyncerTest, FullSyncStartsTheNextPeriod) {
  synced(base_plan());
  clock_.advance(1h);
  ASSERT_TRUE(synced(base_plan()).full);
  clock_.advance(59min);
  EXPECT_FALSE(synced(base_plan()).full);
}

TEST_F(IptablesSyncerTest, ForcedFullSyncCarriesItsReasonOnce) {
  synced(base_plan());
  syncer_.force_full_sync("node labels changed");
  const SyncResult result = synced(base_plan());
  EXPECT_TRUE(result.full);
  EXPECT_EQ(result.reason, "node labels changed");
  EXPECT_FALSE(synced(base_plan()).full);
}

// ---------------------------------------------------------------------------
// Failures

TEST_F(IptablesSyncerTest, FailedSyncReportsTheRestoreError) {
  synced(base_plan());
  iptables_.fail_next_restore("iptables-restore: line 1 failed");
  const SyncResult result = syncer_.sync(plan_with_web_endpoints(3, 2));
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.full);
  EXPECT_THAT(result.error, HasSubstr("iptables-restore: line 1 failed"));
}

TEST_F(IptablesSyncerTest, FailedSyncMakesTheNextSyncFull) {
  synced(base_plan());
  iptables_.fail_next_restore("iptables-restore: line 1 failed");
  ASSERT_FALSE(syncer_.sync(plan_with_web_endpoints(3, 2)).ok);
  const SyncResult result = synced(plan_with_web_endpoints(3, 2));
  EXPECT_TRUE(result.full);
  EXPECT_EQ(result.reason, "previous sync failed");
  EXPECT_FALSE(synced(plan_with_web_endpoints(3, 2)).full);
}

TEST_F(IptablesSyncerTest, FailedSyncKeepsTheLastAppliedPlan) {
  synced(base_plan());
  iptables_.fail_next_restore("iptables-restore: line 1 failed");
  ASSERT_FALSE(syncer_.sync(plan_with_web_endpoints(3, 2)).ok);
  EXPECT_EQ(syncer_.applied(), base_plan());
}

TEST(IptablesSyncer, FullSyncAfterAHalfAppliedDiffRepairsTheTables) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4, {.max_payload_bytes = 1024});
  FakeClock clock;
  IptablesSyncer syncer(backend, nullptr, clock, {});
  ASSERT_TRUE(syncer.sync(plan_without_web(2)).ok);
  // The endpoint chains go in; the last payload, with the last service
  // chain and the KUBE-SERVICES rules that would use them, is refused.
  iptables.fail_next_restore_at_line_containing(":" + svc_chain(web(9)) + " ");
  const SyncResult failed = syncer.sync(base_plan());
  ASSERT_FALSE(failed.ok);
  ASSERT_GT(failed.stats.transactions, 0u);
  ASSERT_THAT(differences_from_plan(iptables, base_plan()), Not(IsEmpty()));

  const SyncResult repaired = syncer.sync(base_plan());
  EXPECT_TRUE(repaired.ok) << repaired.error;
  EXPECT_TRUE(repaired.full);
  EXPECT_THAT(differences_from_plan(iptables, base_plan()), IsEmpty());
}

TEST(IptablesSyncer, FailedFirstSyncIsRetriedInFull) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  FakeClock clock;
  IptablesSyncer syncer(backend, nullptr, clock, {});
  iptables.fail_next_restore("iptables-restore: line 1 failed");
  ASSERT_FALSE(syncer.sync(base_plan()).ok);
  const SyncResult result = syncer.sync(base_plan());
  EXPECT_TRUE(result.ok);
  EXPECT_TRUE(result.full);
  EXPECT_THAT(differences_from_plan(iptables, base_plan()), IsEmpty());
}

TEST_F(IptablesSyncerTest, FailedSyncNamesTheServicePortOwningTheRefusedChain) {
  synced(base_plan());
  const std::string chain = svc_chain(web(3));
  iptables_.fail_next_restore_at_line_containing("-A " + chain + " ");
  const SyncResult result = syncer_.sync(plan_with_web_endpoints(3, 2));
  ASSERT_FALSE(result.ok);
  EXPECT_THAT(result.error, AllOf(HasSubstr(chain), HasSubstr("ns/web3:p80")));
}

TEST_F(IptablesSyncerTest, FailedDeletionNamesTheServicePortThatOwnedTheChain) {
  synced(base_plan());
  const std::string chain = svc_chain(web(9));
  iptables_.fail_next_restore_at_line_containing("-X " + chain);
  const SyncResult result = syncer_.sync(plan_without_web(9));
  ASSERT_FALSE(result.ok);
  EXPECT_THAT(result.error, AllOf(HasSubstr(chain), HasSubstr("ns/web9:p80")));
}

// ---------------------------------------------------------------------------
// Shared chains edited in place

TEST_F(IptablesSyncerTest, AddedServiceIsInsertedIntoKubeServicesWhereAFullSyncPutsIt) {
  synced(plan_without_web(5));
  iptables_.clear_restores();
  const SyncResult result = synced(plan_without_web(6));
  EXPECT_FALSE(result.full);
  ASSERT_THAT(iptables_.restores(), SizeIs(1));
  EXPECT_THAT(iptables_.restores()[0].payload, Not(HasSubstr(":KUBE-SERVICES ")));
  EXPECT_THAT(iptables_.restores()[0].payload, HasSubstr("-I KUBE-SERVICES "));
  EXPECT_THAT(differences_from_plan(iptables_, plan_without_web(6)), IsEmpty());
  const std::vector<std::string> rules = iptables_.rules("nat", "KUBE-SERVICES");
  ASSERT_FALSE(rules.empty());
  EXPECT_THAT(rules.back(), HasSubstr("this must be the last rule in this chain"));
}

TEST_F(IptablesSyncerTest, RemovedServiceIsDeletedFromKubeServicesByItsRule) {
  synced(base_plan());
  iptables_.clear_restores();
  const SyncResult result = synced(plan_without_web(9));
  EXPECT_FALSE(result.full);
  ASSERT_THAT(iptables_.restores(), SizeIs(1));
  EXPECT_THAT(iptables_.restores()[0].payload,
              AllOf(Not(HasSubstr(":KUBE-SERVICES ")), HasSubstr("-D KUBE-SERVICES ")));
  EXPECT_THAT(differences_from_plan(iptables_, plan_without_web(9)), IsEmpty());
}

TEST_F(IptablesSyncerTest, EditRefusedBecauseSomeoneChangedTheChainRewritesTheChainInTheSameSync) {
  synced(base_plan());
  // Someone deletes web9's rule: kubenat's -D of it is refused.
  const std::vector<std::string> rules = iptables_.rules("nat", "KUBE-SERVICES");
  auto web9 = std::find_if(rules.begin(), rules.end(),
                           [](const std::string& r) { return r.find("ns/web9:p80 cluster IP") != std::string::npos; });
  ASSERT_NE(web9, rules.end());
  iptables_.seed("*nat\n-D KUBE-SERVICES " + *web9 + "\nCOMMIT\n");
  iptables_.clear_restores();

  const SyncResult result = synced(plan_without_web(9));
  EXPECT_FALSE(result.full);
  EXPECT_THAT(result.warnings, Contains(HasSubstr("editing the shared chains in place failed")));
  ASSERT_THAT(iptables_.restores(), SizeIs(2));
  EXPECT_FALSE(iptables_.restores()[0].ok());
  EXPECT_THAT(iptables_.restores()[1].payload, HasSubstr(":KUBE-SERVICES "));
  EXPECT_THAT(differences_from_plan(iptables_, plan_without_web(9)), IsEmpty());
}

TEST_F(IptablesSyncerTest, FailureOutsideTheEditsIsNotRetried) {
  synced(base_plan());
  iptables_.fail_next_restore_at_line_containing("-X " + svc_chain(web(9)));
  iptables_.clear_restores();
  EXPECT_FALSE(syncer_.sync(plan_without_web(9)).ok);
  EXPECT_THAT(iptables_.restores(), SizeIs(1));
}

// ---------------------------------------------------------------------------
// Canary

TEST_F(IptablesSyncerTest, ExternalNatFlushIsDetectedByTheCanaryAndRepairedByAFullSync) {
  synced(base_plan());
  ASSERT_TRUE(iptables_.run(V4, {"-t", "nat", "-F"})->ok());
  const SyncResult result = synced(base_plan());
  EXPECT_TRUE(result.full);
  EXPECT_THAT(result.reason, HasSubstr("canary"));
  EXPECT_THAT(differences_from_plan(iptables_, base_plan()), IsEmpty());
  EXPECT_THAT(iptables_.rules("nat", "PREROUTING"), SizeIs(1));
  EXPECT_EQ(backend_.canary_intact(), true);
}

TEST(IptablesSyncer, CanaryIsCheckedOncePerCheckPeriod) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  FakeClock clock;
  IptablesSyncer::Options options;
  options.canary_check_period = 30s;
  IptablesSyncer syncer(backend, nullptr, clock, options);
  ASSERT_TRUE(syncer.sync(base_plan()).ok);
  ASSERT_TRUE(iptables.run(V4, {"-t", "nat", "-F"})->ok());
  clock.advance(29s);
  EXPECT_FALSE(syncer.sync(base_plan()).full);
  clock.advance(1s);
  const SyncResult result = syncer.sync(base_plan());
  EXPECT_TRUE(result.full);
  EXPECT_THAT(result.reason, HasSubstr("canary"));
}

// ---------------------------------------------------------------------------
// Conntrack

TEST_F(IptablesSyncerTest, FirstSyncClearsFlowsThatGotTheNoEndpointVerdict) {
  const SyncResult result = synced(base_plan());
  EXPECT_THAT(conntrack_.removed(), ElementsAre(ConntrackFilter{V4, ip("172.30.0.10"), 53, std::nullopt, std::nullopt}));
  ASSERT_TRUE(result.conntrack);
  EXPECT_EQ(result.conntrack->filters, 1u);
}

TEST_F(IptablesSyncerTest, RemovingAUdpEndpointClearsTheFlowsPinnedToItAfterTheSync) {
  synced(base_plan());
  conntrack_.clear();
  const SyncResult result = synced(plan_with_dns({"10.200.0.1"}));
  EXPECT_THAT(conntrack_.removed(), ElementsAre(dns_flows_to("10.200.0.2")));
  ASSERT_TRUE(result.conntrack);
  EXPECT_EQ(result.conntrack->filters, 1u);
  EXPECT_THAT(result.warnings, IsEmpty());
}

TEST_F(IptablesSyncerTest, TcpChangesClearNoConntrackEntries) {
  synced(base_plan());
  conntrack_.clear();
  const SyncResult result = synced(plan_without_web(5));
  EXPECT_THAT(conntrack_.removed(), IsEmpty());
  ASSERT_TRUE(result.conntrack);
  EXPECT_EQ(result.conntrack->filters, 0u);
}

TEST_F(IptablesSyncerTest, FailedSyncClearsNoConntrackEntries) {
  synced(base_plan());
  conntrack_.clear();
  iptables_.fail_next_restore("iptables-restore: line 1 failed");
  const SyncResult result = syncer_.sync(plan_with_dns({"10.200.0.1"}));
  ASSERT_FALSE(result.ok);
  EXPECT_THAT(conntrack_.removed(), IsEmpty());
  EXPECT_FALSE(result.conntrack);
}

TEST_F(IptablesSyncerTest, SyncRepairingAFailureClearsTheFlowsTheFailedOneWouldHave) {
  synced(base_plan());
  conntrack_.clear();
  iptables_.fail_next_restore("iptables-restore: line 1 failed");
  ASSERT_FALSE(syncer_.sync(plan_with_dns({"10.200.0.1"})).ok);
  ASSERT_TRUE(synced(plan_with_dns({"10.200.0.1"})).full);
  EXPECT_THAT(conntrack_.removed(), ElementsAre(dns_flows_to("10.200.0.2")));
}

TEST_F(IptablesSyncerTest, ConntrackFailuresAreWarningsNotSyncFailures) {
  synced(base_plan());
  conntrack_.fail_with("conntrack: Operation not permitted");
  const SyncResult result = syncer_.sync(plan_with_dns({"10.200.0.1"}));
  EXPECT_TRUE(result.ok);
  EXPECT_THAT(result.error, IsEmpty());
  ASSERT_THAT(result.warnings, SizeIs(1));
  EXPECT_THAT(result.warnings[0], AllOf(HasSubstr("conntrack: Operation not permitted"),
                                         HasSubstr(dns_flows_to("10.200.0.2").to_string())));
  EXPECT_EQ(syncer_.applied(), plan_with_dns({"10.200.0.1"}));
  EXPECT_FALSE(synced(plan_with_dns({"10.200.0.1"})).full);
}

TEST(IptablesSyncer, WithoutAConntrackCleanerNothingIsCleared) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  FakeClock clock;
  IptablesSyncer syncer(backend, nullptr, clock, {});
  ASSERT_TRUE(syncer.sync(base_plan()).ok);
  const SyncResult result = syncer.sync(plan_with_dns({"10.200.0.1"}));
  EXPECT_TRUE(result.ok);
  EXPECT_FALSE(result.conntrack);
}

}  // namespace
}  // namespace kubenat
