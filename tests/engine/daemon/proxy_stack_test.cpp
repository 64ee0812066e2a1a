// What the proxy stack builds for each mode. Building opens netlink sockets
// (no root needed) and runs no command.

#include "engine/daemon/proxy_stack.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/dual_stack_proxier.h"
#include "engine/iptables/proxier.h"
#include "engine/nftables/proxier.h"
#include "tests/support/fake_clock.h"

namespace kubenat {
namespace {

using ::testing::HasSubstr;

ProxyStackOptions options_for(ProxyMode mode) {
  ProxyStackOptions options;
  options.mode = mode;
  options.config.node_name = "node-a";
  options.iptables_mode = IptablesMode::Nft;
  return options;
}

TEST(ProxyMode, NamesAreKubeProxys) {
  for (ProxyMode mode : {ProxyMode::Iptables, ProxyMode::Nftables, ProxyMode::None}) {
    EXPECT_EQ(parse_proxy_mode(proxy_mode_name(mode)), mode);
  }
  EXPECT_EQ(proxy_mode_name(ProxyMode::Nftables), "nftables");
  EXPECT_FALSE(parse_proxy_mode("ipvs"));
  EXPECT_FALSE(parse_proxy_mode("NFTABLES"));
}

TEST(ProxyStack, NftablesModeBuildsTheNftablesProxierAlone) {
  testing::FakeClock clock;
  auto stack = ProxyStack::build(options_for(ProxyMode::Nftables), clock);
  ASSERT_TRUE(stack) << stack.error();
  EXPECT_NE(dynamic_cast<NftProxier*>((*stack)->service_proxier()), nullptr);
  EXPECT_EQ((*stack)->route_proxier(), nullptr);
  EXPECT_EQ((*stack)->description(), "nftables table ip kubenat");
}

TEST(ProxyStack, NftablesDescriptionNamesTheTableAndFamily) {
  testing::FakeClock clock;
  ProxyStackOptions options = options_for(ProxyMode::Nftables);
  options.config.family = IpFamily::V6;
  options.config.nftables_table = "kubenat-test";
  auto stack = ProxyStack::build(options, clock);
  ASSERT_TRUE(stack) << stack.error();
  EXPECT_EQ((*stack)->description(), "nftables table ip6 kubenat-test");
}

TEST(ProxyStack, IptablesModeBuildsTheIptablesProxierForTheIptablesAsked) {
  testing::FakeClock clock;
  ProxyStackOptions options = options_for(ProxyMode::Iptables);
  auto nft = ProxyStack::build(options, clock);
  ASSERT_TRUE(nft) << nft.error();
  EXPECT_NE(dynamic_cast<IptablesProxier*>((*nft)->service_proxier()), nullptr);
  EXPECT_EQ((*nft)->description(), "iptables-nft");
  options.iptables_mode = IptablesMode::Legacy;
  auto legacy = ProxyStack::build(options, clock);
  ASSERT_TRUE(legacy) << legacy.error();
  EXPECT_EQ((*legacy)->description(), "iptables-legacy");
}

TEST(ProxyStack, DualStackBuildsOneProxierPerFamilyBehindOne) {
  testing::FakeClock clock;
  for (ProxyMode mode : {ProxyMode::Iptables, ProxyMode::Nftables}) {
    ProxyStackOptions options = options_for(mode);
    options.families = {IpFamily::V6, IpFamily::V4};
    auto stack = ProxyStack::build(options, clock);
    ASSERT_TRUE(stack) << stack.error();
    EXPECT_NE(dynamic_cast<DualStackProxier*>((*stack)->service_proxier()), nullptr);
    EXPECT_EQ((*stack)->families(), (std::vector<IpFamily>{IpFamily::V6, IpFamily::V4}));
  }
}

TEST(ProxyStack, DualStackDescriptionNamesBothFamilies) {
  testing::FakeClock clock;
  ProxyStackOptions options = options_for(ProxyMode::Nftables);
  options.families = {IpFamily::V4, IpFamily::V6};
  auto nft = ProxyStack::build(options, clock);
  ASSERT_TRUE(nft) << nft.error();
  EXPECT_EQ((*nft)->description(), "nftables tables ip and ip6 kubenat");
  options.mode = ProxyMode::Iptables;
  auto iptables = ProxyStack::build(options, clock);
  ASSERT_TRUE(iptables) << iptables.error();
  EXPECT_EQ((*iptables)->description(), "iptables-nft for IPv4 and IPv6");
}

TEST(ProxyStack, TheSameFamilyTwiceIsAnError) {
  testing::FakeClock clock;
  ProxyStackOptions options = options_for(ProxyMode::Iptables);
  options.families = {IpFamily::V4, IpFamily::V4};
  EXPECT_FALSE(ProxyStack::build(options, clock));
}

TEST(ProxyStack, WithoutFamiliesTheConfigsFamilyIsTheOnlyOne) {
  testing::FakeClock clock;
  ProxyStackOptions options = options_for(ProxyMode::Iptables);
  options.config.family = IpFamily::V6;
  auto stack = ProxyStack::build(options, clock);
  ASSERT_TRUE(stack) << stack.error();
  EXPECT_EQ((*stack)->families(), (std::vector<IpFamily>{IpFamily::V6}));
  EXPECT_NE(dynamic_cast<IptablesProxier*>((*stack)->service_proxier()), nullptr);
}

TEST(ProxyStack, NoneModeHasNoServiceProxier) {
  testing::FakeClock clock;
  auto stack = ProxyStack::build(options_for(ProxyMode::None), clock);
  ASSERT_TRUE(stack) << stack.error();
  EXPECT_EQ((*stack)->service_proxier(), nullptr);
  EXPECT_EQ((*stack)->description(), "no service proxying");
}

TEST(ProxyStack, RoutesAddTheRouteProxierAndItsProtocol) {
  testing::FakeClock clock;
  ProxyStackOptions options = options_for(ProxyMode::None);
  options.routes = RouteProxier::Options{"node-a", 201};
  auto stack = ProxyStack::build(options, clock);
  ASSERT_TRUE(stack) << stack.error();
  EXPECT_NE((*stack)->route_proxier(), nullptr);
  EXPECT_EQ((*stack)->description(), "no service proxying, static routes (proto 201)");
}

TEST(ProxyStack, AMissingNetworkNamespaceIsAnErrorNamingIt) {
  testing::FakeClock clock;
  ProxyStackOptions options = options_for(ProxyMode::Nftables);
  options.netns = "kn-no-such-namespace";
  auto stack = ProxyStack::build(options, clock);
  ASSERT_FALSE(stack);
  EXPECT_THAT(stack.error(), HasSubstr("kn-no-such-namespace"));
}

}  // namespace
}  // namespace kubenat
