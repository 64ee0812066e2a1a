// The nftables compiler: which elements each kind of Service gets, and how
// little a change touches.

#include "rules/nftables/compiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "rules/nftables/diff.h"
#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using namespace kubenat::testing;

ProxyConfig config() {
  ProxyConfig c;
  c.node_name = "node-a";
  c.node_ips = {ip("192.168.0.2")};
  c.cluster_cidrs = {cidr("10.0.0.0/8")};
  return c;
}

NftVerdict go(const std::string& chain) { return NftVerdict{NftVerdict::Kind::Goto, chain}; }
std::uint16_t port(int p) { return static_cast<std::uint16_t>(p); }
std::uint32_t index(int i) { return static_cast<std::uint32_t>(i); }

std::vector<NftElement> elements_of(const NftPlan& plan, const std::string& set) {
  std::vector<NftElement> out;
  for (const auto& [name, element] : plan_elements(plan)) {
    if (name == set) out.push_back(element);
  }
  return out;
}

std::vector<std::string> chain_names(const NftPlan& plan) {
  std::vector<std::string> out;
  for (const NftChain& chain : plan.chains) out.push_back(chain.name);
  return out;
}

ClusterBuilder web(std::vector<std::string> endpoints, ServiceBuilder service = ServiceBuilder("ns", "web")) {
  ClusterBuilder b;
  b.add(service.build());
  SliceBuilder slice("ns", "web");
  slice.port("http", 8080, service.build().ports.front().protocol);
  for (const std::string& ep : endpoints) slice.endpoint(ep, ep.ends_with(".1") ? "node-a" : "node-b");
  b.add(slice.build());
  return b;
}
ServiceBuilder cluster_ip() { return ServiceBuilder("ns", "web").cluster_ip("10.96.0.10").port("http", 80); }
ServiceBuilder node_port() {
  return ServiceBuilder("ns", "web").type(ServiceType::NodePort).cluster_ip("10.96.0.10")
      .port("http", 80, Protocol::Tcp, 30080);
}

NftRule pick_rule(const std::string& set, std::uint32_t count, const std::string& map) {
  const std::vector<NftField> fields = {NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport};
  return NftRule{{nft::InSet{fields, set}, nft::DnatMap{fields, count, map}}, {}};
}

const NftChain* find_chain(const NftPlan& plan, const std::string& name) {
  for (const NftChain& chain : plan.chains) {
    if (chain.name == name) return &chain;
  }
  return nullptr;
}

TEST(NftCompiler, ClusterIpServiceIsAMemberOfItsClassAndCountSets) {
  NftPlan plan = compile_nft(web({"10.1.0.1", "10.1.0.2"}, cluster_ip()).build(), config()).plan;
  const IpAddress vip = ip("10.96.0.10");
  EXPECT_THAT(elements_of(plan, "internal-cluster-destinations"),
              ElementsAre(NftElement{{vip, Protocol::Tcp, port(80)}, {}}));
  EXPECT_THAT(elements_of(plan, "cluster-count-2"), ElementsAre(NftElement{{vip, Protocol::Tcp, port(80)}, {}}));
  EXPECT_THAT(elements_of(plan, "cluster-endpoints"),
              ElementsAre(NftElement{{vip, Protocol::Tcp, port(80), index(0)}, {ip("10.1.0.1"), port(8080)}},
                          NftElement{{vip, Protocol::Tcp, port(80), index(1)}, {ip("10.1.0.2"), port(8080)}}));
  EXPECT_THAT(elements_of(plan, "hairpin"), ElementsAre(NftElement{{ip("10.1.0.1"), ip("10.1.0.1")}, {}},
                                                        NftElement{{ip("10.1.0.2"), ip("10.1.0.2")}, {}}));
}

TEST(NftCompiler, ThePickChainHasARulePerCountDnattingThroughTheEndpointMap) {
  NftPlan plan = compile_nft(web({"10.1.0.1", "10.1.0.2"}, cluster_ip()).build(), config()).plan;
  const NftChain* pick = find_chain(plan, "pick-cluster");
  ASSERT_NE(pick, nullptr);
  ASSERT_GE(pick->rules.size(), 2u);
  EXPECT_EQ(pick->rules[1], pick_rule("cluster-count-2", 2, "cluster-endpoints"));
}

TEST(NftCompiler, AnEndpointCountBeyondThePreparedOnesGetsASetAndARuleOnDemand) {
  std::vector<std::string> endpoints;
  for (int i = 1; i <= 20; ++i) endpoints.push_back("10.1.1." + std::to_string(i));
  NftPlan plan = compile_nft(web(endpoints, cluster_ip()).build(), config()).plan;
  EXPECT_THAT(elements_of(plan, "cluster-count-20"), ::testing::SizeIs(1));
  const NftChain* pick = find_chain(plan, "pick-cluster");
  ASSERT_NE(pick, nullptr);
  EXPECT_EQ(pick->rules.back(), pick_rule("cluster-count-20", 20, "cluster-endpoints"));

  NftPlan empty = compile_nft(web({}, cluster_ip()).build(), config()).plan;
  const std::vector<NftSet>& sets = empty.sets;
  EXPECT_FALSE(std::any_of(sets.begin(), sets.end(), [](const NftSet& s) { return s.name == "cluster-count-20"; }));
}

TEST(NftCompiler, TheTableIsNamedByTheConfigAndTheFamily) {
  ProxyConfig blue = config();
  blue.nftables_table = "kubenat-blue";
  NftPlan plan = compile_nft(web({"10.1.0.1"}, cluster_ip()).build(), blue).plan;
  EXPECT_EQ(plan.table, "kubenat-blue");
  EXPECT_EQ(plan.family, IpFamily::V4);
  EXPECT_EQ(compile_nft(ClusterState{}, config()).plan.table, "kubenat");
}

TEST(NftCompiler, ServiceWithoutEndpointsIsRejected) {
  NftPlan plan = compile_nft(web({}, cluster_ip()).build(), config()).plan;
  EXPECT_THAT(elements_of(plan, "no-endpoint-services"),
              ElementsAre(NftElement{{ip("10.96.0.10"), Protocol::Tcp, port(80)}, {}}));
  EXPECT_THAT(elements_of(plan, "internal-cluster-destinations"), IsEmpty());
}

TEST(NftCompiler, InternalTrafficPolicyLocalWithoutLocalEndpointsDrops) {
  NftPlan plan = compile_nft(web({"10.1.0.2"}, cluster_ip().internal_local()).build(), config()).plan;
  EXPECT_THAT(elements_of(plan, "no-local-endpoint-services"),
              ElementsAre(NftElement{{ip("10.96.0.10"), Protocol::Tcp, port(80)}, {}}));
}

TEST(NftCompiler, InternalTrafficPolicyLocalUsesTheLocalList) {
  NftPlan plan = compile_nft(web({"10.1.0.1", "10.1.0.2"}, cluster_ip().internal_local()).build(), config()).plan;
  EXPECT_THAT(elements_of(plan, "internal-local-destinations"),
              ElementsAre(NftElement{{ip("10.96.0.10"), Protocol::Tcp, port(80)}, {}}));
  EXPECT_THAT(elements_of(plan, "local-endpoints"), ElementsAre(NftElement{
                                                       {ip("10.96.0.10"), Protocol::Tcp, port(80), index(0)},
                                                       {ip("10.1.0.1"), port(8080)}}));
}

TEST(NftCompiler, NodePortWithLocalPolicyHasBothListsAndDropsWithoutLocalEndpoints) {
  auto np = ServiceBuilder("ns", "web").type(ServiceType::NodePort).cluster_ip("10.96.0.10")
                .port("http", 80, Protocol::Tcp, 30080).external_local();
  NftPlan with_local = compile_nft(web({"10.1.0.1", "10.1.0.2"}, np).build(), config()).plan;
  EXPECT_THAT(elements_of(with_local, "nodeport-local-destinations"),
              ElementsAre(NftElement{{Protocol::Tcp, port(30080)}, {}}));
  EXPECT_THAT(elements_of(with_local, "nodeport-cluster-count-2"), ElementsAre(NftElement{{Protocol::Tcp, port(30080)}, {}}));
  EXPECT_THAT(elements_of(with_local, "nodeport-local-count-1"), ElementsAre(NftElement{{Protocol::Tcp, port(30080)}, {}}));

  NftPlan without_local = compile_nft(web({"10.1.0.2"}, np).build(), config()).plan;
  EXPECT_THAT(elements_of(without_local, "no-local-endpoint-nodeports"),
              ElementsAre(NftElement{{Protocol::Tcp, port(30080)}, {}}));
  EXPECT_THAT(elements_of(without_local, "nodeport-local-count-1"), IsEmpty());
}

TEST(NftCompiler, SourceRangesFillTheFirewallSetsAndLetTheNodeIn) {
  auto lb = ServiceBuilder("ns", "web").type(ServiceType::LoadBalancer).cluster_ip("10.96.0.10")
                .port("http", 80).load_balancer_ip("203.0.113.5").source_range("192.168.0.0/24");
  NftPlan plan = compile_nft(web({"10.1.0.1"}, lb).build(), config()).plan;
  const IpAddress vip = ip("203.0.113.5");
  EXPECT_THAT(elements_of(plan, "firewall-ips"), ElementsAre(NftElement{{vip, Protocol::Tcp, port(80)}, {}}));
  EXPECT_THAT(elements_of(plan, "firewall-allow"),
              UnorderedElementsAre(NftElement{{vip, Protocol::Tcp, port(80), cidr("192.168.0.0/24")}, {}},
                                   NftElement{{vip, Protocol::Tcp, port(80), cidr("203.0.113.5/32")}, {}}));
}

TEST(NftCompiler, SessionAffinityServiceGetsNoChainOrSetOfItsOwn) {
  NftPlan with = compile_nft(web({"10.1.0.1", "10.1.0.2"}, cluster_ip().affinity()).build(), config()).plan;
  NftPlan without = compile_nft(web({"10.1.0.1", "10.1.0.2"}, cluster_ip()).build(), config()).plan;
  EXPECT_EQ(chain_names(with), chain_names(without));
  EXPECT_EQ(with.sets, without.sets);
}

TEST(NftCompiler, SessionAffinityDestinationsAreInTheirTimeoutsSet) {
  NftPlan plan = compile_nft(web({"10.1.0.1", "10.1.0.2"}, node_port().affinity()).build(), config()).plan;
  const IpAddress vip = ip("10.96.0.10");
  EXPECT_THAT(elements_of(plan, "affinity-destinations-10800"),
              ElementsAre(NftElement{{vip, Protocol::Tcp, port(80)}, {}}));
  EXPECT_THAT(elements_of(plan, "affinity-nodeports-10800"), ElementsAre(NftElement{{Protocol::Tcp, port(30080)}, {}}));
  // The first pick is the ordinary one.
  EXPECT_THAT(elements_of(plan, "cluster-count-2"), ElementsAre(NftElement{{vip, Protocol::Tcp, port(80)}, {}}));
}

TEST(NftCompiler, ServiceWithoutAffinityIsInNoAffinitySet) {
  NftPlan plan = compile_nft(web({"10.1.0.1"}, node_port()).build(), config()).plan;
  EXPECT_THAT(elements_of(plan, "affinity-destinations-10800"), IsEmpty());
  EXPECT_THAT(elements_of(plan, "affinity-nodeports-10800"), IsEmpty());
}

TEST(NftCompiler, ClassChainsSendARememberedClientBackBeforePicking) {
  NftPlan plan = compile_nft(web({"10.1.0.1"}, cluster_ip()).build(), config()).plan;
  auto chain = std::find_if(plan.chains.begin(), plan.chains.end(),
                            [](const NftChain& c) { return c.name == "internal-cluster"; });
  ASSERT_NE(chain, plan.chains.end());
  const std::vector<NftRule>& rules = chain->rules;
  ASSERT_EQ(rules.size(), 3u);  // masquerade off-cluster traffic, remembered client, pick
  using F = NftField;
  EXPECT_EQ(rules[1].statements,
            std::vector<NftStatement>{(nft::DnatMap{{F::IpSaddr, F::IpDaddr, F::MetaL4proto, F::ThDport}, 0, "affinity"})});
  EXPECT_EQ(rules[2].statements, std::vector<NftStatement>{go("pick-cluster")});
}

TEST(NftCompiler, AnotherTimeoutAddsItsSetsAndLearningRulesUntilItsLastServiceGoes) {
  NftPlan plan = compile_nft(web({"10.1.0.1"}, cluster_ip().affinity(600)).build(), config()).plan;
  EXPECT_THAT(elements_of(plan, "affinity-destinations-600"),
              ElementsAre(NftElement{{ip("10.96.0.10"), Protocol::Tcp, port(80)}, {}}));
  auto learn = [](const NftPlan& p) {
    std::vector<std::uint32_t> timeouts;
    for (const NftChain& chain : p.chains) {
      if (chain.name != "affinity-learn") continue;
      for (const NftRule& rule : chain.rules) {
        for (const NftStatement& statement : rule.statements) {
          if (const auto* update = std::get_if<nft::UpdateSet>(&statement)) timeouts.push_back(*update->timeout_seconds);
        }
      }
    }
    return std::set<std::uint32_t>(timeouts.begin(), timeouts.end());
  };
  EXPECT_EQ(learn(plan), (std::set<std::uint32_t>{600, 10800}));

  ClusterState gone = web({"10.1.0.1"}, cluster_ip().affinity(600)).build();
  gone.services.clear();
  recompile_services_nft(plan, gone, config(), {{"ns", "web"}});
  EXPECT_EQ(plan, compile_nft(gone, config()).plan);
  EXPECT_EQ(learn(plan), (std::set<std::uint32_t>{10800}));
  std::vector<std::string> sets;
  for (const NftSet& set : plan.sets) sets.push_back(set.name);
  EXPECT_THAT(sets, Not(Contains("affinity-destinations-600")));
}

TEST(NftCompiler, AffinityTargetsListTheEndpointsEachKindOfClientMayBeSentTo) {
  NftPlan plan =
      compile_nft(web({"10.1.0.1", "10.1.0.2"}, node_port().affinity().external_local()).build(), config()).plan;
  const auto& rules = *plan.service_ports.begin()->second;
  ASSERT_EQ(rules.affinity.size(), 2u);  // the cluster IP, the NodePort
  const NftEndpoint local{ip("10.1.0.1"), port(8080)};
  const NftEndpoint remote{ip("10.1.0.2"), port(8080)};
  EXPECT_EQ(rules.affinity[0].destination, (NftDestination{std::nullopt, Protocol::Tcp, port(30080)}));
  EXPECT_THAT(rules.affinity[0].from_cluster, ElementsAre(local, remote));
  EXPECT_THAT(rules.affinity[0].from_outside, ElementsAre(local));
  EXPECT_EQ(rules.affinity[1].destination, (NftDestination{ip("10.96.0.10"), Protocol::Tcp, port(80)}));
  EXPECT_THAT(rules.affinity[1].from_outside, ElementsAre(local, remote));
}

TEST(NftCompiler, OneMoreEndpointIsAFewElementsWithoutVerdictsAndNoRule) {
  NftPlan before = compile_nft(web({"10.1.0.1", "10.1.0.2"}, cluster_ip()).build(), config()).plan;
  NftPlan after = compile_nft(web({"10.1.0.1", "10.1.0.2", "10.1.0.3"}, cluster_ip()).build(), config()).plan;
  NftChange change = diff_nft(before, after);
  const IpAddress vip = ip("10.96.0.10");
  EXPECT_THAT(change.elements_removed,
              ElementsAre(NftSetElement{"cluster-count-2", {{vip, Protocol::Tcp, port(80)}, {}}}));
  EXPECT_THAT(change.elements_added,
              UnorderedElementsAre(
                  NftSetElement{"cluster-count-3", {{vip, Protocol::Tcp, port(80)}, {}}},
                  NftSetElement{"cluster-endpoints", {{vip, Protocol::Tcp, port(80), index(2)}, {ip("10.1.0.3"), port(8080)}}},
                  NftSetElement{"hairpin", {{ip("10.1.0.3"), ip("10.1.0.3")}, {}}}));
  // No chain, set or verdict changes: the kernel has nothing to validate.
  EXPECT_THAT(change.chains_added, IsEmpty());
  EXPECT_THAT(change.chains_removed, IsEmpty());
  EXPECT_THAT(change.chains_replaced, IsEmpty());
  EXPECT_THAT(change.sets_added, IsEmpty());
}

TEST(NftCompiler, HairpinPairStaysWhileAnyServiceUsesTheEndpoint) {
  ClusterBuilder both = web({"10.1.0.1"}, cluster_ip());
  both.add(ServiceBuilder("ns", "api").cluster_ip("10.96.0.11").port("http", 80))
      .add(SliceBuilder("ns", "api").port("http", 8080).endpoint("10.1.0.1", "node-a"));
  NftPlan before = compile_nft(both.build(), config()).plan;
  ClusterState after_state = both.build();
  after_state.services.erase({"ns", "api"});
  NftPlan after = compile_nft(after_state, config()).plan;
  NftChange change = diff_nft(before, after);
  EXPECT_THAT(change.elements_removed, Not(Contains(NftSetElement{"hairpin", {{ip("10.1.0.1"), ip("10.1.0.1")}, {}}})));
  EXPECT_EQ(after.hairpin_refs.refs(ip("10.1.0.1")), 1u);
}

TEST(NftCompiler, IdenticalPlansGiveNoChange) {
  ClusterState state = web({"10.1.0.1"}, cluster_ip().affinity()).build();
  EXPECT_TRUE(diff_nft(compile_nft(state, config()).plan, compile_nft(state, config()).plan).empty());
}

TEST(NftCompiler, AWholeCompileSharesTheUnchangedFragmentsOfThePlanItReplaces) {
  ClusterBuilder both = web({"10.1.0.1"}, cluster_ip());
  both.add(ServiceBuilder("ns", "api").cluster_ip("10.96.0.11").port("http", 80))
      .add(SliceBuilder("ns", "api").port("http", 8080).endpoint("10.1.0.1", "node-a"));
  const NftPlan before = compile_nft(both.build(), config()).plan;
  ClusterState changed = both.build();
  changed.services.at({"ns", "web"}).ports.front().port = 81;
  const NftPlan after = compile_nft(changed, config(), &before).plan;
  const ServicePortName api{{"ns", "api"}, "http", Protocol::Tcp};
  const ServicePortName web_port{{"ns", "web"}, "http", Protocol::Tcp};
  EXPECT_EQ(after.service_ports.at(api), before.service_ports.at(api));  // the same object
  EXPECT_NE(*after.service_ports.at(web_port), *before.service_ports.at(web_port));
  EXPECT_EQ(after, compile_nft(changed, config()).plan);
}

// Elements with the same key in one set: the kernel refuses the second.
std::vector<NftSetElement> duplicate_keys(const NftPlan& plan) {
  std::map<std::pair<std::string, std::vector<NftValue>>, int> seen;
  std::vector<NftSetElement> duplicates;
  for (const auto& [set, element] : plan_elements(plan)) {
    if (++seen[{set, element.key}] == 2) duplicates.emplace_back(set, element);
  }
  return duplicates;
}

using Pick = std::function<int(int)>;

// Random changes to a few Services (made by `make_service`) and their
// endpoints, each recompiled in place: the plan always equals a complete
// compile, holds no key twice, and diffs the same.
void expect_recompiling_equals_a_complete_compile(
    unsigned seed, int steps, int services, const std::function<Service(const ObjectName&, int, const Pick&)>& make_service) {
  std::mt19937 rng(seed);
  const Pick pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  ClusterState state;
  NftPlan plan = compile_nft(state, config()).plan;
  for (int step = 0; step < steps; ++step) {
    const int i = pick(services);
    const ObjectName id{"ns", "svc" + std::to_string(i)};
    if (pick(4) == 0) {
      state.services.erase(id);
    } else if (pick(3) == 0 || !state.services.contains(id)) {
      state.services[id] = make_service(id, i, pick);
    } else {
      SliceBuilder slice("ns", id.name);
      slice.port("p", 8080, state.services[id].ports[0].protocol);
      const int n = pick(5);
      for (int e = 0; e < n; ++e) slice.endpoint("10.3.0." + std::to_string(pick(6) + 1), pick(2) ? "node-a" : "node-b");
      state.slices[id].clear();
      state.put_slice(slice.build());
    }
    const NftPlan before = plan;
    const std::set<ServicePortName> touched = recompile_services_nft(plan, state, config(), {id});
    const NftPlan complete = compile_nft(state, config()).plan;
    ASSERT_EQ(plan, complete) << "step " << step;
    ASSERT_EQ(plan.claims, complete.claims) << "step " << step;
    ASSERT_THAT(duplicate_keys(plan), IsEmpty()) << "step " << step;
    ASSERT_EQ(diff_nft(before, plan, touched), diff_nft(before, complete)) << "step " << step;
  }
}

TEST(NftCompiler, RecompilingChangedServicesEqualsACompleteCompileAndDiffsTheSame) {
  expect_recompiling_equals_a_complete_compile(11, 300, 10, [](const ObjectName& id, int i, const Pick& pick) {
    ServiceBuilder s("ns", id.name);
    s.cluster_ip("10.96.1." + std::to_string(i + 1)).port("p", 80, pick(2) ? Protocol::Udp : Protocol::Tcp,
                                                       pick(2) ? 30000 + i : 0);
    if (pick(2)) s.type(ServiceType::NodePort);
    if (pick(3) == 0) s.external_local();
    if (pick(4) == 0) s.affinity(60);
    return s.build();
  });
}

TEST(NftCompiler, RecompilingServicesThatShareDestinationsEqualsACompleteCompile) {
  expect_recompiling_equals_a_complete_compile(17, 400, 8, [](const ObjectName& id, int i, const Pick& pick) {
    // Few NodePorts and external IPs to go around: they collide often.
    ServiceBuilder s("ns", id.name);
    s.cluster_ip("10.96.1." + std::to_string(i + 1)).port("p", 80, Protocol::Tcp, pick(2) ? 30000 + pick(3) : 0);
    s.type(ServiceType::NodePort);
    if (pick(2)) s.external_ip("172.16.0." + std::to_string(pick(3) + 1));
    if (pick(3) == 0) s.external_local();
    return s.build();
  });
}

ClusterState two_services_on_node_port_30080() {
  ClusterBuilder b;
  for (const char* name : {"alpha", "beta"}) {
    const std::string vip = std::string("10.96.0.") + (name[0] == 'a' ? "1" : "2");
    b.add(ServiceBuilder("ns", name).type(ServiceType::NodePort).cluster_ip(vip).port("http", 80, Protocol::Tcp, 30080).build());
    SliceBuilder slice("ns", name);
    slice.port("http", 8080);
    slice.endpoint(name[0] == 'a' ? "10.1.0.1" : "10.1.0.2", "node-a");
    b.add(slice.build());
  }
  return b.build();
}

TEST(NftCompiler, ADestinationClaimedTwiceIsServedForTheFirstServiceByName) {
  const NftCompileResult result = compile_nft(two_services_on_node_port_30080(), config());
  EXPECT_THAT(duplicate_keys(result.plan), IsEmpty());
  EXPECT_THAT(elements_of(result.plan, "nodeport-cluster-endpoints"),
              ElementsAre(NftElement{{Protocol::Tcp, port(30080), index(0)}, {ip("10.1.0.1"), port(8080)}}));
  // The other service keeps its cluster IP.
  EXPECT_THAT(elements_of(result.plan, "internal-cluster-destinations"),
              Contains(NftElement{{ip("10.96.0.2"), Protocol::Tcp, port(80)}, {}}));
}

TEST(NftCompiler, TheServiceLeftWithoutADestinationIsWarnedAboutByField) {
  const NftCompileResult result = compile_nft(two_services_on_node_port_30080(), config());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].object, "Service ns/beta");
  EXPECT_EQ(result.diagnostics[0].field, "spec.ports[].nodePort");
  EXPECT_THAT(result.diagnostics[0].message, ::testing::HasSubstr("NodePort 30080/tcp"));
  EXPECT_THAT(result.diagnostics[0].message, ::testing::HasSubstr("ns/alpha:http"));
}

TEST(NftCompiler, RemovingTheServedServiceHandsItsDestinationToTheNext) {
  ClusterState state = two_services_on_node_port_30080();
  NftPlan plan = compile_nft(state, config()).plan;
  const NftPlan before = plan;
  state.services.erase(ObjectName{"ns", "alpha"});
  const std::set<ServicePortName> touched = recompile_services_nft(plan, state, config(), {ObjectName{"ns", "alpha"}});
  EXPECT_THAT(touched, Contains(ServicePortName{ObjectName{"ns", "beta"}, "http", Protocol::Tcp}));
  const NftChange change = diff_nft(before, plan, touched);
  EXPECT_THAT(change.elements_added,
              Contains(NftSetElement{"nodeport-cluster-endpoints",
                                     {{Protocol::Tcp, port(30080), index(0)}, {ip("10.1.0.2"), port(8080)}}}));
  EXPECT_EQ(plan, compile_nft(state, config()).plan);
}

TEST(NftCompiler, AServiceEarlierByNameTakesTheDestinationFromTheOneServedThere) {
  ClusterState state = two_services_on_node_port_30080();
  const Service alpha = state.services.at(ObjectName{"ns", "alpha"});
  state.services.erase(ObjectName{"ns", "alpha"});
  NftPlan plan = compile_nft(state, config()).plan;
  state.services[alpha.id] = alpha;
  const std::set<ServicePortName> touched = recompile_services_nft(plan, state, config(), {alpha.id});
  EXPECT_THAT(touched, Contains(ServicePortName{ObjectName{"ns", "beta"}, "http", Protocol::Tcp}));
  EXPECT_THAT(duplicate_keys(plan), IsEmpty());
  EXPECT_EQ(plan, compile_nft(state, config()).plan);
}

TEST(NftCompiler, AnExternalIpEqualToTheClusterIpIsOneDestination) {
  NftPlan plan =
      compile_nft(web({"10.1.0.1"}, cluster_ip().external_ip("10.96.0.10").external_ip("10.96.0.10")).build(), config())
          .plan;
  EXPECT_THAT(duplicate_keys(plan), IsEmpty());
  EXPECT_THAT(elements_of(plan, "internal-cluster-destinations"),
              ElementsAre(NftElement{{ip("10.96.0.10"), Protocol::Tcp, port(80)}, {}}));
  EXPECT_THAT(elements_of(plan, "external-cluster-destinations"), IsEmpty());
}

}  // namespace
}  // namespace kubenat
