// NftUdpTargets: a UDP port's conntrack targets, held apart from its
// fragment, read and compare as the std::optional they replace.

#include <gtest/gtest.h>

#include "rules/nftables/plan.h"

namespace kubenat {
namespace {

NftUdpTargets targets(int port) {
  NftUdpTargets out;
  UdpFlowTargets& udp = out.emplace();
  udp.destinations = {*IpAddress::parse("10.96.0.10")};
  udp.port = port;
  udp.endpoints = {"10.1.0.1:53"};
  return out;
}

TEST(NftUdpTargets, NoneUntilEmplaced) {
  const NftUdpTargets none;
  EXPECT_FALSE(none);
  EXPECT_EQ(none, NftUdpTargets{});
  EXPECT_NE(none, targets(53));
}

TEST(NftUdpTargets, ComparesByContentNotByWhereItIsHeld) {
  EXPECT_EQ(targets(53), targets(53));
  EXPECT_NE(targets(53), targets(54));
  const NftUdpTargets held = targets(53);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->port, 53);
  EXPECT_EQ((*held).endpoints, std::vector<std::string>{"10.1.0.1:53"});
}

}  // namespace
}  // namespace kubenat
