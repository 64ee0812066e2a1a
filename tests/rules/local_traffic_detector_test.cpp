// Which traffic counts as the pods' in each detect-local mode, per family,
// as kube-proxy's getLocalDetectors (cmd/kube-proxy/app/server_linux.go)
// chooses it; and the mode names and the Node's pod CIDRs that feed it.

#include "rules/local_traffic_detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace kubenat::testing;
using M = LocalTrafficDetector::Match;

ProxyConfig config_for(IpFamily family, DetectLocalMode mode) {
  ProxyConfig config;
  config.node_name = "node-a";
  config.family = family;
  config.detect_local_mode = mode;
  config.cluster_cidrs = {cidr("10.0.0.0/8"), cidr("fd00:10::/48"), cidr("10.200.0.0/16")};
  config.node_pod_cidrs = {cidr("fd00:10:1::/64"), cidr("10.0.1.0/24")};
  config.pod_bridge_interface = "cbr0";
  config.pod_interface_name_prefix = "veth";
  return config;
}

TEST(LocalTrafficDetector, ClusterCidrTakesTheFirstClusterCidrOfThePlansFamily) {
  EXPECT_EQ(local_traffic_detector(config_for(IpFamily::V4, DetectLocalMode::ClusterCidr)),
            (LocalTrafficDetector{M::SourceCidr, cidr("10.0.0.0/8"), {}}));
  EXPECT_EQ(local_traffic_detector(config_for(IpFamily::V6, DetectLocalMode::ClusterCidr)),
            (LocalTrafficDetector{M::SourceCidr, cidr("fd00:10::/48"), {}}));
}

TEST(LocalTrafficDetector, AFamilyWithoutACidrGetsNoDetector) {
  ProxyConfig config = config_for(IpFamily::V6, DetectLocalMode::ClusterCidr);
  config.cluster_cidrs = {cidr("10.0.0.0/8")};
  EXPECT_FALSE(local_traffic_detector(config).implemented());
  config.detect_local_mode = DetectLocalMode::NodeCidr;
  config.node_pod_cidrs = {cidr("10.0.1.0/24")};
  EXPECT_FALSE(local_traffic_detector(config).implemented());
}

TEST(LocalTrafficDetector, NodeCidrTakesTheNodesPodCidrOfThePlansFamilyNotTheClusterCidr) {
  EXPECT_EQ(local_traffic_detector(config_for(IpFamily::V4, DetectLocalMode::NodeCidr)),
            (LocalTrafficDetector{M::SourceCidr, cidr("10.0.1.0/24"), {}}));
  EXPECT_EQ(local_traffic_detector(config_for(IpFamily::V6, DetectLocalMode::NodeCidr)),
            (LocalTrafficDetector{M::SourceCidr, cidr("fd00:10:1::/64"), {}}));
}

TEST(LocalTrafficDetector, BridgeInterfaceMatchesTheBridgeInBothFamilies) {
  for (IpFamily family : {IpFamily::V4, IpFamily::V6}) {
    EXPECT_EQ(local_traffic_detector(config_for(family, DetectLocalMode::BridgeInterface)),
              (LocalTrafficDetector{M::Interface, {}, "cbr0"}));
  }
}

TEST(LocalTrafficDetector, InterfaceNamePrefixMatchesThePrefixInBothFamilies) {
  for (IpFamily family : {IpFamily::V4, IpFamily::V6}) {
    EXPECT_EQ(local_traffic_detector(config_for(family, DetectLocalMode::InterfaceNamePrefix)),
              (LocalTrafficDetector{M::InterfacePrefix, {}, "veth"}));
  }
}

TEST(LocalTrafficDetector, AnInterfaceModeWithoutANameHasNoDetector) {
  ProxyConfig config = config_for(IpFamily::V4, DetectLocalMode::BridgeInterface);
  config.pod_bridge_interface.clear();
  EXPECT_FALSE(local_traffic_detector(config).implemented());
  config.detect_local_mode = DetectLocalMode::InterfaceNamePrefix;
  config.pod_interface_name_prefix.clear();
  EXPECT_FALSE(local_traffic_detector(config).implemented());
}

TEST(DetectLocalMode, NamesAreKubeProxysExactly) {
  for (auto [mode, name] :
       {std::pair{DetectLocalMode::ClusterCidr, "ClusterCIDR"}, std::pair{DetectLocalMode::NodeCidr, "NodeCIDR"},
        std::pair{DetectLocalMode::BridgeInterface, "BridgeInterface"},
        std::pair{DetectLocalMode::InterfaceNamePrefix, "InterfaceNamePrefix"}}) {
    EXPECT_EQ(parse_detect_local_mode(name), mode) << name;
    EXPECT_EQ(detect_local_mode_name(mode), name);
  }
  EXPECT_EQ(parse_detect_local_mode(""), DetectLocalMode::ClusterCidr);
  EXPECT_EQ(parse_detect_local_mode("clustercidr"), std::nullopt);
  EXPECT_EQ(parse_detect_local_mode("NodeCidr"), std::nullopt);
  EXPECT_EQ(parse_detect_local_mode("Bridge"), std::nullopt);
}

TEST(DetectLocalMode, NodeCidrFollowsTheNodesPodCidrsInTheState) {
  ProxyConfig config = config_for(IpFamily::V4, DetectLocalMode::NodeCidr);
  config.node_pod_cidrs.clear();
  ClusterState state = ClusterBuilder().node("node-a").build();
  state.nodes["node-a"].pod_cidrs = {cidr("10.0.3.0/24"), cidr("fd00:10:3::/64")};
  EXPECT_THAT(with_node_ips_from_state(config, state).node_pod_cidrs,
              ElementsAre(cidr("10.0.3.0/24"), cidr("fd00:10:3::/64")));
  state.nodes["node-a"].pod_cidrs = {cidr("10.0.4.0/24")};
  EXPECT_THAT(with_node_ips_from_state(config, state).node_pod_cidrs, ElementsAre(cidr("10.0.4.0/24")));
}

TEST(DetectLocalMode, OtherModesAndUnknownNodesLeaveThePodCidrsAlone) {
  ClusterState state = ClusterBuilder().node("node-a").build();
  state.nodes["node-a"].pod_cidrs = {cidr("10.0.3.0/24")};
  ProxyConfig cluster_cidr = config_for(IpFamily::V4, DetectLocalMode::ClusterCidr);
  cluster_cidr.node_pod_cidrs.clear();
  EXPECT_THAT(with_node_ips_from_state(cluster_cidr, state).node_pod_cidrs, IsEmpty());
  ProxyConfig other_node = config_for(IpFamily::V4, DetectLocalMode::NodeCidr);
  other_node.node_name = "node-b";
  EXPECT_EQ(with_node_ips_from_state(other_node, state).node_pod_cidrs, other_node.node_pod_cidrs);
}

TEST(InterfaceName, LinuxNamesAreAcceptedAndOthersSayWhy) {
  for (const char* name : {"cbr0", "veth", "cali", "a", "azv", "br-0.1_x@y", "fifteen-bytes15"}) {
    EXPECT_EQ(invalid_interface_name(name), std::nullopt) << name;
  }
  EXPECT_THAT(invalid_interface_name("").value_or(""), HasSubstr("must not be empty"));
  EXPECT_THAT(invalid_interface_name("sixteen-bytes-16").value_or(""), HasSubstr("longer than 15 bytes"));
  for (const char* name : {"br/0", "br:0", "br 0", "br\"0", "br\t0"}) {
    EXPECT_THAT(invalid_interface_name(name).value_or(""), HasSubstr("cannot")) << name;
  }
}

}  // namespace
}  // namespace kubenat
