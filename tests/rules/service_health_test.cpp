// What one Service tells load balancers and dashboards about this node.

#include "rules/service_health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using namespace kubenat::testing;
using ::testing::ElementsAre;

ProxyConfig node_a() {
  ProxyConfig config;
  config.node_name = "node-a";
  return config;
}

ServiceHealth health_of(const ClusterState& state, const ObjectName& id, const ProxyConfig& config = node_a()) {
  auto slices = state.slices.find(id);
  return service_health(state.services.at(id), slices == state.slices.end() ? nullptr : &slices->second, config, "");
}

ServiceBuilder local_load_balancer() {
  return ServiceBuilder("shop", "web")
      .type(ServiceType::LoadBalancer)
      .cluster_ip("10.96.0.10")
      .port("http", 80, Protocol::Tcp, 30080)
      .port("https", 443, Protocol::Tcp, 30443)
      .load_balancer_ip("203.0.113.10")
      .external_local()
      .health_check_node_port(32000);
}

TEST(ServiceHealth, ALocalLoadBalancerHasItsHealthCheckPortAndCountsReadyEndpointsHereOncePerIp) {
  const ClusterState state = ClusterBuilder()
                                 .add(local_load_balancer())
                                 .add(SliceBuilder("shop", "web")
                                          .port("http", 8080)
                                          .port("https", 8443)
                                          .endpoint("10.200.1.10", "node-a")
                                          .endpoint("10.200.1.11", "node-a")
                                          .endpoint("10.200.1.12", "node-a")
                                          .terminating(true)
                                          .endpoint("10.200.1.13", "node-a")
                                          .not_ready()
                                          .endpoint("10.200.2.10", "node-b"))
                                 .build();
  const ServiceHealth health = health_of(state, {"shop", "web"});
  EXPECT_EQ(health.health_check_node_port, 32000);
  EXPECT_EQ(health.local_ready_endpoints, 2u);
  EXPECT_EQ(health.no_local_external, 0u);
}

TEST(ServiceHealth, NoEndpointHereIsZeroAndEachExternalPortWithoutOne) {
  const ClusterState state = ClusterBuilder()
                                 .add(local_load_balancer())
                                 .add(SliceBuilder("shop", "web")
                                          .port("http", 8080)
                                          .port("https", 8443)
                                          .endpoint("10.200.2.10", "node-b"))
                                 .build();
  const ServiceHealth health = health_of(state, {"shop", "web"});
  EXPECT_EQ(health.health_check_node_port, 32000);
  EXPECT_EQ(health.local_ready_endpoints, 0u);
  EXPECT_EQ(health.no_local_external, 2u);
  EXPECT_EQ(health.no_local_internal, 0u);
}

TEST(ServiceHealth, AServingTerminatingEndpointHereStillTakesLocalTrafficButIsNotReady) {
  const ClusterState state = ClusterBuilder()
                                 .add(local_load_balancer())
                                 .add(SliceBuilder("shop", "web")
                                          .port("http", 8080)
                                          .port("https", 8443)
                                          .endpoint("10.200.1.12", "node-a")
                                          .terminating(true))
                                 .build();
  const ServiceHealth health = health_of(state, {"shop", "web"});
  EXPECT_EQ(health.local_ready_endpoints, 0u);
  EXPECT_EQ(health.no_local_external, 0u) << "the terminating endpoint serves Local traffic as a fallback";
}

TEST(ServiceHealth, OnlyLocalLoadBalancersHaveAHealthCheckPort) {
  const ClusterState state = ClusterBuilder()
                                 .add(ServiceBuilder("shop", "cluster-lb")
                                          .type(ServiceType::LoadBalancer)
                                          .cluster_ip("10.96.0.11")
                                          .port("http", 80, Protocol::Tcp, 30081)
                                          .health_check_node_port(32001))
                                 .add(ServiceBuilder("shop", "local-nodeport")
                                          .type(ServiceType::NodePort)
                                          .cluster_ip("10.96.0.12")
                                          .port("http", 80, Protocol::Tcp, 30082)
                                          .external_local()
                                          .health_check_node_port(32002))
                                 .build();
  EXPECT_EQ(health_of(state, {"shop", "cluster-lb"}).health_check_node_port, 0);
  EXPECT_EQ(health_of(state, {"shop", "local-nodeport"}).health_check_node_port, 0);
  EXPECT_EQ(health_of(state, {"shop", "local-nodeport"}).no_local_external, 1u);
}

TEST(ServiceHealth, InternalTrafficPolicyLocalWithoutAnEndpointHereCounts) {
  const ClusterState state = ClusterBuilder()
                                 .add(ServiceBuilder("shop", "api").cluster_ip("10.96.0.13").port("http", 80).internal_local())
                                 .add(SliceBuilder("shop", "api").port("http", 8080).endpoint("10.200.2.10", "node-b"))
                                 .build();
  const ServiceHealth health = health_of(state, {"shop", "api"});
  EXPECT_EQ(health.no_local_internal, 1u);
  EXPECT_EQ(health.no_local_external, 0u) << "not reachable from outside";
  EXPECT_EQ(health.health_check_node_port, 0);
}

TEST(ServiceHealth, CountsOnlyTheConfiguredFamily) {
  const ClusterState state = ClusterBuilder()
                                 .add(local_load_balancer())
                                 .add(SliceBuilder("shop", "web", "v6").ipv6().port("http", 8080).endpoint("fd00:200::10", "node-a"))
                                 .build();
  EXPECT_EQ(health_of(state, {"shop", "web"}).local_ready_endpoints, 0u);
}

TEST(NodeportIps, EveryAddressUnlessRestrictedInThisFamily) {
  ProxyConfig config;
  config.local_addresses = {ip("10.240.0.11"), ip("192.168.7.1"), ip("fd00:240::11"), ip("127.0.0.1")};
  EXPECT_FALSE(nodeport_ips(config));
  config.nodeport_addresses = {cidr("fd00:240::/64")};
  EXPECT_FALSE(nodeport_ips(config)) << "no IPv4 CIDR: every IPv4 address";
  config.nodeport_addresses = {cidr("10.240.0.0/24"), cidr("fd00:240::/64")};
  EXPECT_THAT(*nodeport_ips(config), ElementsAre(ip("10.240.0.11")));
  config.nodeport_addresses.push_back(cidr("0.0.0.0/0"));
  EXPECT_FALSE(nodeport_ips(config));
}

}  // namespace
}  // namespace kubenat
