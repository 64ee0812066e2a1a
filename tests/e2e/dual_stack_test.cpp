// One `kubenat run` on a dual-stack node: the Node has an IPv4 and an IPv6
// InternalIP, so the daemon proxies both families in one sync loop
// (iptables and ip6tables, or the ip and ip6 nftables tables). Real
// connections from the client over each family show a dual-stack Service on
// both cluster IPs, a NodePort on both node addresses and an IPv6-only
// Service; scaling and deletion follow on both; /healthz and the metrics
// speak of both families.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/process.h"
#include "tests/e2e/daemon.h"

namespace kubenat::e2e {
namespace {

using namespace std::chrono_literals;

constexpr int kNodePort = 30080;

// A Service of the given families, in order (the first is its primary):
// port "http" 80 -> 8080, with `node_port` a NodePort Service.
std::string service_of(const std::string& name, const std::vector<std::string>& cluster_ips, int node_port = 0) {
  std::string families;
  std::string ips;
  for (const std::string& ip : cluster_ips) {
    families += std::string(families.empty() ? "" : ", ") + (ip.find(':') == std::string::npos ? "IPv4" : "IPv6");
    ips += (ips.empty() ? "" : ", ") + ("\"" + ip + "\"");
  }
  std::string out = "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
                    "\n  namespace: default\nspec:\n  type: " + (node_port != 0 ? "NodePort" : "ClusterIP") +
                    "\n  clusterIP: " + cluster_ips.front() + "\n  clusterIPs: [" + ips + "]\n  ipFamilies: [" +
                    families + "]\n  ipFamilyPolicy: " + (cluster_ips.size() > 1 ? "RequireDualStack" : "SingleStack") +
                    "\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n    protocol: TCP\n";
  if (node_port != 0) out += "    nodePort: " + std::to_string(node_port) + "\n";
  return out;
}

// The Service's EndpointSlice of one family, as the EndpointSlice controller
// makes one per family: the pods' addresses of that family, on this node.
std::string slice_of(const std::string& service, IpFamily family, const std::vector<std::string>& ips) {
  const std::string type = family == IpFamily::V4 ? "IPv4" : "IPv6";
  std::string out = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + service + "-" +
                    (family == IpFamily::V4 ? "v4" : "v6") + "\n  namespace: default\n  labels:\n" +
                    "    kubernetes.io/service-name: " + service + "\naddressType: " + type +
                    "\nports:\n- name: http\n  port: 8080\n  protocol: TCP\nendpoints:" + (ips.empty() ? " []\n" : "\n");
  for (const std::string& ip : ips) {
    out += "- addresses: [\"" + ip + "\"]\n  conditions: {ready: true}\n  nodeName: " +
           std::string(DaemonWorld::kNodeName) + "\n";
  }
  return out;
}

// The Node with an InternalIP of each family: what makes the daemon
// dual-stack, with IPv4 its primary family.
std::string dual_stack_node() {
  return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + std::string(DaemonWorld::kNodeName) +
         "\nstatus:\n  addresses:\n  - type: InternalIP\n    address: " + NetnsWorld::kNodeIp +
         "\n  - type: InternalIP\n    address: " + NetnsWorld::kNodeIp6 + "\n";
}

class DualStackDaemonTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_DAEMON_WORLD();
    auto d = DaemonWorld::create(4, DaemonOptions{.start = false});
    ASSERT_TRUE(d) << d.error();
    d_ = std::move(*d);
    ASSERT_TRUE(d_->kubectl_apply(dual_stack_node()));
    ASSERT_TRUE(d_->start_daemon_with({"--proxy-mode", GetParam()}));
  }
  void TearDown() override {
    if (d_ && HasFailure()) std::cerr << "kubenat run's log:\n" << d_->daemon_log();
  }

  std::vector<std::string> pod_ips(IpFamily family, const std::vector<int>& pods) {
    std::vector<std::string> out;
    for (int pod : pods) out.push_back(d_->world().pod_ip(pod, family));
    return out;
  }
  void create(const std::string& name, const std::vector<std::string>& cluster_ips, const std::vector<int>& pods,
              int node_port = 0) {
    ASSERT_TRUE(d_->kubectl_apply(service_of(name, cluster_ips, node_port)));
    for (const std::string& ip : cluster_ips) {
      const IpFamily family = ip.find(':') == std::string::npos ? IpFamily::V4 : IpFamily::V6;
      ASSERT_TRUE(d_->kubectl_apply(slice_of(name, family, pod_ips(family, pods))));
    }
  }
  ProbeResult probe(const std::string& ip, int port = 80, int count = 1) {
    auto result = d_->world().tcp(d_->world().client_ns(), ip, port, ProbeOptions{.count = count, .timeout_ms = 500});
    return result.value_or(ProbeResult{});
  }
  bool answers(const std::string& ip, int port = 80) { return probe(ip, port).answered() == 1; }

  std::unique_ptr<DaemonWorld> d_;
};

TEST_P(DualStackDaemonTest, ADualStackServiceAnswersOnBothClusterIps) {
  create("web", {"10.96.0.80", "fd00:96::80"}, {0, 1, 2, 3});
  ASSERT_TRUE(wait_until([&] { return answers("10.96.0.80") && answers("fd00:96::80"); }, 3s))
      << probe("10.96.0.80") << probe("fd00:96::80");
  for (const char* ip : {"10.96.0.80", "fd00:96::80"}) {
    const ProbeResult result = probe(ip, 80, 60);
    EXPECT_EQ(result.answered(), 60) << ip << ": " << result;
    EXPECT_EQ(result.answers.size(), 4u) << ip << ": every pod serves it: " << result;
  }
}

TEST_P(DualStackDaemonTest, ANodePortAnswersOnBothNodeAddresses) {
  create("web", {"10.96.0.81", "fd00:96::81"}, {0, 1}, kNodePort);
  EXPECT_TRUE(wait_until([&] { return answers(NetnsWorld::kNodeIp, kNodePort); }, 3s))
      << probe(NetnsWorld::kNodeIp, kNodePort);
  EXPECT_TRUE(wait_until([&] { return answers(NetnsWorld::kNodeIp6, kNodePort); }, 3s))
      << probe(NetnsWorld::kNodeIp6, kNodePort);
}

TEST_P(DualStackDaemonTest, AnIpv6OnlyServiceAnswersOnItsOneClusterIp) {
  create("six", {"fd00:96::82"}, {2});
  ASSERT_TRUE(wait_until([&] { return answers("fd00:96::82"); }, 3s)) << probe("fd00:96::82");
  EXPECT_EQ(probe("fd00:96::82", 80, 10).answers["pod-2"], 10);
}

TEST_P(DualStackDaemonTest, ScalingMovesTrafficOnBothFamilies) {
  create("web", {"10.96.0.83", "fd00:96::83"}, {0, 1});
  ASSERT_TRUE(wait_until([&] { return answers("10.96.0.83") && answers("fd00:96::83"); }, 3s));
  ASSERT_TRUE(d_->kubectl_apply(slice_of("web", IpFamily::V4, pod_ips(IpFamily::V4, {2, 3}))));
  ASSERT_TRUE(d_->kubectl_apply(slice_of("web", IpFamily::V6, pod_ips(IpFamily::V6, {2, 3}))));
  for (const char* ip : {"10.96.0.83", "fd00:96::83"}) {
    const bool moved = wait_until(
        [&] {
          ProbeResult r = probe(ip, 80, 30);
          return r.answered() == 30 && r.answers.count("pod-0") == 0 && r.answers.count("pod-1") == 0;
        },
        3s);
    EXPECT_TRUE(moved) << ip << ": " << probe(ip, 80, 30);
  }
}

TEST_P(DualStackDaemonTest, DeletingTheServiceTakesItOffBothFamilies) {
  create("web", {"10.96.0.84", "fd00:96::84"}, {0});
  ASSERT_TRUE(wait_until([&] { return answers("10.96.0.84") && answers("fd00:96::84"); }, 3s));
  ASSERT_TRUE(d_->kubectl({"delete", "service", "web", "-n", "default"}));
  // No rule translates the addresses any more: the client's upstream role
  // answers "unreachable" for the service ranges.
  EXPECT_TRUE(wait_until([&] { return probe("10.96.0.84").unreachable == 1; }, 3s)) << probe("10.96.0.84");
  EXPECT_TRUE(wait_until([&] { return probe("fd00:96::84").unreachable == 1; }, 3s)) << probe("fd00:96::84");
}

TEST_P(DualStackDaemonTest, HealthzAndTheMetricsSpeakOfBothFamilies) {
  create("web", {"10.96.0.85", "fd00:96::85"}, {0});
  ASSERT_TRUE(wait_until([&] { return answers("10.96.0.85") && answers("fd00:96::85"); }, 3s));
  auto health = d_->http(DaemonWorld::kHealthzPort, "/healthz");
  ASSERT_TRUE(health) << health.error();
  EXPECT_NE(health->find("\"IPv4\":{"), std::string::npos) << *health;
  EXPECT_NE(health->find("\"IPv6\":{"), std::string::npos) << *health;
  for (const char* family : {"IPv4", "IPv6"}) {
    auto syncs = d_->metric("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"" + std::string(family) +
                            "\"}");
    ASSERT_TRUE(syncs) << syncs.error();
    EXPECT_GE(*syncs, 1) << family;
  }
  const std::string started = d_->daemon_log();
  EXPECT_TRUE(started.find("iptables-nft for IPv4 and IPv6") != std::string::npos ||
              started.find("iptables-legacy for IPv4 and IPv6") != std::string::npos ||
              started.find("nftables tables ip and ip6 kubenat") != std::string::npos)
      << "the start-up line names both families:\n"
      << started;
}

INSTANTIATE_TEST_SUITE_P(Backends, DualStackDaemonTest, ::testing::Values("iptables", "nftables"),
                         [](const ::testing::TestParamInfo<const char*>& param) { return std::string(param.param); });

}  // namespace
}  // namespace kubenat::e2e
