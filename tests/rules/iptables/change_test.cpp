// The change between two iptables plans and its iptables-restore form: what
// a sync writes when the cluster changes, in which order, and in how many
// payloads. The payloads are applied to an in-memory iptables that refuses
// what the kernel refuses (a jump to a missing chain, deleting a chain that
// is still jumped to), so ordering bugs fail here and not on a node.

#include "rules/iptables/change.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "engine/iptables/backend.h"
#include "rules/iptables/chain_names.h"
#include "rules/iptables/compiler.h"
#include "tests/support/cluster_builder.h"
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
using ::testing::UnorderedElementsAre;
using namespace kubenat::testing;

ProxyConfig test_config() {
  ProxyConfig config;
  config.node_name = "test-node";
  config.node_ips = {ip("192.168.0.2")};
  config.cluster_cidrs = {cidr("10.0.0.0/8")};
  return config;
}

IptablesPlan compile(const ClusterState& state, const ProxyConfig& config = test_config()) {
  return compile_iptables(state, config).plan;
}

// "<prefix>.<i / 250>.<i % 250 + 1>": a distinct address per service.
std::string nth_address(const std::string& prefix, int i) {
  return prefix + "." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

ServicePortName port_name(int i) { return ServicePortName{{"ns", "svc" + std::to_string(i)}, "p80", Protocol::Tcp}; }
// The k-th endpoint of service i.
std::string endpoint_ip(int i, int k) { return nth_address("10." + std::to_string(180 + k), i); }
std::string svc(int i) { return svc_chain(port_name(i)); }
std::string sep(int i, int k) { return sep_chain(port_name(i), endpoint_ip(i, k) + ":80"); }

// `count` ClusterIP Services ns/svc<i>, port p80/TCP, each with one
// endpoint unless told otherwise.
class Services {
 public:
  explicit Services(int count) : endpoints_(static_cast<std::size_t>(count), 1) {}
  Services& endpoints(int i, int n) {
    endpoints_.at(static_cast<std::size_t>(i)) = n;
    return *this;
  }
  Services& without(int i) { return endpoints(i, -1); }

  ClusterBuilder builder() const {
    ClusterBuilder cluster;
    for (int i = 0; i < static_cast<int>(endpoints_.size()); ++i) {
      const int n = endpoints_[static_cast<std::size_t>(i)];
      if (n < 0) continue;
      const std::string name = "svc" + std::to_string(i);
      cluster.add(ServiceBuilder("ns", name).cluster_ip(nth_address("172.30", i)).port("p80", 80));
      if (n == 0) continue;
      SliceBuilder slice("ns", name);
      slice.port("p80", 80);
      for (int k = 0; k < n; ++k) slice.endpoint(endpoint_ip(i, k));
      cluster.add(slice.build());
    }
    return cluster;
  }
  ClusterState build() const { return builder().build(); }

 private:
  std::vector<int> endpoints_;  // per service; -1: no such service
};

std::string table_prefix(IptablesTable table) { return std::string(table_name(table)) + " "; }

// "nat KUBE-SVC-..." per write, in order.
std::vector<std::string> written(const IptablesChange& change) {
  std::vector<std::string> out;
  for (const ChainWrite& write : change.writes) out.push_back(table_prefix(write.table) + write.chain.name.str());
  return out;
}
std::vector<std::string> deleted(const IptablesChange& change) {
  std::vector<std::string> out;
  for (const ChainDelete& del : change.deletes) out.push_back(table_prefix(del.table) + del.name.str());
  return out;
}
std::string nat(const std::string& chain) { return "nat " + chain; }
std::string filter(const std::string& chain) { return "filter " + chain; }

// Puts the plan's chains into the fake, as a full sync would.
void load(FakeIptables& iptables, const IptablesPlan& plan) {
  for (const std::string& payload : render_iptables_change(full_iptables_change(plan))) {
    auto ok = iptables.restore(plan.family, payload);
    ASSERT_TRUE(ok) << ok.error();
  }
}

std::size_t count_lines_starting_with(std::string_view text, std::string_view prefix) {
  std::size_t n = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    if (text.substr(start, end - start).starts_with(prefix)) ++n;
    start = end + 1;
  }
  return n;
}

// A NodePort Service with two endpoints, source of EXT chains.
ClusterBuilder& add_node_port_service(ClusterBuilder& cluster) {
  return cluster
      .add(ServiceBuilder("np", "web").type(ServiceType::NodePort).cluster_ip("172.31.0.1")
               .port("http", 80, Protocol::Tcp, 30080))
      .add(SliceBuilder("np", "web").port("http", 8080).endpoint("10.190.0.1").endpoint("10.190.0.2"));
}
const ServicePortName kWeb{{"np", "web"}, "http", Protocol::Tcp};

// ---------------------------------------------------------------------------
// diff_iptables

TEST(IptablesChange, IdenticalPlansGiveAnEmptyChange) {
  const IptablesPlan plan = compile(Services(5).build());
  const IptablesChange change = diff_iptables(plan, compile(Services(5).build()));
  EXPECT_TRUE(change.empty());
  EXPECT_THAT(change.changed_service_ports, IsEmpty());
}

TEST(IptablesChange, AddedEndpointWritesItsEndpointChainAndItsServiceChainOnly) {
  const IptablesChange change = diff_iptables(compile(Services(5).build()), compile(Services(5).endpoints(2, 2).build()));
  EXPECT_THAT(written(change), ElementsAre(nat(sep(2, 1)), nat(svc(2))));
  EXPECT_THAT(change.deletes, IsEmpty());
  EXPECT_THAT(change.changed_service_ports, ElementsAre(port_name(2)));
}

TEST(IptablesChange, RemovedEndpointRewritesItsServiceChainAndDeletesItsEndpointChain) {
  const IptablesChange change = diff_iptables(compile(Services(5).endpoints(2, 2).build()), compile(Services(5).build()));
  EXPECT_THAT(written(change), ElementsAre(nat(svc(2))));
  EXPECT_THAT(deleted(change), ElementsAre(nat(sep(2, 1))));
}

// The rule service port i adds to nat KUBE-SERVICES.
std::string cluster_ip_rule(const IptablesPlan& plan, int i) {
  return plan.service_ports.at(port_name(i))->shared_rules.at(0).rule;
}
RuleEdit insert(IptablesTable table, std::string chain, std::string rule, std::size_t position) {
  return RuleEdit{RuleEdit::Kind::Insert, table, std::move(chain), std::move(rule), position};
}
RuleEdit remove(IptablesTable table, std::string chain, std::string rule) {
  return RuleEdit{RuleEdit::Kind::Delete, table, std::move(chain), std::move(rule), 0};
}

TEST(IptablesChange, AddedServiceWritesItsChainsAndInsertsItsKubeServicesRuleInPlace) {
  const IptablesPlan after = compile(Services(5).build());
  const IptablesChange change = diff_iptables(compile(Services(4).build()), after);
  EXPECT_THAT(written(change), ElementsAre(nat(sep(4, 0)), nat(svc(4))));
  // svc4 sorts last: after the four others, before the NodePort catch-all.
  EXPECT_THAT(change.edits, ElementsAre(insert(IptablesTable::Nat, "KUBE-SERVICES", cluster_ip_rule(after, 4), 5)));
  EXPECT_THAT(change.deletes, IsEmpty());
  EXPECT_THAT(change.changed_service_ports, ElementsAre(port_name(4)));
}

TEST(IptablesChange, AddedServiceIsInsertedAtThePositionAFullRewriteGivesIt) {
  const IptablesPlan after = compile(Services(5).build());
  const IptablesChange change = diff_iptables(compile(Services(5).without(2).build()), after);
  EXPECT_THAT(change.edits, ElementsAre(insert(IptablesTable::Nat, "KUBE-SERVICES", cluster_ip_rule(after, 2), 3)));
}

TEST(IptablesChange, RemovedServiceDeletesItsKubeServicesRuleByItsText) {
  const IptablesPlan before = compile(Services(5).build());
  const IptablesChange change = diff_iptables(before, compile(Services(5).without(2).build()));
  EXPECT_THAT(change.writes, IsEmpty());
  EXPECT_THAT(change.edits, ElementsAre(remove(IptablesTable::Nat, "KUBE-SERVICES", cluster_ip_rule(before, 2))));
  EXPECT_THAT(deleted(change), UnorderedElementsAre(nat(svc(2)), nat(sep(2, 0))));
}

TEST(IptablesChange, SharedChainsAreRewrittenWhenEditingInPlaceIsTurnedOff) {
  const IptablesChange change =
      diff_iptables(compile(Services(4).build()), compile(Services(5).build()), {.edit_shared_chains_in_place = false});
  EXPECT_THAT(written(change), ElementsAre(nat(sep(4, 0)), nat(svc(4)), nat("KUBE-SERVICES")));
  EXPECT_THAT(change.edits, IsEmpty());
}

TEST(IptablesChange, ManyChangedServicesRewriteTheSharedChainInsteadOfEditingIt) {
  const IptablesChange change = diff_iptables(compile(Services(10).build()), compile(Services(100).build()));
  EXPECT_THAT(written(change), Contains(nat("KUBE-SERVICES")));
  EXPECT_THAT(change.edits, IsEmpty());
}

TEST(IptablesChange, ChangedServiceHasAllItsRulesInTheChainDeletedAndItsNewOnesInserted) {
  const IptablesPlan before = compile(Services(5).build());
  ClusterBuilder after_builder = Services(5).builder();
  after_builder.add(
      ServiceBuilder("ns", "svc2").cluster_ip(nth_address("172.30", 2)).port("p80", 80).external_ip("198.51.100.7"));
  const IptablesPlan after = compile(after_builder.build());
  const std::vector<SharedRule>& rules = after.service_ports.at(port_name(2))->shared_rules;
  ASSERT_THAT(rules, SizeIs(2));
  const IptablesChange change = diff_iptables(before, after);
  EXPECT_THAT(change.edits, ElementsAre(remove(IptablesTable::Nat, "KUBE-SERVICES", cluster_ip_rule(before, 2)),
                                        insert(IptablesTable::Nat, "KUBE-SERVICES", rules[0].rule, 3),
                                        insert(IptablesTable::Nat, "KUBE-SERVICES", rules[1].rule, 4)));
}

TEST(IptablesChange, RemovedServiceEditsTheSharedChainsItWasInAndDeletesAllItsChains) {
  ClusterBuilder before_builder = Services(3).builder();
  const IptablesPlan before = compile(add_node_port_service(before_builder).build());
  const IptablesChange change = diff_iptables(before, compile(Services(3).build()));
  // KUBE-NODEPORTS is left empty: rewriting it is no dearer than editing it.
  EXPECT_THAT(written(change), ElementsAre(nat("KUBE-NODEPORTS")));
  EXPECT_THAT(change.edits, ElementsAre(remove(IptablesTable::Nat, "KUBE-SERVICES",
                                               before.service_ports.at(kWeb)->shared_rules[0].rule)));
  EXPECT_THAT(deleted(change), UnorderedElementsAre(nat(svc_chain(kWeb)), nat(ext_chain(kWeb)),
                                                    nat(sep_chain(kWeb, "10.190.0.1:8080")),
                                                    nat(sep_chain(kWeb, "10.190.0.2:8080"))));
  EXPECT_THAT(change.changed_service_ports, ElementsAre(kWeb));
}

TEST(IptablesChange, ServiceLosingItsLastEndpointMovesItsRuleFromNatToFilterKubeServices) {
  const IptablesPlan before = compile(Services(5).build());
  const IptablesPlan after = compile(Services(5).endpoints(2, 0).build());
  const IptablesChange change = diff_iptables(before, after);
  EXPECT_THAT(change.writes, IsEmpty());
  EXPECT_THAT(deleted(change), UnorderedElementsAre(nat(svc(2)), nat(sep(2, 0))));
  ASSERT_THAT(change.edits, SizeIs(2));
  EXPECT_EQ(change.edits[0].kind, RuleEdit::Kind::Insert);
  EXPECT_EQ(change.edits[0].table, IptablesTable::Filter);
  EXPECT_THAT(change.edits[0].rule, HasSubstr("ns/svc2:p80 has no endpoints"));
  EXPECT_EQ(change.edits[1], remove(IptablesTable::Nat, "KUBE-SERVICES", cluster_ip_rule(before, 2)));
}

TEST(IptablesChange, ServiceGainingItsFirstEndpointMovesItsRuleFromFilterToNatKubeServices) {
  const IptablesPlan after = compile(Services(5).build());
  const IptablesChange change = diff_iptables(compile(Services(5).endpoints(2, 0).build()), after);
  // Filter KUBE-SERVICES is left empty: rewriting it is no dearer.
  EXPECT_THAT(written(change), ElementsAre(nat(sep(2, 0)), nat(svc(2)), filter("KUBE-SERVICES")));
  EXPECT_THAT(change.edits, ElementsAre(insert(IptablesTable::Nat, "KUBE-SERVICES", cluster_ip_rule(after, 2), 3)));
  EXPECT_THAT(change.deletes, IsEmpty());
}

TEST(IptablesChange, ChangedServicePortsAreListedInNameOrder) {
  const IptablesChange change = diff_iptables(compile(Services(8).endpoints(6, 2).without(1).build()),
                                              compile(Services(8).endpoints(3, 2).build()));
  EXPECT_THAT(change.changed_service_ports, ElementsAre(port_name(1), port_name(3), port_name(6)));
}

TEST(IptablesChange, CandidateDiffEqualsTheFullDiffWhenTheCandidatesCoverEveryChange) {
  const IptablesPlan before = compile(Services(10).endpoints(5, 2).build());
  const IptablesPlan after = compile(Services(11).endpoints(3, 3).endpoints(5, 0).without(7).build());
  const std::set<ServicePortName> candidates = {port_name(1), port_name(3), port_name(5), port_name(7),
                                                port_name(10)};
  const IptablesChange full = diff_iptables(before, after);
  ASSERT_FALSE(full.empty());
  EXPECT_EQ(diff_iptables(before, after, candidates), full);
}

TEST(IptablesChange, CandidateDiffIgnoresPortsThatAreNotCandidates) {
  const IptablesPlan before = compile(Services(5).build());
  const IptablesPlan after = compile(Services(5).endpoints(2, 2).build());
  EXPECT_TRUE(diff_iptables(before, after, {port_name(1)}).empty());
}

// The rank of a written chain in the order a change must write them.
int kind_rank(const ChainWrite& write) {
  const std::string_view name = write.chain.name.view();
  if (name.starts_with("KUBE-SEP-")) return 0;
  if (name.starts_with("KUBE-SVC-") || name.starts_with("KUBE-SVL-")) return 1;
  if (name.starts_with("KUBE-EXT-")) return 2;
  if (name.starts_with("KUBE-FW-")) return 3;
  return 4;
}

TEST(IptablesChange, WritesEndpointChainsThenServiceThenExternalThenFirewallThenShared) {
  ClusterBuilder after = Services(2).builder();
  after.add(ServiceBuilder("lb", "web").type(ServiceType::LoadBalancer).cluster_ip("172.31.0.9")
                .port("http", 80, Protocol::Tcp, 30090).load_balancer_ip("5.6.7.8").source_range("203.0.113.0/25")
                .external_local())
      .add(SliceBuilder("lb", "web").port("http", 80).endpoint("10.190.0.1", "test-node").endpoint("10.190.0.2"));
  const IptablesChange change =
      diff_iptables(compile(Services(2).build()), compile(after.build()), {.edit_shared_chains_in_place = false});
  std::vector<int> ranks;
  for (const ChainWrite& write : change.writes) ranks.push_back(kind_rank(write));
  EXPECT_TRUE(std::is_sorted(ranks.begin(), ranks.end())) << ::testing::PrintToString(written(change));
  for (int rank = 0; rank <= 4; ++rank) EXPECT_THAT(ranks, Contains(rank)) << "rank " << rank;
}

TEST(IptablesChange, FullChangeWritesEveryChainOfThePlanInDependencyOrderAndDeletesNothing) {
  ClusterBuilder cluster = Services(3).builder();
  const IptablesPlan plan = compile(add_node_port_service(cluster).build());
  const IptablesChange change = full_iptables_change(plan);
  EXPECT_THAT(change.deletes, IsEmpty());
  std::vector<std::string> expected;
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    for (const IptablesChain& chain : plan.chains(table)) expected.push_back(table_prefix(table) + chain.name.str());
  }
  EXPECT_THAT(written(change), ::testing::UnorderedElementsAreArray(expected));
  for (const ChainWrite& write : change.writes) {
    for (const IptablesChain& chain : plan.chains(write.table)) {
      if (chain.name == write.chain.name) {
        EXPECT_EQ(write.chain, chain);
      }
    }
  }
  std::vector<int> ranks;
  for (const ChainWrite& write : change.writes) ranks.push_back(kind_rank(write));
  EXPECT_TRUE(std::is_sorted(ranks.begin() + 1, ranks.end())) << "all but KUBE-MARK-MASQ, which comes first";
  EXPECT_EQ(change.writes.front().chain.name, "KUBE-MARK-MASQ");
  EXPECT_THAT(change.changed_service_ports, SizeIs(plan.service_ports.size()));
}

TEST(IptablesChange, IsServiceChainRecognisesKubeProxysPerServicePrefixes) {
  for (const char* name : {"KUBE-SVC-XPGD46QRK7WJZT7O", "KUBE-SVL-XPGD46QRK7WJZT7O", "KUBE-EXT-XPGD46QRK7WJZT7O",
                           "KUBE-FW-XPGD46QRK7WJZT7O", "KUBE-SEP-SXIVWICOYRO3J4NJ"}) {
    EXPECT_TRUE(is_service_chain(name)) << name;
  }
  for (const char* name : {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ", "KUBE-PROXY-CANARY",
                           "KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL", "KUBE-SVCX", "DOCKER", "kube-svc-abc"}) {
    EXPECT_FALSE(is_service_chain(name)) << name;
  }
}

// ---------------------------------------------------------------------------
// render_iptables_change

TEST(IptablesChangeRender, EmptyChangeRendersToNoPayload) {
  EXPECT_THAT(render_iptables_change(IptablesChange{}), IsEmpty());
  EXPECT_THAT(render_iptables_change(IptablesChange{}, 100), IsEmpty());
}

TEST(IptablesChangeRender, PayloadDeclaresTheChainsThenWritesThemThenDeletes) {
  const IptablesPlan after = compile(Services(2).build());
  const IptablesChange change = diff_iptables(compile(Services(2).endpoints(1, 2).build()), after);
  const std::string svc_lines = after.service_ports.at(port_name(1))->find(svc(1))->lines;
  EXPECT_THAT(render_iptables_change(change),
              ElementsAre("*nat\n:" + svc(1) + " - [0:0]\n:" + sep(1, 1) + " - [0:0]\n" + svc_lines + "-X " + sep(1, 1) +
                          "\nCOMMIT\n"));
}

TEST(IptablesChangeRender, AddedServiceIsItsChainsThenOneInsertIntoKubeServices) {
  const IptablesPlan after = compile(Services(3).build());
  const IptablesChange change = diff_iptables(compile(Services(3).without(1).build()), after);
  const ServicePortRules& added = *after.service_ports.at(port_name(1));
  EXPECT_THAT(
      render_iptables_change(change),
      ElementsAre("*nat\n:" + sep(1, 0) + " - [0:0]\n:" + svc(1) + " - [0:0]\n" + added.find(sep(1, 0))->lines +
                  added.find(svc(1))->lines + "-I KUBE-SERVICES 2 " + cluster_ip_rule(after, 1) + "\nCOMMIT\n"));
  EXPECT_THAT(cluster_ip_rule(after, 1), AllOf(HasSubstr("\"ns/svc1:p80 cluster IP\""), HasSubstr("-j " + svc(1))));
}

TEST(IptablesChangeRender, RemovedServiceIsOneDeleteFromKubeServicesThenItsChainsFlushedAndDeleted) {
  const IptablesPlan before = compile(Services(3).build());
  const IptablesChange change = diff_iptables(before, compile(Services(3).without(1).build()));
  EXPECT_THAT(render_iptables_change(change),
              ElementsAre("*nat\n:" + sep(1, 0) + " - [0:0]\n:" + svc(1) + " - [0:0]\n-D KUBE-SERVICES " +
                          cluster_ip_rule(before, 1) + "\n-X " + sep(1, 0) + "\n-X " + svc(1) + "\nCOMMIT\n"));
}

TEST(IptablesChangeRender, EditsOfAChainAlsoWrittenWholeAreLeftOut) {
  // kube-proxy's partial sync, as the bench's baseline builds it: the
  // minimal change plus every shared chain rewritten.
  const IptablesPlan after = compile(Services(3).build());
  IptablesChange change = diff_iptables(compile(Services(3).without(1).build()), after);
  ASSERT_THAT(change.edits, SizeIs(1));
  const SharedChain& services =
      *std::find_if(after.shared_chains.begin(), after.shared_chains.end(),
                    [](const SharedChain& c) { return c.table == IptablesTable::Nat && c.name == "KUBE-SERVICES"; });
  change.writes.push_back(ChainWrite{IptablesTable::Nat, after.assemble(services)});
  const std::vector<std::string> payloads = render_iptables_change(change);
  ASSERT_THAT(payloads, SizeIs(1));
  EXPECT_EQ(count_lines_starting_with(payloads[0], "-I "), 0u) << payloads[0];
  EXPECT_EQ(count_lines_starting_with(payloads[0], "-A KUBE-SERVICES "), 4u) << payloads[0];
}

TEST(IptablesChangeRender, FilterSectionComesBeforeNatInOnePayload) {
  const IptablesChange change =
      diff_iptables(compile(Services(3).build()), compile(Services(3).endpoints(1, 0).build()));
  const std::vector<std::string> payloads = render_iptables_change(change);
  ASSERT_THAT(payloads, SizeIs(1));
  EXPECT_TRUE(payloads[0].starts_with("*filter\n-I KUBE-SERVICES 1 ")) << payloads[0];
  EXPECT_LT(payloads[0].find("COMMIT\n"), payloads[0].find("*nat\n"));
  EXPECT_TRUE(payloads[0].ends_with("COMMIT\n"));
}

// A change with everything in it: services added, removed, grown, shrunk,
// emptied and made NodePort.
struct BigChange {
  IptablesPlan before;
  IptablesPlan after;
  IptablesChange change;
};
BigChange big_change() {
  BigChange out;
  out.before = compile(Services(30).endpoints(4, 3).endpoints(5, 3).endpoints(6, 0).build());
  ClusterBuilder after = Services(40).endpoints(1, 4).endpoints(4, 1).endpoints(5, 0).without(7).without(8).builder();
  out.after = compile(add_node_port_service(after).build());
  out.change = diff_iptables(out.before, out.after);
  return out;
}

TEST(IptablesChangeRender, SmallMaxBytesGivesSeveralPayloadsThatEachApplyOnTopOfTheOldPlan) {
  const BigChange big = big_change();
  FakeIptables iptables;
  load(iptables, big.before);
  const std::vector<std::string> payloads = render_iptables_change(big.change, 1024);
  ASSERT_GT(payloads.size(), 3u);
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    auto ok = iptables.restore(IpFamily::V4, payloads[i]);
    ASSERT_TRUE(ok) << "payload " << i << ": " << ok.error() << "\n" << payloads[i];
  }
  EXPECT_THAT(differences_from_plan(iptables, big.after), IsEmpty());
}

TEST(IptablesChangeRender, OnlyAPayloadOfASingleWriteExceedsMaxBytes) {
  const BigChange big = big_change();
  for (const std::string& payload : render_iptables_change(big.change, 1024)) {
    // Section and declaration lines add a little to the limit; the
    // deletions, which ride with the last payload, add a line or two each.
    // So do the in-place edits of the shared chains.
    const std::size_t deletions = count_lines_starting_with(payload, "-X ");
    const std::size_t edits = count_lines_starting_with(payload, "-D ") + count_lines_starting_with(payload, "-I ");
    const std::size_t writes = count_lines_starting_with(payload, ":") - deletions;
    if (payload.size() > 1024 + 64 + deletions * 100 + edits * 200) {
      EXPECT_EQ(writes, 1u) << payload;
    }
  }
}

TEST(IptablesChangeRender, DeletionsAppearOnlyInTheLastPayload) {
  const BigChange big = big_change();
  const std::vector<std::string> payloads = render_iptables_change(big.change, 1024);
  ASSERT_GT(payloads.size(), 1u);
  for (std::size_t i = 0; i + 1 < payloads.size(); ++i) {
    EXPECT_EQ(count_lines_starting_with(payloads[i], "-X "), 0u) << "payload " << i;
  }
  EXPECT_EQ(count_lines_starting_with(payloads.back(), "-X "), big.change.deletes.size());
}

TEST(IptablesChangeRender, UnlimitedRenderIsOnePayloadThatApplies) {
  const BigChange big = big_change();
  FakeIptables iptables;
  load(iptables, big.before);
  const std::vector<std::string> payloads = render_iptables_change(big.change);
  ASSERT_THAT(payloads, SizeIs(1));
  auto ok = iptables.restore(IpFamily::V4, payloads[0]);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_THAT(differences_from_plan(iptables, big.after), IsEmpty());
}

TEST(IptablesChangeRender, ChainLargerThanMaxBytesGetsAPayloadOfItsOwn) {
  const IptablesChange change = diff_iptables(compile(Services(5).build()), compile(Services(5).endpoints(2, 40).build()));
  const std::vector<std::string> payloads = render_iptables_change(change, 1024);
  auto holding = std::find_if(payloads.begin(), payloads.end(),
                              [](const std::string& p) { return p.find(":" + svc(2) + " ") != std::string::npos; });
  ASSERT_NE(holding, payloads.end());
  EXPECT_GT(holding->size(), 1024u);
  EXPECT_EQ(count_lines_starting_with(*holding, ":"), 1u) << *holding;
}

TEST(IptablesChangeRender, OneEndpointChangeAtAThousandServicesRendersUnderTwoKilobytes) {
  ProxyConfig config = test_config();
  // Passing the large-cluster threshold drops every endpoint comment and so
  // rewrites every chain, by design; stay clear of it.
  config.large_cluster_endpoints_threshold = 100000;
  const IptablesPlan before = compile(Services(1000).build(), config);
  const IptablesPlan after = compile(Services(1000).endpoints(500, 2).build(), config);
  std::size_t bytes = 0;
  for (const std::string& payload : render_iptables_change(diff_iptables(before, after))) bytes += payload.size();
  EXPECT_GT(bytes, 0u);
  EXPECT_LT(bytes, 2048u);
}

// ---------------------------------------------------------------------------
// Property: diffs applied one after the other leave the kernel as a full
// apply of the last plan would.

// A cluster that a seeded random walk edits the way users and controllers
// do: Services come and go, endpoints come, go and flap, Services change
// type and policies.
class RandomCluster {
 public:
  explicit RandomCluster(std::uint32_t seed) : rng_(seed) {}

  // One random edit; returns what it did, for failure messages.
  std::string edit() {
    if (services_.size() < 3) return add_service();
    switch (pick(11)) {
      case 0:
      case 1: return add_service();
      case 2: return remove_service();
      case 3:
      case 4: return add_endpoint();
      case 5: return remove_endpoint();
      case 6: return toggle_ready();
      case 7: return change_type();
      case 8: return toggle_external_local();
      case 9: return toggle_affinity();
      default: return toggle_internal_local();
    }
  }

  ClusterState build() const {
    ClusterState state;
    for (const auto& [id, toy] : services_) {
      state.services[toy.service.id] = toy.service;
      if (toy.endpoints.empty()) continue;
      SliceBuilder slice("ns", toy.service.id.name);
      slice.port("p", toy.target_port, toy.service.ports[0].protocol);
      for (const ToyEndpoint& ep : toy.endpoints) {
        slice.endpoint(ep.address, ep.node);
        if (!ep.ready) slice.not_ready();
      }
      state.put_slice(slice.build());
    }
    return state;
  }

 private:
  struct ToyEndpoint {
    std::string address;
    std::string node;
    bool ready = true;
  };
  struct ToyService {
    Service service;
    int target_port = 0;
    int next_endpoint = 0;
    std::vector<ToyEndpoint> endpoints;
  };

  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint32_t>(n)); }
  ToyService& any_service() {
    auto it = services_.begin();
    std::advance(it, pick(static_cast<int>(services_.size())));
    return it->second;
  }

  std::string add_service() {
    const int id = next_service_++;
    const Protocol protocol = pick(3) == 0 ? Protocol::Udp : Protocol::Tcp;
    ToyService toy;
    toy.service = ServiceBuilder("ns", "svc" + std::to_string(id)).cluster_ip(nth_address("172.30", id))
                      .port("p", 80 + pick(3), protocol);
    toy.target_port = 8000 + pick(3);
    services_[id] = std::move(toy);
    return "add svc" + std::to_string(id);
  }
  std::string remove_service() {
    auto it = services_.begin();
    std::advance(it, pick(static_cast<int>(services_.size())));
    const std::string name = it->second.service.id.name;
    services_.erase(it);
    return "remove " + name;
  }
  std::string add_endpoint() {
    ToyService& toy = any_service();
    const int id = std::stoi(toy.service.id.name.substr(3));
    const int k = toy.next_endpoint++;
    toy.endpoints.push_back(ToyEndpoint{nth_address("10." + std::to_string(100 + k), id),
                                        pick(2) == 0 ? "test-node" : "other-node", true});
    return "add endpoint to " + toy.service.id.name;
  }
  std::string remove_endpoint() {
    ToyService& toy = any_service();
    if (toy.endpoints.empty()) return "nothing";
    toy.endpoints.erase(toy.endpoints.begin() + pick(static_cast<int>(toy.endpoints.size())));
    return "remove endpoint of " + toy.service.id.name;
  }
  std::string toggle_ready() {
    ToyService& toy = any_service();
    if (toy.endpoints.empty()) return "nothing";
    ToyEndpoint& ep = toy.endpoints[static_cast<std::size_t>(pick(static_cast<int>(toy.endpoints.size())))];
    ep.ready = !ep.ready;
    return "toggle ready of " + ep.address;
  }
  std::string change_type() {
    ToyService& toy = any_service();
    Service& s = toy.service;
    const int id = std::stoi(s.id.name.substr(3));
    s.type = static_cast<ServiceType>(pick(3));  // ClusterIP, NodePort, LoadBalancer
    s.ports[0].node_port = s.type == ServiceType::ClusterIP ? 0 : 30000 + id;
    s.load_balancer_ips.clear();
    s.load_balancer_source_ranges.clear();
    if (s.type == ServiceType::LoadBalancer) {
      s.load_balancer_ips.push_back(ip(nth_address("5.6", id)));
      if (pick(2) == 0) s.load_balancer_source_ranges.push_back(cidr("203.0.113.0/25"));
    }
    return "make " + s.id.name + " type " + std::to_string(static_cast<int>(s.type));
  }
  std::string toggle_external_local() {
    Service& s = any_service().service;
    s.external_traffic_policy =
        s.external_traffic_policy == TrafficPolicy::Local ? TrafficPolicy::Cluster : TrafficPolicy::Local;
    s.health_check_node_port = s.external_traffic_policy == TrafficPolicy::Local ? 32000 : 0;
    return "toggle external policy of " + s.id.name;
  }
  std::string toggle_internal_local() {
    Service& s = any_service().service;
    s.internal_traffic_policy =
        s.internal_traffic_policy == TrafficPolicy::Local ? TrafficPolicy::Cluster : TrafficPolicy::Local;
    return "toggle internal policy of " + s.id.name;
  }
  std::string toggle_affinity() {
    Service& s = any_service().service;
    s.session_affinity = s.session_affinity == SessionAffinity::ClientIP ? SessionAffinity::None
                                                                          : SessionAffinity::ClientIP;
    return "toggle affinity of " + s.id.name;
  }

  std::mt19937 rng_;
  std::map<int, ToyService> services_;
  int next_service_ = 0;
};

// iptables-save text with the chain declarations sorted and the rules
// grouped by chain (chains sorted, rule order within a chain kept).
std::string normalized(const std::string& saved) {
  std::vector<std::string> declarations;
  std::vector<std::pair<std::string, std::string>> rules;  // chain, line
  std::string out;
  for (std::size_t start = 0; start < saved.size();) {
    const std::size_t end = std::min(saved.find('\n', start), saved.size());
    std::string line = saved.substr(start, end - start);
    start = end + 1;
    if (line.starts_with(":")) {
      declarations.push_back(line);
    } else if (line.starts_with("-A ")) {
      rules.emplace_back(line.substr(3, line.find(' ', 3) - 3), line);
    } else if (line.starts_with("*")) {
      out += line + "\n";
    }
  }
  std::sort(declarations.begin(), declarations.end());
  std::stable_sort(rules.begin(), rules.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const std::string& d : declarations) out += d + "\n";
  for (const auto& [chain, line] : rules) out += line + "\n";
  return out;
}

TEST(IptablesChangeProperty, RandomEditsAppliedAsSmallDiffsEndWhereAFullApplyOfTheLastPlanDoes) {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomCluster cluster(seed);
    FakeIptables incremental;
    IptablesPlan previous = compile(cluster.build());
    IptablesBackend backend(incremental, IpFamily::V4, IptablesBackend::Options{.max_payload_bytes = 600});
    ASSERT_TRUE(backend.apply_full(previous));

    for (int step = 0; step < 100; ++step) {
      const std::string edit = cluster.edit();
      SCOPED_TRACE("step " + std::to_string(step) + ": " + edit);
      IptablesPlan next = compile(cluster.build());
      for (const std::string& payload : render_iptables_change(diff_iptables(previous, next), 600)) {
        auto ok = incremental.restore(IpFamily::V4, payload);
        ASSERT_TRUE(ok) << ok.error() << "\n" << payload;
      }
      ASSERT_THAT(differences_from_plan(incremental, next), IsEmpty());
      previous = std::move(next);
    }

    FakeIptables fresh;
    ASSERT_TRUE(IptablesBackend(fresh, IpFamily::V4).apply_full(previous));
    for (std::string_view table : {"nat", "filter"}) {
      EXPECT_EQ(normalized(*incremental.save(IpFamily::V4, table)), normalized(*fresh.save(IpFamily::V4, table)))
          << table;
    }
  }
}

}  // namespace
}  // namespace kubenat
