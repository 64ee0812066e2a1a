// The model written back as Kubernetes objects reads back as itself.

#include "rules/encode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "rules/snapshot.h"
#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using namespace kubenat::testing;

const std::chrono::system_clock::time_point kTriggerTime =
    std::chrono::sys_days(std::chrono::year(2026) / 12 / 4) + std::chrono::hours(10);

ClusterState read_back(const ClusterState& state) {
  auto snapshot = read_snapshot(encode_cluster(state).dump());
  EXPECT_TRUE(snapshot) << snapshot.error();
  if (!snapshot) return {};
  for (const Diagnostic& d : snapshot->diagnostics) ADD_FAILURE() << d.to_string();
  return snapshot->state;
}

TEST(Encode, EveryServiceFieldReadsBack) {
  ClusterState state =
      ClusterBuilder()
          .add(ServiceBuilder("shop", "web")
                   .type(ServiceType::LoadBalancer)
                   .cluster_ip("10.96.0.10")
                   .port("http", 80, Protocol::Tcp, 30080)
                   .port("dns", 53, Protocol::Udp, 30053)
                   .external_ip("192.0.2.10")
                   .load_balancer_ip("203.0.113.7")
                   .source_range("198.51.100.0/24")
                   .external_local()
                   .internal_local()
                   .affinity(600)
                   .health_check_node_port(32000))
          .add(ServiceBuilder("shop", "api").cluster_ip("fd00:96::1").cluster_ip("10.96.0.11").port("", 443))
          .build();
  state.services.at({"shop", "web"}).last_change_trigger_time = kTriggerTime;
  EXPECT_EQ(read_back(state).services, state.services);
}

TEST(Encode, EverySliceFieldReadsBack) {
  ClusterState state = ClusterBuilder()
                           .add(SliceBuilder("shop", "web")
                                    .port("http", 8080)
                                    .port("dns", 53, Protocol::Udp)
                                    .endpoint("10.200.1.10", "node-a")
                                    .zone_hints({"zone-a"})
                                    .endpoint("10.200.1.11")
                                    .not_ready()
                                    .endpoint("10.200.1.12", "node-b")
                                    .terminating(true))
                           .add(SliceBuilder("shop", "web", "v6").ipv6().port("http", 8080).endpoint("fd00:200::1"))
                           .build();
  EndpointSlice& slice = state.slices.at({"shop", "web"}).at("web-1");
  slice.ports.push_back(EndpointPort{std::nullopt, Protocol::Sctp, 0});  // nil name, no port
  slice.endpoints[0].zone = "zone-a";
  slice.endpoints[0].hints = EndpointHints({"zone-a"}, {"node-a"});
  slice.last_change_trigger_time = kTriggerTime + std::chrono::nanoseconds(123);
  EXPECT_EQ(read_back(state).slices, state.slices);
}

TEST(Encode, NodesReadBack) {
  ClusterState state = ClusterBuilder().node("node-a", "zone-a").node("node-b").build();
  state.nodes["node-a"].addresses = {{"InternalIP", "10.240.0.11"}, {"Hostname", "node-a"}};
  state.nodes["node-a"].pod_cidrs = {*Cidr::parse("10.200.1.0/24"), *Cidr::parse("fd00:200:1::/64")};
  state.nodes["node-b"].being_deleted = true;
  state.nodes["node-b"].taint_keys = {std::string(kToBeDeletedTaint), "example.com/other"};
  EXPECT_EQ(read_back(state).nodes, state.nodes);
}

}  // namespace
}  // namespace kubenat
