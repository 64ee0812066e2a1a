// Recompiling only the Services that changed must give exactly what a
// complete compile of the new state gives.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "rules/iptables/compiler.h"
#include "rules/iptables/render.h"
#include "rules/iptables/save.h"
#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace kubenat::testing;

ProxyConfig config() {
  ProxyConfig c;
  c.node_name = "node-a";
  c.cluster_cidrs = {cidr("10.0.0.0/8")};
  return c;
}

ClusterBuilder base() {
  ClusterBuilder b;
  b.add(ServiceBuilder("ns", "one").cluster_ip("10.96.0.1").port("http", 80).port("dns", 53, Protocol::Udp))
      .add(SliceBuilder("ns", "one").port("http", 8080).port("dns", 53, Protocol::Udp).endpoint("10.1.0.1", "node-a"))
      .add(ServiceBuilder("ns", "two").type(ServiceType::NodePort).cluster_ip("10.96.0.2").port("http", 80, Protocol::Tcp, 30002))
      .add(SliceBuilder("ns", "two").port("http", 8080).endpoint("10.1.0.2"));
  return b;
}

TEST(RecompileServices, ChangedEndpointsGiveTheSamePlanAsACompleteCompile) {
  IptablesPlan plan = compile_iptables(base().build(), config()).plan;
  ClusterState next = base().add(SliceBuilder("ns", "two").port("http", 8080).endpoint("10.1.0.2").endpoint("10.1.0.3")).build();
  auto touched = recompile_services(plan, next, config(), {{"ns", "two"}});
  ASSERT_TRUE(touched);
  EXPECT_THAT(*touched, ElementsAre(ServicePortName{{"ns", "two"}, "http", Protocol::Tcp}));
  EXPECT_EQ(plan, compile_iptables(next, config()).plan);
}

TEST(RecompileServices, DeletedServiceLeavesThePlan) {
  IptablesPlan plan = compile_iptables(base().build(), config()).plan;
  ClusterState next = base().build();
  next.services.erase({"ns", "one"});
  auto touched = recompile_services(plan, next, config(), {{"ns", "one"}});
  ASSERT_TRUE(touched);
  EXPECT_EQ(touched->size(), 2u);
  EXPECT_EQ(plan, compile_iptables(next, config()).plan);
}

TEST(RecompileServices, AddedServiceJoinsThePlan) {
  IptablesPlan plan = compile_iptables(base().build(), config()).plan;
  ClusterState next = base().add(ServiceBuilder("ns", "three").cluster_ip("10.96.0.3").port("", 443)).build();
  auto touched = recompile_services(plan, next, config(), {{"ns", "three"}});
  ASSERT_TRUE(touched);
  EXPECT_EQ(plan, compile_iptables(next, config()).plan);
}

TEST(RecompileServices, UnchangedServicesKeepTheirFragmentObjects) {
  IptablesPlan plan = compile_iptables(base().build(), config()).plan;
  const auto before = plan.service_ports.at(ServicePortName{{"ns", "one"}, "http", Protocol::Tcp});
  ClusterState next = base().add(SliceBuilder("ns", "two").port("http", 8080)).build();
  ASSERT_TRUE(recompile_services(plan, next, config(), {{"ns", "two"}}));
  EXPECT_EQ(plan.service_ports.at(ServicePortName{{"ns", "one"}, "http", Protocol::Tcp}), before);
}

TEST(RecompileServices, CrossingTheLargeClusterThresholdAsksForACompleteCompile) {
  ProxyConfig c = config();
  c.large_cluster_endpoints_threshold = 3;  // the base cluster has 3 endpoints, the next 4
  IptablesPlan plan = compile_iptables(base().build(), c).plan;
  ASSERT_FALSE(plan.large_cluster_mode);
  ClusterState next =
      base().add(SliceBuilder("ns", "two").port("http", 8080).endpoint("10.1.0.2").endpoint("10.1.0.3")).build();
  EXPECT_FALSE(recompile_services(plan, next, c, {{"ns", "two"}}));
}

TEST(RecompileServices, NothingNamedNothingTouched) {
  IptablesPlan plan = compile_iptables(base().build(), config()).plan;
  auto touched = recompile_services(plan, base().build(), config(), {});
  ASSERT_TRUE(touched);
  EXPECT_THAT(*touched, IsEmpty());
}

TEST(RecompileServices, RandomEditsStayEqualToCompleteCompiles) {
  std::mt19937 rng(7);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  ClusterState state;
  IptablesPlan plan = compile_iptables(state, config()).plan;
  for (int step = 0; step < 300; ++step) {
    const int index = pick(12);
    const ObjectName id{"ns" + std::to_string(index % 3), "svc" + std::to_string(index)};
    switch (pick(4)) {
      case 0: {
        ServiceBuilder svc(id.namespace_, id.name);
        svc.cluster_ip("10.96.1." + std::to_string(index + 1)).port("p", 80, pick(2) ? Protocol::Udp : Protocol::Tcp,
                                                                 pick(2) ? 30000 + index : 0);
        if (pick(2)) svc.type(ServiceType::NodePort).external_local();
        state.services[id] = svc.build();
        break;
      }
      case 1:
        state.services.erase(id);
        break;
      default: {
        SliceBuilder slice(id.namespace_, id.name);
        slice.port("p", 8080, state.services.contains(id) ? state.services[id].ports[0].protocol : Protocol::Tcp);
        const int endpoints = pick(4);
        for (int e = 0; e < endpoints; ++e) slice.endpoint("10.2." + std::to_string(index) + "." + std::to_string(pick(9) + 1), pick(2) ? "node-a" : "node-b");
        state.slices[id].clear();
        state.put_slice(slice.build());
      }
    }
    auto touched = recompile_services(plan, state, config(), {id});
    if (!touched) plan = compile_iptables(state, config()).plan;
    ASSERT_EQ(plan, compile_iptables(state, config()).plan) << "step " << step;
  }
}

}  // namespace
}  // namespace kubenat

namespace kubenat {
namespace {

// The rules of `table` in the plan's own chains, counted in its rendering.
std::size_t rendered_rules(const IptablesPlan& plan, const std::string& table) {
  const auto tables = parse_iptables_save(render_iptables_restore(plan));
  std::size_t count = 0;
  for (const auto& [chain, rules] : tables.at(table).rules) {
    if (chain.starts_with("KUBE-")) count += rules.size();
  }
  return count;
}

TEST(RuleCount, IsWhatThePlanWritesIntoItsOwnChainsAndFollowsRecompiles) {
  const ClusterState state =
      base()
          .add(ServiceBuilder("ns", "lb")
                   .type(ServiceType::LoadBalancer)
                   .cluster_ip("10.96.0.3")
                   .port("http", 80, Protocol::Tcp, 30003)
                   .load_balancer_ip("203.0.113.3")
                   .source_range("198.51.100.0/24")
                   .external_local()
                   .health_check_node_port(32003))
          .add(SliceBuilder("ns", "lb").port("http", 8080).endpoint("10.1.0.4", "node-a").endpoint("10.1.0.5"))
          .build();
  IptablesPlan plan = compile_iptables(state, config()).plan;
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    EXPECT_EQ(plan.rule_count(table), rendered_rules(plan, std::string(table_name(table)))) << table_name(table);
  }
  ASSERT_TRUE(recompile_services(plan, base().build(), config(), {{"ns", "lb"}}));
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    EXPECT_EQ(plan.rule_count(table), rendered_rules(plan, std::string(table_name(table)))) << table_name(table);
  }
}

}  // namespace
}  // namespace kubenat
