// The iptables backend against an in-memory iptables: what a full apply and
// a diff apply leave in the tables, what they leave alone, and how a refused
// payload is reported.

#include "engine/iptables/backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/iptables/chain_names.h"
#include "rules/iptables/compiler.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/fake_iptables.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using namespace kubenat::testing;

constexpr IpFamily V4 = IpFamily::V4;

ProxyConfig test_config(IpFamily family = V4) {
  ProxyConfig config;
  config.node_name = "test-node";
  config.family = family;
  config.node_ips = {ip(family == V4 ? "192.168.0.2" : "fd00:1::2")};
  config.cluster_cidrs = {cidr(family == V4 ? "10.0.0.0/8" : "fd00:10::/64")};
  return config;
}

ServicePortName port_name(int i) { return ServicePortName{{"ns", "svc" + std::to_string(i)}, "p80", Protocol::Tcp}; }
std::string endpoint_ip(int i, int k) { return "10." + std::to_string(180 + k) + ".0." + std::to_string(i + 1); }

// `count` ClusterIP Services ns/svc<i> with `endpoints` endpoints each, and
// a NodePort Service np/web.
IptablesPlan plan_of(int count, int endpoints = 1) {
  ClusterBuilder cluster;
  for (int i = 0; i < count; ++i) {
    const std::string name = "svc" + std::to_string(i);
    cluster.add(ServiceBuilder("ns", name).cluster_ip("172.30.0." + std::to_string(i + 1)).port("p80", 80));
    SliceBuilder slice("ns", name);
    slice.port("p80", 80);
    for (int k = 0; k < endpoints; ++k) slice.endpoint(endpoint_ip(i, k));
    cluster.add(slice.build());
  }
  cluster.add(ServiceBuilder("np", "web").type(ServiceType::NodePort).cluster_ip("172.31.0.1")
                  .port("http", 80, Protocol::Tcp, 30080))
      .add(SliceBuilder("np", "web").port("http", 8080).endpoint("10.190.0.1"));
  return compile_iptables(cluster.build(), test_config()).plan;
}

// What someone else (Docker, an admin, an earlier kube-proxy) left behind.
constexpr std::string_view kStaleSvc = "KUBE-SVC-STALESTALESTALE1";
constexpr std::string_view kStaleSep = "KUBE-SEP-STALESTALESTALE2";
const std::string kForeign =
    "*filter\n"
    ":DOCKER-USER - [0:0]\n"
    "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
    "-A FORWARD -j DOCKER-USER\n"
    "-A DOCKER-USER -j RETURN\n"
    "COMMIT\n"
    "*nat\n"
    ":DOCKER - [0:0]\n"
    ":KUBE-SERVICES - [0:0]\n"
    ":KUBE-SVC-STALESTALESTALE1 - [0:0]\n"
    ":KUBE-SEP-STALESTALESTALE2 - [0:0]\n"
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"
    "-A DOCKER -i docker0 -j RETURN\n"
    "-A KUBE-SERVICES -d 172.30.9.9/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-STALESTALESTALE1\n"
    "-A KUBE-SVC-STALESTALESTALE1 -j KUBE-SEP-STALESTALESTALE2\n"
    "-A KUBE-SEP-STALESTALESTALE2 -p tcp -m tcp -j DNAT --to-destination 10.99.0.1:80\n"
    "COMMIT\n";
const std::set<std::string, std::less<>> kNotOurs = {std::string(kCanaryChain), "DOCKER", "DOCKER-USER"};

// The plan's jump rules from one built-in chain, top-down.
std::vector<std::string> jumps(const IptablesPlan& plan, IptablesTable table, std::string_view chain) {
  std::vector<std::string> out;
  for (const JumpRule& jump : plan.jumps) {
    if (jump.table == table && jump.chain == chain) out.push_back(jump.rule);
  }
  return out;
}
std::vector<std::string> plus(std::vector<std::string> rules, const std::string& rule) {
  rules.push_back(rule);
  return rules;
}

// ---------------------------------------------------------------------------
// apply_full

TEST(IptablesBackend, ApplyFullOnEmptyTablesWritesExactlyThePlan) {
  FakeIptables iptables;
  const IptablesPlan plan = plan_of(3);
  ASSERT_TRUE(IptablesBackend(iptables, V4).apply_full(plan));
  EXPECT_THAT(differences_from_plan(iptables, plan), IsEmpty());
}

TEST(IptablesBackend, ApplyFullDeletesServiceChainsTheKernelHoldsAndThePlanLacks) {
  FakeIptables iptables;
  iptables.seed(kForeign);
  const IptablesPlan plan = plan_of(3);
  auto stats = IptablesBackend(iptables, V4).apply_full(plan);
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_FALSE(iptables.has_chain("nat", kStaleSvc));
  EXPECT_FALSE(iptables.has_chain("nat", kStaleSep));
  EXPECT_EQ(stats->chains_deleted, 2u);
  EXPECT_THAT(differences_from_plan(iptables, plan, kNotOurs), IsEmpty());
}

TEST(IptablesBackend, ApplyFullDeletesTheChainsOfServicesThatAreGone) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  ASSERT_TRUE(backend.apply_full(plan_of(5, 2)));
  const IptablesPlan smaller = plan_of(2, 1);
  ASSERT_TRUE(backend.apply_full(smaller));
  EXPECT_THAT(differences_from_plan(iptables, smaller), IsEmpty());
}

TEST(IptablesBackend, ApplyFullLeavesForeignChainsAndRulesAlone) {
  FakeIptables iptables;
  iptables.seed(kForeign);
  ASSERT_TRUE(IptablesBackend(iptables, V4).apply_full(plan_of(3)));
  EXPECT_THAT(iptables.rules("filter", "DOCKER-USER"), ElementsAre("-j RETURN"));
  EXPECT_THAT(iptables.rules("nat", "DOCKER"), ElementsAre("-i docker0 -j RETURN"));
  EXPECT_THAT(iptables.rules("filter", "INPUT"), ::testing::Contains("-p tcp -m tcp --dport 22 -j ACCEPT"));
  EXPECT_THAT(iptables.rules("filter", "FORWARD"), ::testing::Contains("-j DOCKER-USER"));
  EXPECT_THAT(iptables.rules("nat", "PREROUTING"), ::testing::Contains("-m addrtype --dst-type LOCAL -j DOCKER"));
}

TEST(IptablesBackend, ApplyFullPutsTheJumpsAboveExistingRulesInThePlansOrder) {
  FakeIptables iptables;
  iptables.seed(kForeign);
  const IptablesPlan plan = plan_of(3);
  ASSERT_TRUE(IptablesBackend(iptables, V4).apply_full(plan));
  using T = IptablesTable;
  EXPECT_THAT(iptables.rules("filter", "INPUT"),
              ElementsAreArray(plus(jumps(plan, T::Filter, "INPUT"), "-p tcp -m tcp --dport 22 -j ACCEPT")));
  EXPECT_THAT(iptables.rules("filter", "FORWARD"),
              ElementsAreArray(plus(jumps(plan, T::Filter, "FORWARD"), "-j DOCKER-USER")));
  EXPECT_THAT(iptables.rules("filter", "OUTPUT"), ElementsAreArray(jumps(plan, T::Filter, "OUTPUT")));
  EXPECT_THAT(iptables.rules("nat", "PREROUTING"),
              ElementsAreArray(plus(jumps(plan, T::Nat, "PREROUTING"), "-m addrtype --dst-type LOCAL -j DOCKER")));
  EXPECT_THAT(iptables.rules("nat", "OUTPUT"), ElementsAreArray(jumps(plan, T::Nat, "OUTPUT")));
  EXPECT_THAT(iptables.rules("nat", "POSTROUTING"), ElementsAreArray(jumps(plan, T::Nat, "POSTROUTING")));
  EXPECT_THAT(jumps(plan, T::Filter, "INPUT"), SizeIs(4));
}

TEST(IptablesBackend, SecondApplyFullDoesNotDuplicateTheJumps) {
  FakeIptables iptables;
  iptables.seed(kForeign);
  IptablesBackend backend(iptables, V4);
  const IptablesPlan plan = plan_of(3);
  ASSERT_TRUE(backend.apply_full(plan));
  const std::string filter = *iptables.save(V4, "filter");
  const std::string nat = *iptables.save(V4, "nat");
  ASSERT_TRUE(backend.apply_full(plan));
  EXPECT_EQ(*iptables.save(V4, "filter"), filter);
  EXPECT_EQ(*iptables.save(V4, "nat"), nat);
  EXPECT_THAT(iptables.restores().back().payload, Not(HasSubstr("-I ")));
}

TEST(IptablesBackend, ApplyFullRestoresAJumpSomeoneDeleted) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  const IptablesPlan plan = plan_of(1);
  ASSERT_TRUE(backend.apply_full(plan));
  const std::vector<std::string> prerouting = iptables.rules("nat", "PREROUTING");
  ASSERT_THAT(prerouting, SizeIs(1));
  ASSERT_TRUE(iptables.run(V4, {"-t", "nat", "-F", "PREROUTING"})->ok());
  ASSERT_TRUE(backend.apply_full(plan));
  EXPECT_EQ(iptables.rules("nat", "PREROUTING"), prerouting);
}

TEST(IptablesBackend, ApplyFullEnsuresTheCanaryInMangleNatAndFilter) {
  FakeIptables iptables;
  ASSERT_TRUE(IptablesBackend(iptables, V4).apply_full(plan_of(1)));
  for (std::string_view table : {"mangle", "nat", "filter"}) {
    EXPECT_THAT(iptables.rules(table, kCanaryChain), SizeIs(1)) << table;
  }
}

TEST(IptablesBackend, ApplyFullCutsPayloadsAtTheConfiguredSize) {
  FakeIptables iptables;
  const IptablesPlan plan = plan_of(30, 2);
  auto stats = IptablesBackend(iptables, V4, {.max_payload_bytes = 2048}).apply_full(plan);
  ASSERT_TRUE(stats);
  EXPECT_GT(stats->payloads, 4u);
  EXPECT_EQ(stats->payloads, iptables.restores().size());
  std::size_t bytes = 0;
  for (const FakeIptables::Restore& restore : iptables.restores()) bytes += restore.payload.size();
  EXPECT_EQ(stats->bytes, bytes);
  EXPECT_THAT(differences_from_plan(iptables, plan), IsEmpty());
}

TEST(IptablesBackend, ZeroMaxPayloadBytesWritesThePlanInOneCallThenEnsuresTheJumps) {
  FakeIptables iptables;
  const IptablesPlan plan = plan_of(30, 2);
  auto stats = IptablesBackend(iptables, V4, {.max_payload_bytes = 0}).apply_full(plan);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->payloads, 2u);
  ASSERT_THAT(iptables.restores(), SizeIs(2));
  EXPECT_THAT(iptables.restores()[1].payload, HasSubstr("-I PREROUTING 1 "));
  EXPECT_THAT(differences_from_plan(iptables, plan), IsEmpty());
}

TEST(IptablesBackend, ApplyFullOfAnIpv6PlanTouchesOnlyTheIpv6Tables) {
  FakeIptables iptables;
  ClusterBuilder cluster;
  cluster.add(ServiceBuilder("ns", "v6").cluster_ip("fd00:30::1").port("p80", 80))
      .add(SliceBuilder("ns", "v6").ipv6().port("p80", 80).endpoint("fd00:10::1"));
  const IptablesPlan plan = compile_iptables(cluster.build(), test_config(IpFamily::V6)).plan;
  ASSERT_TRUE(IptablesBackend(iptables, IpFamily::V6).apply_full(plan));
  EXPECT_THAT(differences_from_plan(iptables, plan), IsEmpty());
  EXPECT_THAT(iptables.user_chains("nat", V4), IsEmpty());
  EXPECT_THAT(iptables.user_chains("filter", V4), IsEmpty());
}

TEST(IptablesBackend, ApplyFullReportsARefusedPayload) {
  FakeIptables iptables;
  iptables.fail_next_restore("iptables-restore: line 2 failed");
  auto result = IptablesBackend(iptables, V4).apply_full(plan_of(1));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "iptables-restore: line 2 failed");
  EXPECT_EQ(result.error().done.payloads, 0u);
}

// ---------------------------------------------------------------------------
// canary_intact

TEST(IptablesBackend, CanaryIsIntactAfterApplyFull) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  ASSERT_TRUE(backend.apply_full(plan_of(1)));
  EXPECT_EQ(backend.canary_intact(), true);
}

TEST(IptablesBackend, CanaryIsMissingBeforeAnyFullApply) {
  FakeIptables iptables;
  EXPECT_EQ(IptablesBackend(iptables, V4).canary_intact(), false);
}

TEST(IptablesBackend, CanaryIsMissingAfterTheNatTableIsFlushed) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  ASSERT_TRUE(backend.apply_full(plan_of(1)));
  ASSERT_TRUE(iptables.run(V4, {"-t", "nat", "-F"})->ok());
  EXPECT_EQ(backend.canary_intact(), false);
}

TEST(IptablesBackend, CanaryIsMissingAfterTheMangleCanaryIsDeleted) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  ASSERT_TRUE(backend.apply_full(plan_of(1)));
  // iptables -X refuses a chain that still has rules.
  ASSERT_TRUE(iptables.run(V4, {"-t", "mangle", "-F", std::string(kCanaryChain)})->ok());
  ASSERT_TRUE(iptables.run(V4, {"-t", "mangle", "-X", std::string(kCanaryChain)})->ok());
  EXPECT_EQ(backend.canary_intact(), false);
}

TEST(IptablesBackend, CanaryOfTheOtherFamilyDoesNotCount) {
  FakeIptables iptables;
  ASSERT_TRUE(IptablesBackend(iptables, V4).apply_full(plan_of(1)));
  EXPECT_EQ(IptablesBackend(iptables, IpFamily::V6).canary_intact(), false);
}

// ---------------------------------------------------------------------------
// apply

TEST(IptablesBackend, ApplyWritesOnlyTheChangesChains) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  const IptablesPlan before = plan_of(5, 1);
  ASSERT_TRUE(backend.apply_full(before));
  iptables.clear_restores();
  IptablesPlan after = plan_of(5, 1);
  after.service_ports.at(port_name(2)) = plan_of(5, 2).service_ports.at(port_name(2));
  const IptablesChange change = diff_iptables(before, after);
  auto stats = backend.apply(change);
  ASSERT_TRUE(stats);
  ASSERT_THAT(iptables.restores(), SizeIs(1));
  EXPECT_EQ(iptables.restores()[0].payload, render_iptables_change(change).at(0));
  EXPECT_EQ(stats->chains_written, 2u);
  EXPECT_EQ(stats->chains_deleted, 0u);
  EXPECT_EQ(stats->payloads, 1u);
  EXPECT_EQ(stats->bytes, iptables.restores()[0].payload.size());
  EXPECT_THAT(differences_from_plan(iptables, after), IsEmpty());
}

TEST(IptablesBackend, ApplyOfAnEmptyChangeRunsNothing) {
  FakeIptables iptables;
  auto stats = IptablesBackend(iptables, V4).apply(IptablesChange{});
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->payloads, 0u);
  EXPECT_THAT(iptables.restores(), IsEmpty());
}

TEST(IptablesBackend, RefusedPayloadIsReportedWithTheChainOnTheFailingLine) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  const IptablesPlan before = plan_of(3, 1);
  ASSERT_TRUE(backend.apply_full(before));
  const IptablesPlan after = plan_of(3, 2);
  const std::string sep = sep_chain(port_name(1), endpoint_ip(1, 1) + ":80");
  iptables.fail_next_restore_at_line_containing("-A " + sep + " ");
  auto result = backend.apply(diff_iptables(before, after));
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("iptables-restore: line "));
  EXPECT_EQ(result.error().chain, sep);
}

TEST(IptablesBackend, NftStyleErrorLineAlsoNamesTheChain) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  const IptablesPlan before = plan_of(3, 1);
  const IptablesPlan after = plan_of(3, 2);
  const IptablesChange change = diff_iptables(before, after);
  ASSERT_TRUE(backend.apply_full(before));
  // Line 2 declares the first chain written.
  iptables.fail_next_restore("iptables-restore v1.8.9 (nf_tables): RULE_APPEND failed (No such file or directory)\n"
                             "Error occurred at line: 2\n");
  auto result = backend.apply(change);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().chain, change.writes.front().chain.name.str());
}

TEST(IptablesBackend, ErrorWithoutALineNamesNoChain) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4);
  const IptablesPlan before = plan_of(3, 1);
  ASSERT_TRUE(backend.apply_full(before));
  iptables.fail_next_restore("iptables-restore: unable to initialize table 'nat'");
  auto result = backend.apply(diff_iptables(before, plan_of(3, 2)));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().chain, std::nullopt);
}

TEST(IptablesBackend, ApplyStopsAtTheRefusedPayloadAndReportsWhatWentIn) {
  FakeIptables iptables;
  IptablesBackend backend(iptables, V4, {.max_payload_bytes = 1024});
  const IptablesPlan before = plan_of(2, 1);
  ASSERT_TRUE(backend.apply_full(before));
  iptables.clear_restores();
  const IptablesChange change = diff_iptables(before, plan_of(20, 3));
  const std::vector<std::string> payloads = render_iptables_change(change, 1024);
  ASSERT_GT(payloads.size(), 2u);
  // The shared chains are edited last, in the last payload.
  iptables.fail_next_restore_at_line_containing("-I KUBE-SERVICES ");
  auto result = backend.apply(change);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().chain, "KUBE-SERVICES");
  EXPECT_TRUE(result.error().in_place_edit);
  EXPECT_EQ(result.error().done.payloads, payloads.size() - 1);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i + 1 < payloads.size(); ++i) bytes += payloads[i].size();
  EXPECT_EQ(result.error().done.bytes, bytes);
  EXPECT_THAT(iptables.restores(), SizeIs(payloads.size()));
}

}  // namespace
}  // namespace kubenat
