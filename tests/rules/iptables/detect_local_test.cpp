// The iptables compiler in each detect-local mode: the match kube-proxy's
// LocalTrafficDetector gives (pkg/proxy/util/localdetector.go IfLocal and
// IfNotLocal) in the two rules that use it, the cluster IP's masquerade rule
// and the externalTrafficPolicy Local short-circuit for pods.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/iptables/compiler.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/plan_dump.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace kubenat::testing;

ProxyConfig base_config() {
  ProxyConfig config;
  config.node_name = "test-node";
  config.node_ips = {ip("192.168.0.2")};
  config.cluster_cidrs = {cidr("10.0.0.0/8")};
  return config;
}

// A LoadBalancer Service with externalTrafficPolicy Local and an endpoint
// here and one elsewhere: it has both rules that match pod traffic.
ClusterBuilder local_policy_load_balancer() {
  return ClusterBuilder()
      .add(ServiceBuilder("ns2", "svc2")
               .type(ServiceType::LoadBalancer)
               .cluster_ip("172.30.0.42")
               .port("p80", 80, Protocol::Tcp, 3001)
               .load_balancer_ip("1.2.3.4")
               .external_local())
      .add(SliceBuilder("ns2", "svc2")
               .port("p80", 80)
               .endpoint("10.180.0.2", "test-node")
               .endpoint("10.180.0.3", "other-node"));
}

std::vector<std::string> nat(const ClusterState& state, const ProxyConfig& config, const std::string& name) {
  IptablesPlan plan = compile_iptables(state, config).plan;
  dump_plan_for_kernel_check(plan);
  for (const IptablesChain& chain : plan.chains(IptablesTable::Nat)) {
    if (chain.name == name) return chain.rules();
  }
  return {"<no such chain>"};
}

const std::string kMasquerade =
    "-m comment --comment \"ns2/svc2:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.42 --dport 80 ";
const std::string kPodTraffic = "-m comment --comment \"pod traffic for ns2/svc2:p80 external destinations\" ";

std::string masquerade_rule(const ProxyConfig& config) {
  return nat(local_policy_load_balancer().build(), config, "KUBE-SVC-GNZBNJ2PO5MGZ6GT").front();
}
std::string pod_short_circuit_rule(const ProxyConfig& config) {
  return nat(local_policy_load_balancer().build(), config, "KUBE-EXT-GNZBNJ2PO5MGZ6GT").front();
}

TEST(IptablesDetectLocal, ClusterCidrMatchesTheSourceInTheClusterCidr) {
  const ProxyConfig config = base_config();
  EXPECT_EQ(masquerade_rule(config), kMasquerade + "! -s 10.0.0.0/8 -j KUBE-MARK-MASQ");
  EXPECT_EQ(pod_short_circuit_rule(config), kPodTraffic + "-s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT");
}

TEST(IptablesDetectLocal, NodeCidrMatchesTheSourceInTheNodesPodCidr) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::NodeCidr;
  config.node_pod_cidrs = {cidr("fd00:10:1::/64"), cidr("10.0.1.0/24")};
  EXPECT_EQ(masquerade_rule(config), kMasquerade + "! -s 10.0.1.0/24 -j KUBE-MARK-MASQ");
  EXPECT_EQ(pod_short_circuit_rule(config), kPodTraffic + "-s 10.0.1.0/24 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT");
}

TEST(IptablesDetectLocal, NodeCidrTakesThePodCidrFromTheNodeInTheState) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::NodeCidr;
  ClusterBuilder cluster = local_policy_load_balancer();
  cluster.node("test-node");
  ClusterState state = cluster.build();
  state.nodes["test-node"].pod_cidrs = {cidr("10.0.7.0/24")};
  EXPECT_EQ(nat(state, with_node_ips_from_state(config, state), "KUBE-SVC-GNZBNJ2PO5MGZ6GT").front(),
            kMasquerade + "! -s 10.0.7.0/24 -j KUBE-MARK-MASQ");
}

TEST(IptablesDetectLocal, NodeCidrWithoutAPodCidrOfTheFamilyLeavesThePodRulesOut) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::NodeCidr;
  config.node_pod_cidrs = {cidr("fd00:10:1::/64")};
  EXPECT_THAT(nat(local_policy_load_balancer().build(), config, "KUBE-SVC-GNZBNJ2PO5MGZ6GT"),
              ElementsAre(HasSubstr("-j KUBE-SEP-"), HasSubstr("-j KUBE-SEP-")));
  EXPECT_THAT(pod_short_circuit_rule(config), HasSubstr("masquerade LOCAL traffic"));
}

TEST(IptablesDetectLocal, BridgeInterfaceMatchesTheInputInterface) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::BridgeInterface;
  config.pod_bridge_interface = "cbr0";
  EXPECT_EQ(masquerade_rule(config), kMasquerade + "! -i cbr0 -j KUBE-MARK-MASQ");
  EXPECT_EQ(pod_short_circuit_rule(config), kPodTraffic + "-i cbr0 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT");
}

TEST(IptablesDetectLocal, InterfaceNamePrefixMatchesInputInterfacesByPrefix) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::InterfaceNamePrefix;
  config.pod_interface_name_prefix = "veth";
  EXPECT_EQ(masquerade_rule(config), kMasquerade + "! -i veth+ -j KUBE-MARK-MASQ");
  EXPECT_EQ(pod_short_circuit_rule(config), kPodTraffic + "-i veth+ -j KUBE-SVC-GNZBNJ2PO5MGZ6GT");
}

TEST(IptablesDetectLocal, InterfaceModesApplyToIpv6PlansToo) {
  ProxyConfig config = base_config();
  config.family = IpFamily::V6;
  config.node_ips = {ip("2001:db8::2")};
  config.detect_local_mode = DetectLocalMode::InterfaceNamePrefix;
  config.pod_interface_name_prefix = "cali";
  ClusterState state = ClusterBuilder()
                           .add(ServiceBuilder("ns1", "svc1").cluster_ip("fd00:172:30::41").port("p80", 80))
                           .add(SliceBuilder("ns1", "svc1").ipv6().port("p80", 80).endpoint("fd00:10::1"))
                           .build();
  EXPECT_THAT(nat(state, config, "KUBE-SVC-XPGD46QRK7WJZT7O").front(),
              HasSubstr("--dport 80 ! -i cali+ -j KUBE-MARK-MASQ"));
}

TEST(IptablesDetectLocal, MasqueradeAllNeedsNoDetector) {
  ProxyConfig config = base_config();
  config.detect_local_mode = DetectLocalMode::BridgeInterface;
  config.pod_bridge_interface = "cbr0";
  config.masquerade_all = true;
  EXPECT_EQ(masquerade_rule(config), kMasquerade + "-j KUBE-MARK-MASQ");
}

}  // namespace
}  // namespace kubenat
