// The iptables compiler, feature by feature, with the exact rules kube-proxy
// writes. Expected rule text follows kube-proxy's proxier.go and its unit
// tests (pkg/proxy/iptables/proxier_test.go).

#include "rules/iptables/compiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/iptables/chain_names.h"
#include "rules/iptables/render.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/plan_dump.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace kubenat::testing;

ProxyConfig test_config() {
  ProxyConfig config;
  config.node_name = "test-node";
  config.node_ips = {ip("192.168.0.2")};
  config.cluster_cidrs = {cidr("10.0.0.0/8")};
  return config;
}

// The rules of one chain, or nullopt when the plan does not declare it.
std::optional<std::vector<std::string>> chain(const IptablesPlan& plan, IptablesTable table,
                                              const std::string& name) {
  for (const IptablesChain& c : plan.chains(table)) {
    if (c.name == name) return c.rules();
  }
  return std::nullopt;
}

std::vector<std::string> nat(const IptablesPlan& plan, const std::string& name) {
  return chain(plan, IptablesTable::Nat, name).value_or(std::vector<std::string>{"<no such chain>"});
}
std::vector<std::string> filter(const IptablesPlan& plan, const std::string& name) {
  return chain(plan, IptablesTable::Filter, name).value_or(std::vector<std::string>{"<no such chain>"});
}
bool has_nat_chain(const IptablesPlan& plan, const std::string& name) {
  return chain(plan, IptablesTable::Nat, name).has_value();
}

IptablesPlan compile(const ClusterState& state, const ProxyConfig& config = test_config()) {
  IptablesPlan plan = compile_iptables(state, config).plan;
  dump_plan_for_kernel_check(plan);
  return plan;
}

const std::string kNodePortsTail =
    "-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" "
    "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS";

TEST(IptablesCompiler, ClusterIpServiceDispatchesToItsEndpoint) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.180.0.1"))
                                  .build());
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"),
              ElementsAre("-m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 "
                          "--dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O",
                          kNodePortsTail));
  EXPECT_THAT(nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O"),
              ElementsAre("-m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 "
                          "--dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
                          "-m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j KUBE-SEP-SXIVWICOYRO3J4NJ"));
  EXPECT_THAT(nat(plan, "KUBE-SEP-SXIVWICOYRO3J4NJ"),
              ElementsAre("-m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
                          "-m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80"));
}

TEST(IptablesCompiler, UnnamedPortLeavesThePortOutOfTheName) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("", 80).endpoint("10.180.0.1"))
                                  .build());
  EXPECT_THAT(nat(plan, "KUBE-SERVICES").front(), HasSubstr("\"ns1/svc1 cluster IP\""));
}

TEST(IptablesCompiler, EndpointsAreChosenWithProbabilityOneOverRemaining) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1")
                                           .port("p80", 80)
                                           .endpoint("10.180.0.1")
                                           .endpoint("10.180.0.2")
                                           .endpoint("10.180.0.3")
                                           .endpoint("10.180.0.4"))
                                  .build());
  std::vector<std::string> svc = nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O");
  ASSERT_EQ(svc.size(), 5u);
  EXPECT_THAT(svc[1], HasSubstr("-> 10.180.0.1:80\" -m statistic --mode random --probability 0.2500000000 -j"));
  EXPECT_THAT(svc[2], HasSubstr("-> 10.180.0.2:80\" -m statistic --mode random --probability 0.3333333333 -j"));
  EXPECT_THAT(svc[3], HasSubstr("-> 10.180.0.3:80\" -m statistic --mode random --probability 0.5000000000 -j"));
  EXPECT_THAT(svc[4], AllOf(HasSubstr("-> 10.180.0.4:80\""), Not(HasSubstr("statistic"))));
}

TEST(IptablesCompiler, ProbabilityIsFormattedWithTenDecimals) {
  EXPECT_EQ(probability(2), "0.5000000000");
  EXPECT_EQ(probability(3), "0.3333333333");
  EXPECT_EQ(probability(10), "0.1000000000");
  EXPECT_EQ(probability(100001), "0.0000099999");
}

TEST(IptablesCompiler, EndpointsAreOrderedByAddressStringBytewise) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p11", 11))
                                  .add(SliceBuilder("ns1", "svc1")
                                           .port("p11", 11)
                                           .endpoint("10.1.1.1")
                                           .endpoint("10.1.1.11")
                                           .endpoint("10.1.1.2"))
                                  .build());
  std::vector<std::string> svc = nat(plan, svc_chain(ServicePortName{{"ns1", "svc1"}, "p11", Protocol::Tcp}));
  ASSERT_EQ(svc.size(), 4u);
  EXPECT_THAT(svc[1], HasSubstr("10.1.1.11:11"));
  EXPECT_THAT(svc[2], HasSubstr("10.1.1.1:11"));
  EXPECT_THAT(svc[3], HasSubstr("10.1.1.2:11"));
}

TEST(IptablesCompiler, MasqueradeMarkUsesKubeProxyFormat) {
  EXPECT_EQ(masquerade_mark(14), "0x00004000");
  EXPECT_EQ(masquerade_mark(0), "0x00000001");
  ProxyConfig config = test_config();
  config.masquerade_bit = 3;
  IptablesPlan plan = compile(ClusterState{}, config);
  EXPECT_THAT(nat(plan, "KUBE-MARK-MASQ"), ElementsAre("-j MARK --or-mark 0x00000008"));
  EXPECT_THAT(nat(plan, "KUBE-POSTROUTING"),
              ElementsAre("-m mark ! --mark 0x00000008/0x00000008 -j RETURN", "-j MARK --xor-mark 0x00000008",
                          "-m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE"));
}

TEST(IptablesCompiler, EmptyClusterHasTheFixedChains) {
  IptablesPlan plan = compile(ClusterState{});
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"), ElementsAre(kNodePortsTail));
  EXPECT_THAT(nat(plan, "KUBE-NODEPORTS"), IsEmpty());
  EXPECT_THAT(filter(plan, "KUBE-SERVICES"), IsEmpty());
  EXPECT_THAT(filter(plan, "KUBE-EXTERNAL-SERVICES"), IsEmpty());
  EXPECT_THAT(filter(plan, "KUBE-NODEPORTS"), IsEmpty());
  EXPECT_THAT(filter(plan, "KUBE-PROXY-FIREWALL"), IsEmpty());
  EXPECT_THAT(filter(plan, "KUBE-FORWARD"),
              ElementsAre("-m conntrack --ctstate INVALID -j DROP",
                          "-m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x00004000/0x00004000 -j ACCEPT",
                          "-m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate "
                          "RELATED,ESTABLISHED -j ACCEPT"));
  EXPECT_THAT(filter(plan, "KUBE-FIREWALL"),
              ElementsAre("-m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s "
                          "127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"));
}

TEST(IptablesCompiler, JumpsFromBuiltInChainsStandInKubeProxyOrder) {
  IptablesPlan plan = compile(ClusterState{});
  std::vector<std::string> input, forward, nat_prerouting;
  for (const JumpRule& j : plan.jumps) {
    if (j.table == IptablesTable::Filter && j.chain == "INPUT") input.push_back(j.rule);
    if (j.table == IptablesTable::Filter && j.chain == "FORWARD") forward.push_back(j.rule);
    if (j.table == IptablesTable::Nat && j.chain == "PREROUTING") nat_prerouting.push_back(j.rule);
  }
  EXPECT_THAT(input, ElementsAre("-j KUBE-FIREWALL",
                                 "-m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
                                 "-m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
                                 "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"));
  EXPECT_THAT(forward, ElementsAre("-m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
                                   "-m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
                                   "-m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                                   "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"));
  EXPECT_THAT(nat_prerouting, ElementsAre("-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"));
}

TEST(IptablesCompiler, ServiceWithoutEndpointsIsRejectedInFilterOnly) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns6", "svc6").cluster_ip("172.30.0.46").port("p80", 80))
                                  .build());
  EXPECT_THAT(filter(plan, "KUBE-SERVICES"),
              ElementsAre("-m comment --comment \"ns6/svc6:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.46 "
                          "--dport 80 -j REJECT"));
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"), ElementsAre(kNodePortsTail));
  EXPECT_THAT(plan.service_ports.begin()->second->chains, IsEmpty());
}

TEST(IptablesCompiler, NodePortGoesThroughTheExternalChainWithMasquerade) {
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns3", "svc3").type(ServiceType::NodePort).cluster_ip("172.30.0.43")
                           .port("p80", 80, Protocol::Tcp, 3003))
                  .add(SliceBuilder("ns3", "svc3").port("p80", 80).endpoint("10.180.0.3"))
                  .build());
  EXPECT_THAT(nat(plan, "KUBE-NODEPORTS"),
              ElementsAre("-m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK"));
  EXPECT_THAT(nat(plan, "KUBE-EXT-X27LE4BHSL4DOUIK"),
              ElementsAre("-m comment --comment \"masquerade traffic for ns3/svc3:p80 external destinations\" -j KUBE-MARK-MASQ",
                          "-j KUBE-SVC-X27LE4BHSL4DOUIK"));
}

TEST(IptablesCompiler, LocalhostNodePortIsCountedWithNfacctWhenEnabled) {
  ProxyConfig config = test_config();
  config.nfacct_counters = true;
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns3", "svc3").type(ServiceType::NodePort).cluster_ip("172.30.0.43")
                           .port("p80", 80, Protocol::Tcp, 3003))
                  .add(SliceBuilder("ns3", "svc3").port("p80", 80).endpoint("10.180.0.3"))
                  .build(),
              config);
  EXPECT_THAT(nat(plan, "KUBE-NODEPORTS"),
              ElementsAre("-m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 -m nfacct "
                          "--nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK",
                          "-m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK"));
  EXPECT_THAT(filter(plan, "KUBE-FORWARD").front(),
              "-m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP");
}

TEST(IptablesCompiler, ExternalTrafficPolicyLocalShortCircuitsPodAndHostTraffic) {
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns2", "svc2").type(ServiceType::LoadBalancer).cluster_ip("172.30.0.42")
                           .port("p80", 80, Protocol::Tcp, 3001).load_balancer_ip("1.2.3.4").external_local())
                  .add(SliceBuilder("ns2", "svc2").port("p80", 80).endpoint("10.180.0.2", "test-node")
                           .endpoint("10.180.0.3", "other-node"))
                  .build());
  EXPECT_THAT(nat(plan, "KUBE-EXT-GNZBNJ2PO5MGZ6GT"),
              ElementsAre("-m comment --comment \"pod traffic for ns2/svc2:p80 external destinations\" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
                          "-m comment --comment \"masquerade LOCAL traffic for ns2/svc2:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
                          "-m comment --comment \"route LOCAL traffic for ns2/svc2:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
                          "-j KUBE-SVL-GNZBNJ2PO5MGZ6GT"));
  // The local chain has only the local endpoint; the cluster chain both.
  EXPECT_EQ(nat(plan, "KUBE-SVL-GNZBNJ2PO5MGZ6GT").size(), 1u);
  EXPECT_EQ(nat(plan, "KUBE-SVC-GNZBNJ2PO5MGZ6GT").size(), 3u);
}

TEST(IptablesCompiler, ExternalTrafficPolicyLocalWithoutLocalEndpointsDropsExternalTraffic) {
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns2", "svc2").type(ServiceType::LoadBalancer).cluster_ip("172.30.0.42")
                           .port("p80", 80, Protocol::Tcp, 3001).load_balancer_ip("1.2.3.4")
                           .external_ip("192.168.99.22").external_local().health_check_node_port(30000))
                  .add(SliceBuilder("ns2", "svc2").port("p80", 80).endpoint("10.180.0.2"))
                  .build());
  EXPECT_THAT(filter(plan, "KUBE-EXTERNAL-SERVICES"),
              ElementsAre("-m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP",
                          "-m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP",
                          "-m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP"));
  EXPECT_THAT(filter(plan, "KUBE-NODEPORTS"),
              ElementsAre("-m comment --comment \"ns2/svc2:p80 health check node port\" -m tcp -p tcp --dport 30000 -j ACCEPT"));
  // The EXT chain keeps its short-circuits but has no final jump.
  EXPECT_THAT(nat(plan, "KUBE-EXT-GNZBNJ2PO5MGZ6GT").back(), HasSubstr("route LOCAL traffic"));
  EXPECT_FALSE(has_nat_chain(plan, "KUBE-SVL-GNZBNJ2PO5MGZ6GT"));
}

TEST(IptablesCompiler, InternalTrafficPolicyLocalUsesTheLocalChainForTheClusterIp) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80).internal_local())
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.180.0.1", "test-node")
                                           .endpoint("10.180.0.2", "other-node"))
                                  .build());
  EXPECT_THAT(nat(plan, "KUBE-SERVICES").front(), HasSubstr("-j KUBE-SVL-XPGD46QRK7WJZT7O"));
  EXPECT_THAT(nat(plan, "KUBE-SVL-XPGD46QRK7WJZT7O"),
              ElementsAre(HasSubstr("! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"), HasSubstr("10.180.0.1:80")));
  EXPECT_FALSE(has_nat_chain(plan, "KUBE-SVC-XPGD46QRK7WJZT7O"));
}

TEST(IptablesCompiler, InternalTrafficPolicyLocalWithoutLocalEndpointsDropsClusterIpTraffic) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80).internal_local())
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.180.0.2", "other-node"))
                                  .build());
  EXPECT_THAT(filter(plan, "KUBE-SERVICES"),
              ElementsAre("-m comment --comment \"ns1/svc1:p80 has no local endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP"));
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"), ElementsAre(kNodePortsTail));
}

TEST(IptablesCompiler, SessionAffinityChecksRecentListsBeforeBalancing) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns5", "svc5").cluster_ip("172.30.0.45").port("p80", 80).affinity(600))
                                  .add(SliceBuilder("ns5", "svc5").port("p80", 80).endpoint("10.180.0.3"))
                                  .build());
  const std::string svc = "KUBE-SVC-NUKIZ6OKUXPJNT4C";
  EXPECT_THAT(nat(plan, svc),
              ElementsAre(HasSubstr("KUBE-MARK-MASQ"),
                          "-m comment --comment \"ns5/svc5:p80 -> 10.180.0.3:80\" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN "
                          "--rcheck --seconds 600 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN",
                          "-m comment --comment \"ns5/svc5:p80 -> 10.180.0.3:80\" -j KUBE-SEP-I77PXRDZVX7PMWMN"));
  EXPECT_THAT(nat(plan, "KUBE-SEP-I77PXRDZVX7PMWMN").back(),
              "-m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j "
              "DNAT --to-destination 10.180.0.3:80");
}

TEST(IptablesCompiler, SourceRangesFilterLoadBalancerTrafficThroughTheFirewallChain) {
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns5", "svc5").type(ServiceType::LoadBalancer).cluster_ip("172.30.0.45")
                           .port("p80", 80, Protocol::Tcp, 3002).load_balancer_ip("5.6.7.8").source_range("203.0.113.0/25"))
                  .add(SliceBuilder("ns5", "svc5").port("p80", 80).endpoint("10.180.0.3"))
                  .build());
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"),
              ElementsAre(HasSubstr("cluster IP"),
                          "-m comment --comment \"ns5/svc5:p80 loadbalancer IP\" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C",
                          kNodePortsTail));
  EXPECT_THAT(nat(plan, "KUBE-FW-NUKIZ6OKUXPJNT4C"),
              ElementsAre("-m comment --comment \"ns5/svc5:p80 loadbalancer IP\" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C",
                          "-m comment --comment \"other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL\""));
  EXPECT_THAT(filter(plan, "KUBE-PROXY-FIREWALL"),
              ElementsAre("-m comment --comment \"ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C\" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP"));
  // NodePorts are not subject to source ranges.
  EXPECT_THAT(nat(plan, "KUBE-NODEPORTS"), ElementsAre(HasSubstr("-j KUBE-EXT-NUKIZ6OKUXPJNT4C")));
}

TEST(IptablesCompiler, SourceRangeContainingTheNodeLetsTheNodeReachItsOwnVip) {
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns5", "svc5").type(ServiceType::LoadBalancer).cluster_ip("172.30.0.45")
                           .port("p80", 80).load_balancer_ip("5.6.7.8").source_range("192.168.0.0/24"))
                  .add(SliceBuilder("ns5", "svc5").port("p80", 80).endpoint("10.180.0.3"))
                  .build());
  EXPECT_THAT(nat(plan, "KUBE-FW-NUKIZ6OKUXPJNT4C"),
              ElementsAre(HasSubstr("-s 192.168.0.0/24 -j KUBE-EXT"), HasSubstr("-s 5.6.7.8 -j KUBE-EXT"),
                          HasSubstr("will be dropped")));
}

TEST(IptablesCompiler, ZeroLengthSourceRangeMeansNoFirewall) {
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns5", "svc5").type(ServiceType::LoadBalancer).cluster_ip("172.30.0.45")
                           .port("p80", 80).load_balancer_ip("5.6.7.8").source_range("203.0.113.0/25").source_range("0.0.0.0/0"))
                  .add(SliceBuilder("ns5", "svc5").port("p80", 80).endpoint("10.180.0.3"))
                  .build());
  EXPECT_FALSE(has_nat_chain(plan, "KUBE-FW-NUKIZ6OKUXPJNT4C"));
  EXPECT_THAT(filter(plan, "KUBE-PROXY-FIREWALL"), IsEmpty());
}

TEST(IptablesCompiler, ExternalIpsJumpToTheExternalChain) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns4", "svc4").cluster_ip("172.30.0.44").port("p80", 80)
                                           .external_ip("192.168.99.33"))
                                  .add(SliceBuilder("ns4", "svc4").port("p80", 80).endpoint("10.180.0.4"))
                                  .build());
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"),
              ElementsAre(HasSubstr("cluster IP"),
                          "-m comment --comment \"ns4/svc4:p80 external IP\" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK",
                          kNodePortsTail));
}

TEST(IptablesCompiler, TerminatingEndpointsAreUsedOnlyWhenNoneIsReady) {
  auto state = [](bool with_ready) {
    SliceBuilder slice("ns1", "svc1");
    slice.port("p80", 80).endpoint("10.0.1.1").terminating(true).endpoint("10.0.1.2").terminating(false);
    if (with_ready) slice.endpoint("10.0.1.3");
    return ClusterBuilder()
        .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
        .add(slice.build())
        .build();
  };
  IptablesPlan with_ready = compile(state(true));
  std::vector<std::string> svc = nat(with_ready, "KUBE-SVC-XPGD46QRK7WJZT7O");
  ASSERT_EQ(svc.size(), 2u);
  EXPECT_THAT(svc[1], HasSubstr("10.0.1.3:80"));

  IptablesPlan only_terminating = compile(state(false));
  svc = nat(only_terminating, "KUBE-SVC-XPGD46QRK7WJZT7O");
  ASSERT_EQ(svc.size(), 2u);
  // Serving and terminating: used. Not serving: never.
  EXPECT_THAT(svc[1], HasSubstr("10.0.1.1:80"));
}

TEST(IptablesCompiler, EndpointsThatDoNotServeLeaveTheServiceRejecting) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.0.1.1").terminating(false)
                                           .endpoint("10.0.1.2").not_ready())
                                  .build());
  EXPECT_THAT(filter(plan, "KUBE-SERVICES"), ElementsAre(HasSubstr("has no endpoints\" -m tcp -p tcp -d 172.30.0.41")));
}

TEST(IptablesCompiler, MasqueradeAllMasqueradesEveryClusterIpPacket) {
  ProxyConfig config = test_config();
  config.masquerade_all = true;
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.180.0.1"))
                                  .build(),
                              config);
  EXPECT_EQ(nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O").front(),
            "-m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ");
}

TEST(IptablesCompiler, WithoutClusterCidrThereIsNoPodDetection) {
  ProxyConfig config = test_config();
  config.cluster_cidrs.clear();
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns2", "svc2").type(ServiceType::NodePort).cluster_ip("172.30.0.42")
                           .port("p80", 80, Protocol::Tcp, 3001).external_local())
                  .add(SliceBuilder("ns2", "svc2").port("p80", 80).endpoint("10.180.0.2", "test-node"))
                  .build(),
              config);
  EXPECT_THAT(nat(plan, "KUBE-SVC-GNZBNJ2PO5MGZ6GT"), ElementsAre(HasSubstr("-j KUBE-SEP-")));
  EXPECT_THAT(nat(plan, "KUBE-EXT-GNZBNJ2PO5MGZ6GT"),
              ElementsAre(HasSubstr("masquerade LOCAL"), HasSubstr("route LOCAL"), "-j KUBE-SVL-GNZBNJ2PO5MGZ6GT"));
}

TEST(IptablesCompiler, NodePortAddressesSelectTheLocalAddressesThatAcceptNodePorts) {
  ProxyConfig config = test_config();
  config.nodeport_addresses = {cidr("192.168.0.0/24")};
  config.local_addresses = {ip("192.168.0.2"), ip("10.1.0.5"), ip("127.0.0.1")};
  IptablesPlan plan = compile(ClusterState{}, config);
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"),
              ElementsAre("-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in "
                          "this chain\" -d 192.168.0.2 -j KUBE-NODEPORTS"));
  // Loopback is not among the NodePort addresses: localhost NodePorts are off.
  EXPECT_FALSE(chain(plan, IptablesTable::Filter, "KUBE-FIREWALL").has_value());
}

TEST(IptablesCompiler, LocalhostNodePortsOffExcludesLoopbackFromNodePorts) {
  ProxyConfig config = test_config();
  config.localhost_nodeports = false;
  IptablesPlan plan = compile(ClusterState{}, config);
  EXPECT_THAT(nat(plan, "KUBE-SERVICES").back(), HasSubstr("-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS"));
  EXPECT_FALSE(chain(plan, IptablesTable::Filter, "KUBE-FIREWALL").has_value());
  for (const JumpRule& j : plan.jumps) EXPECT_THAT(j.rule, Not(HasSubstr("KUBE-FIREWALL")));
}

TEST(IptablesCompiler, Ipv6PlanBracketsEndpointsAndNeverAcceptsLocalhostNodePorts) {
  ProxyConfig config = test_config();
  config.family = IpFamily::V6;
  config.cluster_cidrs = {cidr("fd00:10::/64")};
  config.node_ips = {ip("2001:db8::2")};
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("fd00:172:30::41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").ipv6().port("p80", 80).endpoint("fd00:10::1"))
                                  .build(),
                              config);
  EXPECT_THAT(nat(plan, "KUBE-SERVICES"),
              ElementsAre(HasSubstr("-d fd00:172:30::41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O"),
                          HasSubstr("-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS")));
  const std::string sep = nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O").back();
  EXPECT_THAT(sep, HasSubstr("\"ns1/svc1:p80 -> [fd00:10::1]:80\""));
  EXPECT_FALSE(chain(plan, IptablesTable::Filter, "KUBE-FIREWALL").has_value());
}

TEST(IptablesCompiler, Ipv4PlanIgnoresIpv6ServicesAndEndpoints) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "v6only").cluster_ip("fd00::41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "v6only").ipv6().port("p80", 80).endpoint("fd00:10::1"))
                                  .build());
  EXPECT_THAT(plan.service_ports, IsEmpty());
}

TEST(IptablesCompiler, UdpAndSctpUseTheirOwnMatches) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("kube-system", "dns").cluster_ip("10.96.0.10")
                                           .port("dns", 53, Protocol::Udp).port("echo", 9999, Protocol::Sctp))
                                  .add(SliceBuilder("kube-system", "dns").port("dns", 53, Protocol::Udp)
                                           .port("echo", 9999, Protocol::Sctp).endpoint("10.200.1.5"))
                                  .build());
  std::vector<std::string> services = nat(plan, "KUBE-SERVICES");
  ASSERT_EQ(services.size(), 3u);
  EXPECT_THAT(services[0], HasSubstr("\"kube-system/dns:dns cluster IP\" -m udp -p udp -d 10.96.0.10 --dport 53"));
  EXPECT_THAT(services[1], HasSubstr("\"kube-system/dns:echo cluster IP\" -m sctp -p sctp -d 10.96.0.10 --dport 9999"));
}

TEST(IptablesCompiler, EndpointPortsMatchServicePortsByNameAndProtocol) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 8080, Protocol::Udp).port("other", 80)
                                           .endpoint("10.180.0.1"))
                                  .build());
  EXPECT_THAT(filter(plan, "KUBE-SERVICES"), ElementsAre(HasSubstr("has no endpoints")));
}

TEST(IptablesCompiler, LargeClusterModeLeavesOutPerEndpointComments) {
  ProxyConfig config = test_config();
  config.large_cluster_endpoints_threshold = 1;
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.180.0.1").endpoint("10.180.0.2"))
                                  .build(),
                              config);
  EXPECT_TRUE(plan.large_cluster_mode);
  std::vector<std::string> svc = nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O");
  EXPECT_THAT(svc[0], HasSubstr("cluster IP"));  // the masquerade rule keeps its comment
  EXPECT_THAT(svc[1], Not(HasSubstr("comment")));
  EXPECT_THAT(svc[1], HasSubstr("-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-"));
  const std::string sep = svc[1].substr(svc[1].find("KUBE-SEP-"));
  EXPECT_THAT(nat(plan, sep), ElementsAre("-s 10.180.0.1 -j KUBE-MARK-MASQ",
                                          "-m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80"));
}

TEST(IptablesCompiler, TopologyHintsKeepClusterTrafficInTheNodesZone) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .node("test-node", "zone-a")
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80)
                                           .endpoint("10.180.0.1").zone_hints({"zone-a"})
                                           .endpoint("10.180.0.2").zone_hints({"zone-b"}))
                                  .build());
  EXPECT_THAT(nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O"),
              ElementsAre(HasSubstr("KUBE-MARK-MASQ"), HasSubstr("-> 10.180.0.1:80\" -j KUBE-SEP-")));
}

TEST(IptablesCompiler, TopologyHintsAreIgnoredWhenSomeEndpointLacksThem) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .node("test-node", "zone-a")
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1").port("p80", 80)
                                           .endpoint("10.180.0.1").zone_hints({"zone-a"})
                                           .endpoint("10.180.0.2"))
                                  .build());
  EXPECT_EQ(nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O").size(), 3u);
}

TEST(IptablesCompiler, HeadlessAndExternalNameServicesGetNoRules) {
  IptablesPlan plan =
      compile(ClusterBuilder()
                  .add(ServiceBuilder("ns1", "headless").port("p80", 80))
                  .add(ServiceBuilder("ns1", "external").type(ServiceType::ExternalName).port("p80", 80))
                  .build());
  EXPECT_THAT(plan.service_ports, IsEmpty());
}

TEST(IptablesCompiler, SliceOfUnknownServiceIsReported) {
  IptablesCompileResult result = compile_iptables(
      ClusterBuilder().add(SliceBuilder("ns1", "ghost", "abcde").port("p80", 80).endpoint("10.180.0.1")).build(),
      test_config());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].object, "EndpointSlice ns1/ghost-abcde");
  EXPECT_THAT(result.diagnostics[0].message, HasSubstr("Service ns1/ghost not found"));
}

TEST(IptablesCompiler, EndpointsV1AreUsedOnlyWhenTheServiceHasNoSlices) {
  ClusterBuilder cluster;
  cluster.add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
      .add(SliceBuilder("ns1", "svc1", "legacy").port("p80", 80).endpoint("10.180.0.9").from_endpoints_v1());
  EXPECT_THAT(nat(compile(cluster.build()), "KUBE-SVC-XPGD46QRK7WJZT7O").back(), HasSubstr("10.180.0.9:80"));

  cluster.add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.180.0.1"));
  EXPECT_THAT(nat(compile(cluster.build()), "KUBE-SVC-XPGD46QRK7WJZT7O").back(), HasSubstr("10.180.0.1:80"));
}

TEST(IptablesCompiler, DuplicateEndpointAcrossSlicesIsWrittenOnce) {
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1", "a").port("p80", 80).endpoint("10.180.0.1"))
                                  .add(SliceBuilder("ns1", "svc1", "b").port("p80", 80).endpoint("10.180.0.1").terminating(true))
                                  .build());
  EXPECT_EQ(nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O").size(), 2u);
}

TEST(IptablesCompiler, SameInputRendersToTheSameBytes) {
  ClusterState state = ClusterBuilder()
                           .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                           .add(ServiceBuilder("ns2", "svc2").cluster_ip("172.30.0.42").port("p80", 80))
                           .add(SliceBuilder("ns1", "svc1").port("p80", 80).endpoint("10.180.0.1").endpoint("10.180.0.2"))
                           .build();
  EXPECT_EQ(render_iptables_restore(compile(state)), render_iptables_restore(compile(state)));
}

}  // namespace
}  // namespace kubenat

namespace kubenat {
namespace {

using namespace kubenat::testing;

TEST(IptablesCompilerLargeCluster, DuplicateEndpointsDoNotCountTowardsTheThreshold) {
  ProxyConfig config = test_config();
  config.large_cluster_endpoints_threshold = 2;
  // Three slice entries, two distinct endpoints: not a large cluster.
  IptablesPlan plan = compile(ClusterBuilder()
                                  .add(ServiceBuilder("ns1", "svc1").cluster_ip("172.30.0.41").port("p80", 80))
                                  .add(SliceBuilder("ns1", "svc1", "a").port("p80", 80).endpoint("10.180.0.1").endpoint("10.180.0.2"))
                                  .add(SliceBuilder("ns1", "svc1", "b").port("p80", 80).endpoint("10.180.0.1"))
                                  .build(),
                              config);
  EXPECT_EQ(plan.total_endpoints, 2u);
  EXPECT_FALSE(plan.large_cluster_mode);
  EXPECT_THAT(nat(plan, "KUBE-SVC-XPGD46QRK7WJZT7O").back(), HasSubstr("-m comment --comment \"ns1/svc1:p80 -> "));
}

}  // namespace
}  // namespace kubenat
