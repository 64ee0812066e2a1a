// Which remembered session-affinity clients a plan no longer allows, and
// which changes can leave such entries behind.

#include "rules/nftables/affinity_cleanup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/nftables/compiler.h"
#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace kubenat::testing;

constexpr const char* kClusterIp = "10.96.0.10";
constexpr const char* kNodeIp = "192.168.0.2";
constexpr const char* kOutsideClient = "198.51.100.7";
constexpr const char* kPodClient = "10.2.0.9";

ProxyConfig config() {
  ProxyConfig c;
  c.node_name = "node-a";
  c.node_ips = {ip(kNodeIp)};
  c.cluster_cidrs = {cidr("10.0.0.0/8")};
  return c;
}

const std::vector<Cidr> kClusterSources = {cidr("10.0.0.0/8"), cidr("192.168.0.2/32")};

std::uint16_t port(int p) { return static_cast<std::uint16_t>(p); }

// Endpoints ending in .1 run on this node.
ClusterState web(std::vector<std::string> endpoints, ServiceBuilder service) {
  ClusterBuilder b;
  b.add(service.build());
  SliceBuilder slice("ns", "web");
  slice.port("http", 8080);
  for (const std::string& ep : endpoints) slice.endpoint(ep, ep.ends_with(".1") ? "node-a" : "node-b");
  b.add(slice.build());
  return b.build();
}

ServiceBuilder sticky() {
  return ServiceBuilder("ns", "web").type(ServiceType::NodePort).cluster_ip(kClusterIp)
      .port("http", 80, Protocol::Tcp, 30080).affinity();
}

NftElement remembered(const char* client, const char* address, int service_port, const char* endpoint) {
  return NftElement{{ip(client), ip(address), Protocol::Tcp, port(service_port)}, {ip(endpoint), port(8080)}};
}

std::vector<NftElement> stale(const ClusterState& state, const std::vector<NftElement>& entries) {
  return stale_affinity_entries(compile_nft(state, config()).plan, kClusterSources, entries);
}

const NftServicePortRules& only_port(const NftPlan& plan) { return *plan.service_ports.begin()->second; }

TEST(NftAffinityCleanup, ClientRememberedWithACurrentEndpointStays) {
  EXPECT_THAT(stale(web({"10.1.0.1", "10.1.0.2"}, sticky()), {remembered(kOutsideClient, kClusterIp, 80, "10.1.0.2")}),
              IsEmpty());
}

TEST(NftAffinityCleanup, ClientRememberedWithAGoneEndpointIsStale) {
  const NftElement entry = remembered(kOutsideClient, kClusterIp, 80, "10.1.0.3");
  EXPECT_THAT(stale(web({"10.1.0.1", "10.1.0.2"}, sticky()), {entry}), ElementsAre(entry));
}

TEST(NftAffinityCleanup, ClientOfAServiceThatLostAffinityIsStale) {
  const NftElement entry = remembered(kOutsideClient, kClusterIp, 80, "10.1.0.1");
  ServiceBuilder plain = ServiceBuilder("ns", "web").cluster_ip(kClusterIp).port("http", 80);
  EXPECT_THAT(stale(web({"10.1.0.1"}, plain), {entry}), ElementsAre(entry));
}

TEST(NftAffinityCleanup, NodePortClientIsJudgedByTheNodePortsEndpoints) {
  const NftElement kept = remembered(kOutsideClient, kNodeIp, 30080, "10.1.0.2");
  const NftElement gone = remembered(kOutsideClient, kNodeIp, 30080, "10.1.0.4");
  EXPECT_THAT(stale(web({"10.1.0.1", "10.1.0.2"}, sticky()), {kept, gone}), ElementsAre(gone));
}

TEST(NftAffinityCleanup, OutsideClientOfALocalPolicyNodePortMayOnlyStayOnALocalEndpoint) {
  ClusterState state = web({"10.1.0.1", "10.1.0.2"}, sticky().external_local());
  const NftElement outside_remote = remembered(kOutsideClient, kNodeIp, 30080, "10.1.0.2");
  const NftElement outside_local = remembered(kOutsideClient, kNodeIp, 30080, "10.1.0.1");
  const NftElement pod_remote = remembered(kPodClient, kNodeIp, 30080, "10.1.0.2");
  EXPECT_THAT(stale(state, {outside_remote, outside_local, pod_remote}), ElementsAre(outside_remote));
}

TEST(NftAffinityCleanup, EntryOfAnotherShapeIsLeftAlone) {
  EXPECT_THAT(stale(web({"10.1.0.1"}, sticky()), {NftElement{{ip(kOutsideClient)}, {}}}), IsEmpty());
}

TEST(NftAffinityCleanup, RemovingAnEndpointCanLeaveEntriesBehind) {
  NftPlan before = compile_nft(web({"10.1.0.1", "10.1.0.2"}, sticky()), config()).plan;
  NftPlan after = compile_nft(web({"10.1.0.1"}, sticky()), config()).plan;
  EXPECT_TRUE(affinity_endpoints_lost(&only_port(before), &only_port(after)));
}

TEST(NftAffinityCleanup, AddingAnEndpointLeavesNoEntryBehind) {
  NftPlan before = compile_nft(web({"10.1.0.1"}, sticky()), config()).plan;
  NftPlan after = compile_nft(web({"10.1.0.1", "10.1.0.2"}, sticky()), config()).plan;
  EXPECT_FALSE(affinity_endpoints_lost(&only_port(before), &only_port(after)));
}

TEST(NftAffinityCleanup, RemovingAServiceWithAffinityCanLeaveEntriesBehind) {
  NftPlan before = compile_nft(web({"10.1.0.1"}, sticky()), config()).plan;
  EXPECT_TRUE(affinity_endpoints_lost(&only_port(before), nullptr));
}

TEST(NftAffinityCleanup, ChangesToServicesWithoutAffinityNeverCallForACleanup) {
  ServiceBuilder plain = ServiceBuilder("ns", "web").cluster_ip(kClusterIp).port("http", 80);
  NftPlan before = compile_nft(web({"10.1.0.1", "10.1.0.2"}, plain), config()).plan;
  EXPECT_FALSE(affinity_endpoints_lost(&only_port(before), nullptr));
}

}  // namespace
}  // namespace kubenat
