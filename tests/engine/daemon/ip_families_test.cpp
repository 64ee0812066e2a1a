// Which families one daemon proxies: the node's own first, the other when
// the node has it too.

#include "engine/daemon/ip_families.h"

#include <gtest/gtest.h>

namespace kubenat {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
Cidr cidr(const char* text) { return *Cidr::parse(text); }

Node node_with(std::vector<NodeAddress> addresses) {
  Node node;
  node.name = "worker-1";
  node.addresses = std::move(addresses);
  return node;
}

const std::vector<IpFamily> kV4 = {IpFamily::V4};
const std::vector<IpFamily> kV6 = {IpFamily::V6};
const std::vector<IpFamily> kV4ThenV6 = {IpFamily::V4, IpFamily::V6};
const std::vector<IpFamily> kV6ThenV4 = {IpFamily::V6, IpFamily::V4};

TEST(IpFamilies, NothingKnownIsIpv4Alone) { EXPECT_EQ(ip_families({}, {}, std::nullopt), kV4); }

TEST(IpFamilies, ASingleStackNodeProxiesItsOwnFamilyAlone) {
  EXPECT_EQ(ip_families({ip("10.0.0.5")}, {cidr("10.244.0.0/16")}, std::nullopt), kV4);
  EXPECT_EQ(ip_families({}, {}, node_with({{"InternalIP", "fd00::5"}})), kV6);
}

TEST(IpFamilies, NodeIpsOfBothFamiliesMakeItDualStackWithTheFirstPrimary) {
  EXPECT_EQ(ip_families({ip("fd00::5"), ip("10.0.0.5")}, {}, std::nullopt), kV6ThenV4);
  EXPECT_EQ(ip_families({ip("10.0.0.5"), ip("fd00::5")}, {}, std::nullopt), kV4ThenV6);
}

TEST(IpFamilies, ClusterCidrsOfBothFamiliesMakeItDualStack) {
  EXPECT_EQ(ip_families({ip("10.0.0.5")}, {cidr("10.244.0.0/16"), cidr("fd00:244::/56")}, std::nullopt), kV4ThenV6);
  EXPECT_EQ(ip_families({}, {cidr("fd00:244::/56"), cidr("10.244.0.0/16")}, std::nullopt), kV6ThenV4);
}

TEST(IpFamilies, TheNodeObjectsAddressesOfBothFamiliesMakeItDualStack) {
  const Node node = node_with({{"InternalIP", "10.0.0.5"}, {"InternalIP", "fd00::5"}});
  EXPECT_EQ(ip_families({}, {}, node), kV4ThenV6);
}

TEST(IpFamilies, TheFlagsNodeIpIsPrimaryOverTheNodeObjects) {
  const Node node = node_with({{"InternalIP", "10.0.0.5"}, {"InternalIP", "fd00::5"}});
  EXPECT_EQ(ip_families({ip("fd00::5")}, {}, node), kV6ThenV4);
}

TEST(IpFamilies, AnExternalIpCountsWhenThereIsNoInternalOne) {
  const Node node = node_with({{"Hostname", "worker-1"}, {"ExternalIP", "fd00::9"}});
  EXPECT_EQ(ip_families({}, {}, node), kV6);
}

TEST(IpFamilies, OnlyFlagsOfBothFamiliesAreDualStackByFlags) {
  EXPECT_FALSE(dual_stack_by_flags({ip("10.0.0.5")}, {cidr("10.244.0.0/16")}));
  EXPECT_TRUE(dual_stack_by_flags({ip("10.0.0.5")}, {cidr("fd00:244::/56")}));
}

}  // namespace
}  // namespace kubenat
