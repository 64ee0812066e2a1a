// Which UDP conntrack entries a plan change leaves stale: flows pinned to an
// endpoint that is gone, and flows that got the "no endpoints" verdict
// before a service had any.

#include "rules/conntrack_cleanup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/iptables/compiler.h"
#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using namespace kubenat::testing;

ProxyConfig test_config(IpFamily family = IpFamily::V4) {
  ProxyConfig config;
  config.node_name = "test-node";
  config.family = family;
  if (family == IpFamily::V4) {
    config.node_ips = {ip("192.168.0.2")};
    config.cluster_cidrs = {cidr("10.0.0.0/8")};
  } else {
    config.node_ips = {ip("fd00:1::2")};
    config.cluster_cidrs = {cidr("fd00:10::/64")};
  }
  return config;
}

IptablesPlan compile(const ClusterState& state, IpFamily family = IpFamily::V4) {
  return compile_iptables(state, test_config(family)).plan;
}

// kube-system/dns: a UDP LoadBalancer Service with an external IP, a load
// balancer IP and NodePort 30053, with the given endpoints (port 5353).
ClusterState dns(const std::vector<std::string>& endpoints, Protocol protocol = Protocol::Udp) {
  ClusterBuilder cluster;
  cluster.add(ServiceBuilder("kube-system", "dns").type(ServiceType::LoadBalancer).cluster_ip("172.30.0.10")
                  .port("dns", 53, protocol, 30053).external_ip("192.168.99.1").load_balancer_ip("5.6.7.8"));
  if (!endpoints.empty()) {
    SliceBuilder slice("kube-system", "dns");
    slice.port("dns", 5353, protocol);
    for (const std::string& endpoint : endpoints) slice.endpoint(endpoint);
    cluster.add(slice.build());
  }
  return cluster.build();
}

// A UDP ClusterIP Service ns/cip with the given endpoints (port 53).
ClusterState cluster_ip_service(const std::vector<std::string>& endpoints) {
  ClusterBuilder cluster;
  cluster.add(ServiceBuilder("ns", "cip").cluster_ip("172.30.0.20").port("p", 53, Protocol::Udp));
  SliceBuilder slice("ns", "cip");
  slice.port("p", 53, Protocol::Udp);
  for (const std::string& endpoint : endpoints) slice.endpoint(endpoint);
  cluster.add(slice.build());
  return cluster.build();
}

ConntrackFilter to(const std::string& destination, int port, const std::string& reply_source, int reply_port) {
  return ConntrackFilter{ip(destination).family(), ip(destination), port, ip(reply_source), reply_port};
}
ConntrackFilter to_node_port(int node_port, const std::string& reply_source, int reply_port) {
  return ConntrackFilter{ip(reply_source).family(), std::nullopt, node_port, ip(reply_source), reply_port};
}
ConntrackFilter every_flow_to(const std::string& destination, int port) {
  return ConntrackFilter{ip(destination).family(), ip(destination), port, std::nullopt, std::nullopt};
}
ConntrackFilter every_flow_to_node_port(int node_port, IpFamily family = IpFamily::V4) {
  return ConntrackFilter{family, std::nullopt, node_port, std::nullopt, std::nullopt};
}

TEST(StaleUdpFlows, RemovedEndpointClearsItsFlowsToEveryServiceAddressAndTheNodePort) {
  const IptablesPlan before = compile(dns({"10.180.0.1", "10.180.0.2"}));
  EXPECT_THAT(stale_udp_flows(&before, compile(dns({"10.180.0.1"}))),
              UnorderedElementsAre(to("172.30.0.10", 53, "10.180.0.2", 5353), to("192.168.99.1", 53, "10.180.0.2", 5353),
                                   to("5.6.7.8", 53, "10.180.0.2", 5353), to_node_port(30053, "10.180.0.2", 5353)));
}

TEST(StaleUdpFlows, ServiceGainingItsFirstEndpointClearsEveryFlowToItsAddressesAndNodePort) {
  const IptablesPlan before = compile(dns({}));
  EXPECT_THAT(stale_udp_flows(&before, compile(dns({"10.180.0.1"}))),
              UnorderedElementsAre(every_flow_to("172.30.0.10", 53), every_flow_to("192.168.99.1", 53),
                                   every_flow_to("5.6.7.8", 53), every_flow_to_node_port(30053)));
}

TEST(StaleUdpFlows, ServiceLosingItsLastEndpointClearsTheFlowsOfThatEndpoint) {
  const IptablesPlan before = compile(dns({"10.180.0.1"}));
  EXPECT_THAT(stale_udp_flows(&before, compile(dns({}))),
              UnorderedElementsAre(to("172.30.0.10", 53, "10.180.0.1", 5353), to("192.168.99.1", 53, "10.180.0.1", 5353),
                                   to("5.6.7.8", 53, "10.180.0.1", 5353), to_node_port(30053, "10.180.0.1", 5353)));
}

TEST(StaleUdpFlows, RemovedServiceClearsTheFlowsOfEachOfItsEndpoints) {
  const IptablesPlan before = compile(dns({"10.180.0.1", "10.180.0.2"}));
  EXPECT_THAT(stale_udp_flows(&before, compile(ClusterState{})),
              UnorderedElementsAre(to("172.30.0.10", 53, "10.180.0.1", 5353), to("192.168.99.1", 53, "10.180.0.1", 5353),
                                   to("5.6.7.8", 53, "10.180.0.1", 5353), to_node_port(30053, "10.180.0.1", 5353),
                                   to("172.30.0.10", 53, "10.180.0.2", 5353), to("192.168.99.1", 53, "10.180.0.2", 5353),
                                   to("5.6.7.8", 53, "10.180.0.2", 5353), to_node_port(30053, "10.180.0.2", 5353)));
}

TEST(StaleUdpFlows, AddedEndpointNextToExistingOnesLeavesNothingStale) {
  const IptablesPlan before = compile(dns({"10.180.0.1"}));
  EXPECT_THAT(stale_udp_flows(&before, compile(dns({"10.180.0.1", "10.180.0.2"}))), IsEmpty());
}

TEST(StaleUdpFlows, ClusterIpServiceHasNoNodePortFilter) {
  const IptablesPlan before = compile(cluster_ip_service({"10.180.0.1", "10.180.0.2"}));
  EXPECT_THAT(stale_udp_flows(&before, compile(cluster_ip_service({"10.180.0.2"}))),
              UnorderedElementsAre(to("172.30.0.20", 53, "10.180.0.1", 53)));
}

TEST(StaleUdpFlows, TcpServicesNeverNeedCleanup) {
  const IptablesPlan before = compile(dns({"10.180.0.1", "10.180.0.2"}, Protocol::Tcp));
  EXPECT_THAT(stale_udp_flows(&before, compile(dns({"10.180.0.1"}, Protocol::Tcp))), IsEmpty());
  EXPECT_THAT(stale_udp_flows(&before, compile(ClusterState{})), IsEmpty());
  const IptablesPlan empty = compile(dns({}, Protocol::Tcp));
  EXPECT_THAT(stale_udp_flows(&empty, compile(dns({"10.180.0.1"}, Protocol::Tcp))), IsEmpty());
}

TEST(StaleUdpFlows, UnchangedPlanLeavesNothingStale) {
  const IptablesPlan plan = compile(dns({"10.180.0.1", "10.180.0.2"}));
  EXPECT_THAT(stale_udp_flows(&plan, plan), IsEmpty());
}

TEST(StaleUdpFlows, FirstSyncTreatsEveryUdpServiceWithEndpointsAsHavingGainedThem) {
  EXPECT_THAT(stale_udp_flows<IptablesPlan>(nullptr, compile(dns({"10.180.0.1"}))),
              UnorderedElementsAre(every_flow_to("172.30.0.10", 53), every_flow_to("192.168.99.1", 53),
                                   every_flow_to("5.6.7.8", 53), every_flow_to_node_port(30053)));
}

TEST(StaleUdpFlows, FirstSyncLeavesUdpServicesWithoutEndpointsAlone) {
  EXPECT_THAT(stale_udp_flows<IptablesPlan>(nullptr, compile(dns({}))), IsEmpty());
}

ClusterState dns_v6(const std::vector<std::string>& endpoints) {
  ClusterBuilder cluster;
  cluster.add(ServiceBuilder("kube-system", "dns").type(ServiceType::NodePort).cluster_ip("fd00:30::10")
                  .port("dns", 53, Protocol::Udp, 30053));
  SliceBuilder slice("kube-system", "dns");
  slice.ipv6().port("dns", 53, Protocol::Udp);
  for (const std::string& endpoint : endpoints) slice.endpoint(endpoint);
  cluster.add(slice.build());
  return cluster.build();
}

TEST(StaleUdpFlows, Ipv6PlanGivesIpv6Filters) {
  const IptablesPlan before = compile(dns_v6({"fd00:10::1", "fd00:10::2"}), IpFamily::V6);
  EXPECT_THAT(stale_udp_flows(&before, compile(dns_v6({"fd00:10::1"}), IpFamily::V6)),
              UnorderedElementsAre(to("fd00:30::10", 53, "fd00:10::2", 53), to_node_port(30053, "fd00:10::2", 53)));
  EXPECT_THAT(stale_udp_flows<IptablesPlan>(nullptr, before),
              UnorderedElementsAre(every_flow_to("fd00:30::10", 53), every_flow_to_node_port(30053, IpFamily::V6)));
}

TEST(ConntrackFilter, ToStringNamesEverySetField) {
  EXPECT_EQ(to("172.30.0.10", 53, "10.180.0.2", 5353).to_string(), "udp orig-dst 172.30.0.10:53 reply-src 10.180.0.2:5353");
  EXPECT_EQ(to_node_port(30053, "10.180.0.2", 5353).to_string(), "udp orig-dst *:30053 reply-src 10.180.0.2:5353");
  EXPECT_EQ(every_flow_to("172.30.0.10", 53).to_string(), "udp orig-dst 172.30.0.10:53");
  EXPECT_EQ(ConntrackFilter{}.to_string(), "udp");
}

TEST(ConntrackFilter, ToStringBracketsIpv6AddressesFollowedByAPort) {
  EXPECT_EQ(to("fd00:30::10", 53, "fd00:10::2", 53).to_string(), "udp orig-dst [fd00:30::10]:53 reply-src [fd00:10::2]:53");
  EXPECT_EQ(to_node_port(30053, "fd00:10::2", 53).to_string(), "udp orig-dst *:30053 reply-src [fd00:10::2]:53");
}

}  // namespace
}  // namespace kubenat
