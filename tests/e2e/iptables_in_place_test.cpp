// Services added and removed by editing the shared iptables chains in place
// (`-I KUBE-SERVICES <n>`, `-D KUBE-SERVICES <rule>`) instead of rewriting
// them, on iptables-nft and iptables-legacy: real packets reach the added
// Service and no longer the removed one, the NodePort catch-all stays the
// last rule of KUBE-SERVICES, and the kernel ends up holding exactly what a
// full sync of the same cluster writes, rule order included.

#include <gtest/gtest.h>

#include <unistd.h>

#include "engine/iptables/runner.h"
#include "engine/network_namespace.h"
#include "rules/iptables/save.h"
#include "tests/e2e/netns_world.h"
#include "tests/e2e/proxy_driver.h"
#include "tests/support/cluster_builder.h"

namespace kubenat::e2e {
namespace {

using namespace kubenat::testing;

constexpr const char* kNode = "test-node";
constexpr int kServicePort = 80;
constexpr int kBackendPort = 8080;
constexpr int kPods = 4;
constexpr const char* kAddedIp = "10.96.0.50";

ProxyConfig node_config() {
  ProxyConfig config;
  config.node_name = kNode;
  config.node_ips = {ip(NetnsWorld::kNodeIp)};
  config.cluster_cidrs = {cidr(NetnsWorld::pod_cidr(IpFamily::V4))};
  return config;
}

// A namespace of the test's own ("i" for in place), named so that the
// stale-namespace cleanup recognises it.
std::expected<ScopedNetworkNamespace, std::string> bare_namespace(const std::string& role) {
  static int counter = 0;
  return ScopedNetworkNamespace::create("kn" + std::to_string(::getpid()) + "i" + std::to_string(counter++) + "-" +
                                        role);
}

std::vector<DriverKind> iptables_kinds() {
  return {{"iptables_nft", ProxyDriver::Backend::IptablesNft},
          {"iptables_legacy", ProxyDriver::Backend::IptablesLegacy}};
}

class IptablesInPlaceTest : public ::testing::TestWithParam<DriverKind> {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto world = NetnsWorld::create(kPods);
    ASSERT_TRUE(world) << world.error();
    world_ = std::move(*world);
    for (int pod = 0; pod < kPods; ++pod) {
      auto started = world_->start_echo(pod, kBackendPort);
      ASSERT_TRUE(started) << started.error();
    }
    driver_ = GetParam().make(world_->node_ns(), node_config());
  }

  // Service shop/<name> at `cluster_ip`, served by pod `pod`; a NodePort
  // Service when `node_port` is set.
  void add(ClusterBuilder& cluster, const std::string& name, const std::string& cluster_ip, int pod,
           int node_port = 0) const {
    ServiceBuilder service("shop", name);
    if (node_port != 0) service.type(ServiceType::NodePort);
    service.cluster_ip(cluster_ip).port("http", kServicePort, Protocol::Tcp, node_port);
    cluster.add(service.build())
        .add(SliceBuilder("shop", name).port("http", kBackendPort).endpoint(world_->pod_ip(pod), kNode).build());
  }

  // Services around the one the test adds, before and after it in name
  // order, so that it is inserted in the middle of KUBE-SERVICES.
  ClusterBuilder others() const {
    ClusterBuilder cluster;
    add(cluster, "a-first", "10.96.0.11", 0, 30081);
    add(cluster, "b-second", "10.96.0.12", 1);
    add(cluster, "y-last-but-one", "10.96.0.13", 2);
    add(cluster, "z-last", "10.96.0.14", 3, 30084);
    return cluster;
  }
  ClusterState with_added() const {
    ClusterBuilder cluster = others();
    add(cluster, "m-added", kAddedIp, 2, 30085);
    return cluster.build();
  }

  SyncResult sync(const ClusterState& state) {
    auto result = driver_->sync(state);
    EXPECT_TRUE(result) << result.error();
    return result.value_or(SyncResult{});
  }

  ProbeResult tcp(const std::string& ip, int port, int count) {
    auto result = world_->tcp(world_->client_ns(), ip, port, ProbeOptions{.count = count, .timeout_ms = 1000});
    EXPECT_TRUE(result) << result.error();
    return result.value_or(ProbeResult{});
  }

  std::vector<std::string> nat_kube_services() {
    ProcessIptablesRunner runner(GetParam().backend == ProxyDriver::Backend::IptablesLegacy ? IptablesMode::Legacy
                                                                                            : IptablesMode::Nft,
                                 world_->node_ns());
    auto text = runner.save(IpFamily::V4, "nat");
    EXPECT_TRUE(text) << text.error();
    if (!text) return {};
    return parse_iptables_save(*text)["nat"].rules["KUBE-SERVICES"];
  }

  // What a full sync of `state` into a namespace of its own leaves.
  std::string fresh_full_sync(const ClusterState& state) {
    auto fresh = bare_namespace("full");
    EXPECT_TRUE(fresh) << fresh.error();
    if (!fresh) return {};
    std::unique_ptr<ProxyDriver> driver = GetParam().make(fresh->name(), node_config());
    auto result = driver->sync(state);
    EXPECT_TRUE(result && result->full) << (result ? result->reason : result.error());
    auto rules = driver->normalized_rules();
    EXPECT_TRUE(rules) << rules.error();
    return rules.value_or("");
  }

  std::string rules() {
    auto text = driver_->normalized_rules();
    EXPECT_TRUE(text) << text.error();
    return text.value_or("");
  }

  std::unique_ptr<NetnsWorld> world_;
  std::unique_ptr<ProxyDriver> driver_;
};

void expect_catch_all_last(const std::vector<std::string>& rules) {
  ASSERT_FALSE(rules.empty());
  EXPECT_NE(rules.back().find("--dst-type LOCAL"), std::string::npos) << rules.back();
  EXPECT_NE(rules.back().find("-j KUBE-NODEPORTS"), std::string::npos) << rules.back();
}

TEST_P(IptablesInPlaceTest, AddedServiceIsInsertedInPlaceAndAnswers) {
  ASSERT_TRUE(sync(others().build()).full);
  ASSERT_EQ(tcp(kAddedIp, kServicePort, 2).answered(), 0);

  const SyncResult added = sync(with_added());
  EXPECT_FALSE(added.full);
  EXPECT_NE(added.summary.find("edited in place"), std::string::npos) << added.summary;
  EXPECT_EQ(added.warnings, std::vector<std::string>{});

  ProbeResult result = tcp(kAddedIp, kServicePort, 20);
  EXPECT_EQ(result.answered(), 20) << result;
  EXPECT_EQ(result.answers[world_->pod_name(2)], 20) << result;
  ProbeResult node_port = tcp(NetnsWorld::kNodeIp, 30085, 10);
  EXPECT_EQ(node_port.answers[world_->pod_name(2)], 10) << node_port;
  EXPECT_EQ(tcp("10.96.0.14", kServicePort, 10).answers[world_->pod_name(3)], 10);
  expect_catch_all_last(nat_kube_services());
  EXPECT_EQ(rules(), fresh_full_sync(with_added()));
}

TEST_P(IptablesInPlaceTest, RemovedServiceIsDeletedInPlaceAndNoLongerAnswers) {
  ASSERT_TRUE(sync(with_added()).full);
  ASSERT_EQ(tcp(kAddedIp, kServicePort, 5).answered(), 5);

  const SyncResult removed = sync(others().build());
  EXPECT_FALSE(removed.full);
  EXPECT_NE(removed.summary.find("edited in place"), std::string::npos) << removed.summary;
  EXPECT_EQ(removed.warnings, std::vector<std::string>{});

  EXPECT_EQ(tcp(kAddedIp, kServicePort, 3).answered(), 0);
  EXPECT_EQ(tcp(NetnsWorld::kNodeIp, 30085, 3).answered(), 0);
  EXPECT_EQ(tcp("10.96.0.11", kServicePort, 10).answers[world_->pod_name(0)], 10);
  EXPECT_EQ(tcp(NetnsWorld::kNodeIp, 30084, 10).answers[world_->pod_name(3)], 10);
  expect_catch_all_last(nat_kube_services());
  EXPECT_EQ(rules(), fresh_full_sync(others().build()));
}

TEST_P(IptablesInPlaceTest, ServicesAddedAndRemovedOneByOneEqualAFullSyncRuleForRule) {
  ClusterBuilder cluster = others();
  ASSERT_TRUE(sync(cluster.build()).full);
  // Added in an order unlike the name order, then some removed.
  for (int i : {5, 1, 8, 3, 7}) {
    add(cluster, "svc-" + std::to_string(i), "10.96.1." + std::to_string(i), i % kPods, i % 2 ? 30100 + i : 0);
    EXPECT_FALSE(sync(cluster.build()).full) << "adding svc-" << i;
  }
  ClusterState state = cluster.build();
  for (const char* name : {"svc-1", "a-first", "svc-7"}) {
    state.services.erase(ObjectName{"shop", name});
    state.slices.erase(ObjectName{"shop", name});
    EXPECT_FALSE(sync(state).full) << "removing " << name;
  }
  expect_catch_all_last(nat_kube_services());
  EXPECT_EQ(rules(), fresh_full_sync(state));
  EXPECT_EQ(tcp("10.96.1.8", kServicePort, 10).answers[world_->pod_name(0)], 10);
  EXPECT_EQ(tcp("10.96.1.1", kServicePort, 3).answered(), 0);
}

TEST_P(IptablesInPlaceTest, RuleSomeoneElseDeletedMakesTheSyncRewriteKubeServices) {
  ASSERT_TRUE(sync(with_added()).full);
  std::string comment;
  for (const std::string& rule : nat_kube_services()) {
    if (rule.find("shop/m-added:http cluster IP") != std::string::npos) comment = rule;
  }
  ASSERT_FALSE(comment.empty());
  auto deleted = driver_->write_foreign_rules("*nat\n-D KUBE-SERVICES " + comment + "\nCOMMIT\n");
  ASSERT_TRUE(deleted) << deleted.error();

  const SyncResult removed = sync(others().build());
  EXPECT_FALSE(removed.full);
  ASSERT_EQ(removed.warnings.size(), 1u);
  EXPECT_NE(removed.warnings[0].find("editing the shared chains in place failed"), std::string::npos)
      << removed.warnings[0];
  expect_catch_all_last(nat_kube_services());
  EXPECT_EQ(rules(), fresh_full_sync(others().build()));
}

INSTANTIATE_TEST_SUITE_P(Iptables, IptablesInPlaceTest, ::testing::ValuesIn(iptables_kinds()),
                         [](const ::testing::TestParamInfo<DriverKind>& param) { return param.param.name; });

}  // namespace
}  // namespace kubenat::e2e
