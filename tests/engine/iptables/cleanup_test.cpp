// Removing kube-proxy's chains from an iptables that holds everything the
// iptables mode writes, plus other people's rules.

#include "engine/iptables/cleanup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/iptables/backend.h"
#include "rules/iptables/compiler.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/fake_iptables.h"

namespace kubenat {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace kubenat::testing;

const std::vector<std::string> kTables = {"mangle", "nat", "filter"};

constexpr const char* kOthers =
    "*filter\n"
    ":DOCKER-USER - [0:0]\n"
    "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
    "-A FORWARD -j DOCKER-USER\n"
    "-A DOCKER-USER -j RETURN\n"
    "COMMIT\n"
    "*nat\n"
    ":DOCKER - [0:0]\n"
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"
    "-A DOCKER -i docker0 -j RETURN\n"
    "COMMIT\n";

// What kubenat's iptables mode writes for a ClusterIP, a NodePort and a
// LoadBalancer with source ranges (every chain kind), with localhost NodePorts.
void write_proxy_rules(FakeIptables& iptables, IpFamily family) {
  const bool v4 = family == IpFamily::V4;
  ClusterBuilder cluster;
  cluster.add(ServiceBuilder("ns", "api").cluster_ip(v4 ? "172.30.0.1" : "fd00:30::1").port("http", 80))
      .add(SliceBuilder("ns", "api").port("http", 8080).endpoint(v4 ? "10.180.0.1" : "fd00:180::1"))
      .add(ServiceBuilder("ns", "web")
               .type(ServiceType::LoadBalancer)
               .cluster_ip(v4 ? "172.30.0.2" : "fd00:30::2")
               .port("http", 80, Protocol::Tcp, 30080)
               .load_balancer_ip(v4 ? "203.0.113.7" : "2001:db8::7")
               .source_range(v4 ? "198.51.100.0/24" : "2001:db8:1::/48")
               .external_local()
               .health_check_node_port(32000))
      .add(SliceBuilder("ns", "web").port("http", 8080).endpoint(v4 ? "10.180.0.2" : "fd00:180::2", "test-node"));
  ProxyConfig config;
  config.node_name = "test-node";
  config.family = family;
  config.cluster_cidrs = {cidr(v4 ? "10.0.0.0/8" : "fd00::/16")};
  IptablesBackend backend(iptables, family);
  auto applied = backend.apply_full(compile_iptables(cluster.build(), config).plan);
  ASSERT_TRUE(applied) << applied.error().message;
}

// Every chain and rule of the three tables that names a KUBE- chain.
std::vector<std::string> kube_lines(FakeIptables& iptables, IpFamily family) {
  std::vector<std::string> out;
  for (const std::string& table : kTables) {
    for (const std::string& chain : iptables.chains(table, family)) {
      if (chain.starts_with("KUBE-")) out.push_back(table + " :" + chain);
      for (const std::string& rule : iptables.rules(table, chain, family)) {
        if (rule.find("KUBE-") != std::string::npos) out.push_back(table + " -A " + chain + " " + rule);
      }
    }
  }
  return out;
}

TEST(RemoveIptablesLeftovers, TakesAllThatIptablesModeWritesFromANodeWithoutAKubelet) {
  FakeIptables iptables;
  write_proxy_rules(iptables, IpFamily::V4);
  ASSERT_THAT(kube_lines(iptables, IpFamily::V4), Contains("nat :KUBE-SERVICES"));
  ASSERT_THAT(kube_lines(iptables, IpFamily::V4), Contains("filter :KUBE-FIREWALL"));
  auto removed = remove_iptables_leftovers(iptables, IpFamily::V4, kTables);
  ASSERT_TRUE(removed) << removed.error();
  EXPECT_GT(removed->chains, 10u);
  EXPECT_GT(removed->jumps, 5u);
  EXPECT_THAT(kube_lines(iptables, IpFamily::V4), IsEmpty());
}

TEST(RemoveIptablesLeftovers, LeavesTheKubeletsChainsWhereTheKubeletIs) {
  FakeIptables iptables;
  iptables.seed("*mangle\n:KUBE-IPTABLES-HINT - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n");
  write_proxy_rules(iptables, IpFamily::V4);
  ASSERT_TRUE(remove_iptables_leftovers(iptables, IpFamily::V4, kTables));
  const std::vector<std::string> left = kube_lines(iptables, IpFamily::V4);
  EXPECT_THAT(left, Contains("mangle :KUBE-IPTABLES-HINT"));
  EXPECT_THAT(left, Contains("mangle :KUBE-KUBELET-CANARY"));
  EXPECT_THAT(left, Contains("filter :KUBE-FIREWALL"));
  EXPECT_THAT(left, Contains("filter -A INPUT -j KUBE-FIREWALL"));
  for (const std::string& line : left) {
    EXPECT_TRUE(line.find("KUBE-FIREWALL") != std::string::npos || line.find("KUBELET") != std::string::npos ||
                line.find("HINT") != std::string::npos)
        << "left: " << line;
  }
}

TEST(RemoveIptablesLeftovers, KeepsEveryoneElsesChainsAndRules) {
  FakeIptables iptables;
  iptables.seed(kOthers);
  write_proxy_rules(iptables, IpFamily::V4);
  ASSERT_TRUE(remove_iptables_leftovers(iptables, IpFamily::V4, kTables));
  EXPECT_THAT(iptables.rules("filter", "INPUT"), Contains("-p tcp -m tcp --dport 22 -j ACCEPT"));
  EXPECT_THAT(iptables.rules("filter", "FORWARD"), Contains("-j DOCKER-USER"));
  EXPECT_THAT(iptables.rules("filter", "DOCKER-USER"), ElementsAre("-j RETURN"));
  EXPECT_THAT(iptables.rules("nat", "PREROUTING"), ElementsAre("-m addrtype --dst-type LOCAL -j DOCKER"));
  EXPECT_THAT(iptables.rules("nat", "DOCKER"), ElementsAre("-i docker0 -j RETURN"));
}

TEST(RemoveIptablesLeftovers, CleansIp6tablesToo) {
  FakeIptables iptables;
  write_proxy_rules(iptables, IpFamily::V6);
  ASSERT_TRUE(remove_iptables_leftovers(iptables, IpFamily::V6, kTables));
  EXPECT_THAT(kube_lines(iptables, IpFamily::V6), IsEmpty()) << "no localnet guard in IPv6";
}

TEST(RemoveIptablesLeftovers, ACleanNodeTakesNoRestore) {
  FakeIptables iptables;
  iptables.seed(kOthers);
  auto removed = remove_iptables_leftovers(iptables, IpFamily::V4, kTables);
  ASSERT_TRUE(removed) << removed.error();
  EXPECT_EQ(removed->chains, 0u);
  EXPECT_THAT(iptables.restores(), IsEmpty());
}

TEST(RemoveIptablesLeftovers, ARefusedTableIsNamedAndChangesNothing) {
  FakeIptables iptables;
  write_proxy_rules(iptables, IpFamily::V4);
  iptables.fail_next_restore_at_line_containing("-X KUBE-MARK-MASQ");
  auto removed = remove_iptables_leftovers(iptables, IpFamily::V4, {"nat"});
  ASSERT_FALSE(removed);
  EXPECT_THAT(removed.error(), ::testing::StartsWith("table nat: "));
  EXPECT_TRUE(iptables.has_chain("nat", "KUBE-SERVICES"));
}

}  // namespace
}  // namespace kubenat
