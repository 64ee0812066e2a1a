// The nftables compiler in each detect-local mode: the match kube-proxy's
// nftables mode takes from its LocalTrafficDetector (IfLocalNFT and
// IfNotLocalNFT: `ip saddr CIDR`, `iifname "br0"`, `iifname "veth*"`) in
// the rules that use it here: the masquerade rule of the internal class
// chains and the pod short-circuit of the externalTrafficPolicy Local ones.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/nftables/compiler.h"
#include "rules/nftables/render.h"
#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using namespace kubenat::testing;

ProxyConfig base_config() {
  ProxyConfig c;
  c.node_name = "node-a";
  c.node_ips = {ip("192.168.0.2")};
  c.cluster_cidrs = {cidr("10.0.0.0/8")};
  return c;
}

// The chain's rules as nft text, for readable expectations.
std::vector<std::string> chain_text(const ProxyConfig& config, const std::string& name,
                                    const ClusterState& state = {}) {
  const NftPlan plan = compile_nft(state, config).plan;
  for (const NftChain& chain : plan.chains) {
    if (chain.name != name) continue;
    std::vector<std::string> rules;
    for (const NftRule& rule : chain.rules) rules.push_back(render_nft_rule(rule, config.family));
    return rules;
  }
  return {"<no such chain>"};
}

const std::string kMarkForMasquerade =
    "meta mark set meta mark | 0x00004000 comment \"masquerade off-cluster traffic\"";
const std::string kPodsRemembered =
    "dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity "
    "comment \"pod traffic for external destinations\"";
const std::string kPodsPick = "goto pick-cluster comment \"pod traffic for external destinations\"";

TEST(NftDetectLocal, ClusterCidrMatchesTheSourceInTheClusterCidr) {
  const ProxyConfig config = base_config();
  EXPECT_EQ(chain_text(config, "internal-cluster").front(), "ip saddr != 10.0.0.0/8 " + kMarkForMasquerade);
  const std::vector<std::string> external = chain_text(config, "external-local");
  ASSERT_GE(external.size(), 2u);
  EXPECT_EQ(external[0], "ip saddr 10.0.0.0/8 " + kPodsRemembered);
  EXPECT_EQ(external[1], "ip saddr 10.0.0.0/8 " + kPodsPick);
}

TEST(NftDetectLocal, NodeCidrMatchesTheSourceInTheNodesPodCidr) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::NodeCidr;
  config.node_pod_cidrs = {cidr("fd00:10:1::/64"), cidr("10.0.1.0/24")};
  EXPECT_EQ(chain_text(config, "internal-local").front(), "ip saddr != 10.0.1.0/24 " + kMarkForMasquerade);
  EXPECT_EQ(chain_text(config, "external-local").front(), "ip saddr 10.0.1.0/24 " + kPodsRemembered);
}

TEST(NftDetectLocal, NodeCidrTakesThePodCidrFromTheNodeInTheState) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::NodeCidr;
  ClusterState state = ClusterBuilder().node("node-a").build();
  state.nodes["node-a"].pod_cidrs = {cidr("10.0.7.0/24")};
  EXPECT_EQ(chain_text(with_node_ips_from_state(config, state), "internal-cluster", state).front(),
            "ip saddr != 10.0.7.0/24 " + kMarkForMasquerade);
}

TEST(NftDetectLocal, WithoutADetectorThePodRulesAreLeftOut) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::NodeCidr;  // and no pod CIDR known
  EXPECT_THAT(
      chain_text(config, "internal-cluster"),
      ElementsAre("dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity", "goto pick-cluster"));
  EXPECT_EQ(chain_text(config, "external-local").front(),
            "fib saddr type local meta mark set meta mark | 0x00004000 comment \"route LOCAL traffic for external "
            "destinations\"");
}

TEST(NftDetectLocal, BridgeInterfaceMatchesTheInputInterfaceByName) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::BridgeInterface;
  config.pod_bridge_interface = "cbr0";
  EXPECT_EQ(chain_text(config, "internal-cluster").front(), "iifname != \"cbr0\" " + kMarkForMasquerade);
  EXPECT_EQ(chain_text(config, "external-local")[1], "iifname \"cbr0\" " + kPodsPick);
  EXPECT_EQ(chain_text(config, "nodeport-local")[1],
            "iifname \"cbr0\" goto pick-nodeport-cluster comment \"pod traffic for external destinations\"");
}

TEST(NftDetectLocal, InterfaceNamePrefixMatchesInputInterfacesByWildcard) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::InterfaceNamePrefix;
  config.pod_interface_name_prefix = "veth";
  EXPECT_EQ(chain_text(config, "internal-cluster").front(), "iifname != \"veth*\" " + kMarkForMasquerade);
  EXPECT_EQ(chain_text(config, "external-local")[1], "iifname \"veth*\" " + kPodsPick);
}

TEST(NftDetectLocal, InterfaceModesApplyToIpv6TablesToo) {
  ProxyConfig config = base_config();
  config.family = IpFamily::V6;
  config.node_ips = {ip("2001:db8::2")};
  config.detect_local_mode = DetectLocalMode::BridgeInterface;
  config.pod_bridge_interface = "cbr0";
  EXPECT_EQ(chain_text(config, "internal-cluster").front(), "iifname != \"cbr0\" " + kMarkForMasquerade);
}

}  // namespace
}  // namespace kubenat
