// Start-up on a node that already has rules: kubenat adopts the kernel's
// state, removes the per-service chains an earlier run or kube-proxy left,
// and never touches rules it does not own.

#include <gtest/gtest.h>
#include <unistd.h>

#include "engine/network_namespace.h"
#include "tests/e2e/netns_world.h"
#include "tests/e2e/proxy_driver.h"
#include "tests/support/cluster_builder.h"

namespace kubenat::e2e {
namespace {

using namespace kubenat::testing;

// What kube-proxy (or an earlier kubenat) leaves: a service chain and its
// endpoint chain, reached from KUBE-SERVICES; and what others own: a DOCKER
// chain and a rule of the administrator's in INPUT.
constexpr const char* kLeftovers =
    "*filter\n"
    ":DOCKER - [0:0]\n"
    "-A DOCKER -d 172.17.0.2/32 -p tcp -m tcp --dport 5000 -j ACCEPT\n"
    "-A INPUT -s 198.51.100.7/32 -j DROP\n"
    "COMMIT\n"
    "*nat\n"
    ":KUBE-SERVICES - [0:0]\n"
    ":KUBE-MARK-MASQ - [0:0]\n"
    ":KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"
    ":KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n"
    ":KUBE-XLB-CCCCCCCCCCCCCCCC - [0:0]\n"
    ":DOCKER - [0:0]\n"
    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A KUBE-SERVICES -d 10.96.7.7/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-AAAAAAAAAAAAAAAA\n"
    "-A KUBE-SVC-AAAAAAAAAAAAAAAA -j KUBE-SEP-BBBBBBBBBBBBBBBB\n"
    "-A KUBE-XLB-CCCCCCCCCCCCCCCC -j KUBE-SEP-BBBBBBBBBBBBBBBB\n"
    "-A KUBE-SEP-BBBBBBBBBBBBBBBB -p tcp -m tcp -j DNAT --to-destination 10.200.9.9:80\n"
    "-A DOCKER -i docker0 -j RETURN\n"
    "COMMIT\n";

class AdoptionTest : public ::testing::TestWithParam<DriverKind> {};

TEST_P(AdoptionTest, StartupRemovesStaleServiceChainsAndKeepsForeignRules) {
  KUBENAT_REQUIRE_NETNS();
  static int counter = 0;
  auto node = ScopedNetworkNamespace::create("kn" + std::to_string(::getpid()) + "a" + std::to_string(counter++) + "-node");
  ASSERT_TRUE(node) << node.error();
  ProxyConfig config;
  config.node_name = "test-node";
  config.cluster_cidrs = {cidr("10.200.0.0/16")};
  std::unique_ptr<ProxyDriver> driver = GetParam().make(node->name(), config);
  auto seeded = driver->write_foreign_rules(kLeftovers);
  ASSERT_TRUE(seeded) << seeded.error();

  ClusterState state = ClusterBuilder()
                           .add(ServiceBuilder("shop", "web").cluster_ip("10.96.0.10").port("http", 80))
                           .add(SliceBuilder("shop", "web").port("http", 8080).endpoint("10.200.1.10"))
                           .build();
  auto synced = driver->sync(state);
  ASSERT_TRUE(synced) << synced.error();
  EXPECT_TRUE(synced->full);

  auto rules = driver->normalized_rules();
  ASSERT_TRUE(rules) << rules.error();
  EXPECT_EQ(rules->find("KUBE-SVC-AAAAAAAAAAAAAAAA"), std::string::npos) << *rules;
  EXPECT_EQ(rules->find("KUBE-SEP-BBBBBBBBBBBBBBBB"), std::string::npos) << *rules;
  EXPECT_EQ(rules->find("KUBE-XLB-CCCCCCCCCCCCCCCC"), std::string::npos) << *rules;
  EXPECT_EQ(rules->find("10.96.7.7"), std::string::npos) << *rules;
  EXPECT_NE(rules->find("-A DOCKER -d 172.17.0.2/32 -p tcp -m tcp --dport 5000 -j ACCEPT"), std::string::npos);
  EXPECT_NE(rules->find("-A DOCKER -i docker0 -j RETURN"), std::string::npos);
  EXPECT_NE(rules->find("-A INPUT -s 198.51.100.7/32 -j DROP"), std::string::npos);
  EXPECT_NE(rules->find("\"shop/web:http cluster IP\""), std::string::npos) << *rules;
  // The jump kube-proxy left in PREROUTING is kubenat's own: kept once.
  const std::string jump = "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES";
  const std::size_t first = rules->find(jump);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(rules->find(jump, first + 1), std::string::npos) << *rules;
}

// The leftovers above are iptables rules; the nftables backend owns a table
// of its own (its start-up is tested with the netlink backend).
std::vector<DriverKind> iptables_kinds() {
  std::vector<DriverKind> kinds;
  for (DriverKind& kind : all_driver_kinds()) {
    if (kind.backend != ProxyDriver::Backend::Nftables) kinds.push_back(std::move(kind));
  }
  return kinds;
}

INSTANTIATE_TEST_SUITE_P(Backends, AdoptionTest, ::testing::ValuesIn(iptables_kinds()),
                         [](const ::testing::TestParamInfo<DriverKind>& param) { return param.param.name; });

}  // namespace
}  // namespace kubenat::e2e
