// The detect-local flags of plan, apply and run (kube-proxy's
// --detect-local-mode, --pod-bridge-interface, --pod-interface-name-prefix),
// validated as kube-proxy validates them (validateDetectLocalMode and
// validateDetectLocalConfiguration), and what they do to a plan.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/kubenat/commands.h"
#include "tools/kubenat/proxy_flags.h"
#include "tools/kubenat/run_flags.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

ProxyFlags flags_with(std::string mode) {
  ProxyFlags flags;
  flags.node = "node-a";
  flags.detect_local_mode = std::move(mode);
  return flags;
}

ProxyConfig config_of(const ProxyFlags& flags, const ClusterState& state = {}) {
  auto config = make_proxy_config(flags, state);
  EXPECT_TRUE(config) << config.error();
  return config.value_or(ProxyConfig{});
}

std::string error_of(const ProxyFlags& flags) {
  auto config = make_proxy_config(flags, ClusterState{});
  EXPECT_FALSE(config);
  return config ? std::string() : config.error();
}

TEST(DetectLocalFlags, WithoutTheFlagTheModeIsClusterCidr) {
  ProxyFlags flags = flags_with("");
  flags.cluster_cidrs = {"10.244.0.0/16"};
  const ProxyConfig config = config_of(flags);
  EXPECT_EQ(config.detect_local_mode, DetectLocalMode::ClusterCidr);
  EXPECT_EQ(config_of(flags_with("ClusterCIDR")).detect_local_mode, DetectLocalMode::ClusterCidr);
}

TEST(DetectLocalFlags, ModeNamesAreKubeProxysAndOthersAreRefused) {
  EXPECT_EQ(config_of(flags_with("NodeCIDR")).detect_local_mode, DetectLocalMode::NodeCidr);
  const std::string error = error_of(flags_with("nodecidr"));
  EXPECT_THAT(error, HasSubstr("--detect-local-mode"));
  EXPECT_THAT(error, HasSubstr("ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix"));
  EXPECT_THAT(error, HasSubstr("\"nodecidr\""));
}

TEST(DetectLocalFlags, BridgeInterfaceTakesTheBridgeAndNeedsIt) {
  ProxyFlags flags = flags_with("BridgeInterface");
  flags.pod_bridge_interface = "cbr0";
  const ProxyConfig config = config_of(flags);
  EXPECT_EQ(config.detect_local_mode, DetectLocalMode::BridgeInterface);
  EXPECT_EQ(config.pod_bridge_interface, "cbr0");
  EXPECT_THAT(error_of(flags_with("BridgeInterface")),
              HasSubstr("--pod-bridge-interface (with --detect-local-mode BridgeInterface): must not be empty"));
  flags.pod_bridge_interface = "a-bridge-name-too-long";
  EXPECT_THAT(error_of(flags), HasSubstr("longer than 15 bytes"));
}

TEST(DetectLocalFlags, InterfaceNamePrefixTakesThePrefixAndNeedsIt) {
  ProxyFlags flags = flags_with("InterfaceNamePrefix");
  flags.pod_interface_name_prefix = "veth";
  const ProxyConfig config = config_of(flags);
  EXPECT_EQ(config.detect_local_mode, DetectLocalMode::InterfaceNamePrefix);
  EXPECT_EQ(config.pod_interface_name_prefix, "veth");
  EXPECT_THAT(error_of(flags_with("InterfaceNamePrefix")),
              HasSubstr("--pod-interface-name-prefix (with --detect-local-mode InterfaceNamePrefix): must not be "
                        "empty"));
  flags.pod_interface_name_prefix = "ve th";
  EXPECT_THAT(error_of(flags), HasSubstr("--pod-interface-name-prefix"));
}

TEST(DetectLocalFlags, TheOtherModesInterfaceFlagIsLeftUnused) {
  ProxyFlags flags = flags_with("BridgeInterface");
  flags.pod_bridge_interface = "cbr0";
  flags.pod_interface_name_prefix = "not checked";
  EXPECT_EQ(config_of(flags).pod_interface_name_prefix, "");
}

TEST(DetectLocalFlags, NodeCidrTakesTheNodesPodCidrsFromTheState) {
  ClusterState state;
  state.nodes["node-a"].name = "node-a";
  state.nodes["node-a"].pod_cidrs = {*Cidr::parse("10.244.1.0/24")};
  EXPECT_THAT(config_of(flags_with("NodeCIDR"), state).node_pod_cidrs, ElementsAre(*Cidr::parse("10.244.1.0/24")));
  EXPECT_THAT(config_of(flags_with("ClusterCIDR"), state).node_pod_cidrs, IsEmpty());
}

// `kubenat plan` with the flags, on a snapshot with a Node and a Service.
class DetectLocalPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("kubenat-detect-local-" + std::to_string(::getpid()) + ".json");
    std::ofstream(path_) << R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
       "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}},
      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
      {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
       "metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
       "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
       "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": true}, "nodeName": "node-a"}]}]})";
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string plan(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--snapshot", path_.string(), "--node", "node-a", "--cluster-cidr", "10.0.0.0/8"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out, err;
    EXPECT_EQ(plan_command(args, out, err), 0) << err.str();
    return out.str();
  }

  std::filesystem::path path_;
};

TEST_F(DetectLocalPlan, EachModeWritesItsMatch) {
  EXPECT_THAT(plan({}), HasSubstr("--dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"));
  const std::string node_cidr = plan({"--detect-local-mode", "NodeCIDR"});
  EXPECT_THAT(node_cidr, HasSubstr("--dport 80 ! -s 10.244.1.0/24 -j KUBE-MARK-MASQ"));
  EXPECT_THAT(node_cidr, Not(HasSubstr("10.0.0.0/8")));
  EXPECT_THAT(plan({"--detect-local-mode", "BridgeInterface", "--pod-bridge-interface", "cbr0"}),
              HasSubstr("--dport 80 ! -i cbr0 -j KUBE-MARK-MASQ"));
  EXPECT_THAT(plan({"--detect-local-mode=InterfaceNamePrefix", "--pod-interface-name-prefix=veth"}),
              HasSubstr("--dport 80 ! -i veth+ -j KUBE-MARK-MASQ"));
}

TEST_F(DetectLocalPlan, TheNftFormatWritesTheSameMatches) {
  EXPECT_THAT(plan({"--format", "nft", "--detect-local-mode", "NodeCIDR"}),
              HasSubstr("ip saddr != 10.244.1.0/24 meta mark set"));
  EXPECT_THAT(plan({"--format", "nft", "--detect-local-mode", "BridgeInterface", "--pod-bridge-interface", "cbr0"}),
              HasSubstr("iifname != \"cbr0\" meta mark set"));
  EXPECT_THAT(
      plan({"--format", "nft", "--detect-local-mode", "InterfaceNamePrefix", "--pod-interface-name-prefix", "veth"}),
      HasSubstr("iifname \"veth*\" goto pick-cluster"));
}

RunConfig run_parsed(std::vector<std::string> args) {
  std::ostringstream warnings;
  auto config = parse_run_flags(args, warnings);
  EXPECT_TRUE(config) << config.error();
  EXPECT_EQ(warnings.str(), "");
  return config.value_or(RunConfig{});
}

std::string run_error(std::vector<std::string> args) {
  std::ostringstream warnings;
  auto config = parse_run_flags(args, warnings);
  EXPECT_FALSE(config);
  return config ? std::string() : config.error();
}

TEST(DetectLocalRunFlags, RunTakesTheThreeFlags) {
  const RunConfig bridge = run_parsed({"--detect-local-mode=BridgeInterface", "--pod-bridge-interface", "cbr0"});
  EXPECT_EQ(bridge.detect_local_mode, "BridgeInterface");
  EXPECT_EQ(bridge.pod_bridge_interface, "cbr0");
  const RunConfig prefix =
      run_parsed({"--detect-local-mode", "InterfaceNamePrefix", "--pod-interface-name-prefix=cali"});
  EXPECT_EQ(prefix.detect_local_mode, "InterfaceNamePrefix");
  EXPECT_EQ(prefix.pod_interface_name_prefix, "cali");
  EXPECT_EQ(run_parsed({"--detect-local-mode=NodeCIDR"}).detect_local_mode, "NodeCIDR");
}

TEST(DetectLocalRunFlags, RunRefusesWhatKubeProxyRefuses) {
  EXPECT_THAT(run_error({"--detect-local-mode=Bridge"}), HasSubstr("--detect-local-mode (detectLocalMode)"));
  EXPECT_THAT(run_error({"--detect-local-mode=BridgeInterface"}),
              HasSubstr("--pod-bridge-interface (detectLocal.bridgeInterface)"));
  EXPECT_THAT(run_error({"--detect-local-mode=InterfaceNamePrefix"}),
              HasSubstr("--pod-interface-name-prefix (detectLocal.interfaceNamePrefix)"));
}

TEST(DetectLocalRunFlags, UsageListsTheFlags) {
  const std::string usage = run_flags_usage();
  EXPECT_THAT(usage, HasSubstr("--detect-local-mode"));
  EXPECT_THAT(usage, HasSubstr("--pod-bridge-interface"));
  EXPECT_THAT(usage, HasSubstr("--pod-interface-name-prefix"));
}

}  // namespace
}  // namespace kubenat
