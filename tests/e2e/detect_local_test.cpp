// Local-traffic detection with real packets, in each of kube-proxy's
// detect-local modes and on both backends: a pod's connection to a cluster
// IP reaches the endpoint with the pod's own address, while a connection
// from outside the cluster is masqueraded (the "<svc> cluster IP" rule with
// `! <pod match> -j KUBE-MARK-MASQ`, or its nftables twin), so that replies
// come back through this node. The address the endpoint saw is the
// destination of the connection's reply tuple in the node's conntrack table.
//
// The rules come from `kubenat apply` with the mode's flags, as a user would
// run it. Every mode also gets a cluster CIDR that holds neither the pods nor
// the client, so that a mode falling back to it would fail. BridgeInterface
// puts the pods behind a bridge first; InterfaceNamePrefix matches the
// world's veth<i> links.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>

#include "engine/process.h"
#include "rules/encode.h"
#include "tests/e2e/netns_world.h"
#include "tests/e2e/proxy_driver.h"
#include "tests/support/cluster_builder.h"

namespace kubenat::e2e {
namespace {

using namespace kubenat::testing;

constexpr const char* kNode = "test-node";
constexpr const char* kClusterIp = "10.96.0.10";
constexpr int kServicePort = 80;
constexpr int kBackendPort = 8080;
// Pod 0 is the client pod; pod 1 runs the Service's one endpoint.
constexpr int kClientPod = 0;
constexpr int kEndpointPod = 1;
// Holds no address of the world: a mode that used it would see no pods.
constexpr const char* kDecoyClusterCidr = "10.99.0.0/16";
// The Node's spec.podCIDRs, for NodeCIDR: the world's pods are 10.200.1.x.
constexpr const char* kNodePodCidr = "10.200.1.0/24";
constexpr const char* kBridge = "kbr0";

struct Mode {
  std::string name;
  std::vector<std::string> flags;  // for `kubenat apply`
  bool pods_behind_bridge = false;
};

struct Case {
  Mode mode;
  std::string backend;  // --proxy-mode
};

// For GoogleTest's messages.
void PrintTo(const Case& c, std::ostream* out) { *out << c.backend << " " << c.mode.name; }

std::vector<Case> all_cases() {
  const std::vector<Mode> modes = {
      {"ClusterCIDR", {"--detect-local-mode", "ClusterCIDR", "--cluster-cidr", NetnsWorld::kPodCidr}},
      {"NodeCIDR", {"--detect-local-mode", "NodeCIDR", "--cluster-cidr", kDecoyClusterCidr}},
      {"BridgeInterface",
       {"--detect-local-mode", "BridgeInterface", "--pod-bridge-interface", kBridge, "--cluster-cidr",
        kDecoyClusterCidr},
       true},
      {"InterfaceNamePrefix",
       {"--detect-local-mode", "InterfaceNamePrefix", "--pod-interface-name-prefix", "veth", "--cluster-cidr",
        kDecoyClusterCidr}},
  };
  std::vector<Case> cases;
  for (const char* backend : {"iptables", "nftables"}) {
    for (const Mode& mode : modes) cases.push_back({mode, backend});
  }
  return cases;
}

// The Service shop/web on kClusterIp, its endpoint on pod 1, and this node
// with `pod_cidr` as its spec.podCIDRs.
ClusterState cluster(const NetnsWorld& world, const std::string& pod_cidr = kNodePodCidr) {
  ClusterState state =
      ClusterBuilder()
          .add(ServiceBuilder("shop", "web").cluster_ip(kClusterIp).port("http", kServicePort))
          .add(SliceBuilder("shop", "web").port("http", kBackendPort).endpoint(world.pod_ip(kEndpointPod), kNode))
          .node(kNode)
          .build();
  state.nodes[kNode].pod_cidrs = {cidr(pod_cidr)};
  state.nodes[kNode].addresses = {NodeAddress{"InternalIP", NetnsWorld::kNodeIp}};
  return state;
}

// The pods' node-side links become ports of one bridge holding the pods'
// gateway address: pods reach the node, and each other, through it, and
// their packets come in on the bridge.
std::expected<void, std::string> put_pods_behind_bridge(const NetnsWorld& world) {
  std::vector<std::string> lines = {"link add " + std::string(kBridge) + " type bridge"};
  for (int pod = 0; pod < world.pods(); ++pod) {
    const std::string link = world.pod_link(pod);
    lines.push_back("route del " + world.pod_ip(pod) + "/32 dev " + link);
    lines.push_back("addr del " + std::string(NetnsWorld::kPodGateway) + "/32 dev " + link);
    lines.push_back("link set " + link + " master " + kBridge);
  }
  lines.push_back("addr add " + std::string(NetnsWorld::kPodGateway) + "/24 dev " + kBridge);
  lines.push_back("link set " + std::string(kBridge) + " up");
  return ip_batch(world.node_ns(), lines);
}

// The addresses that connections from `source` to the cluster IP reached
// their endpoint from: the reply tuples' destinations in the node's
// conntrack table.
std::expected<std::set<std::string>, std::string> sources_seen_by_endpoint(const NetnsWorld& world,
                                                                           const std::string& source) {
  auto listed = world.exec_checked(world.node_ns(),
                                   {"conntrack", "-L", "-p", "tcp", "--orig-src", source, "--orig-dst", kClusterIp});
  if (!listed) return std::unexpected(listed.error());
  std::set<std::string> seen;
  std::istringstream lines(*listed);
  std::string line;
  while (std::getline(lines, line)) {
    // "tcp 6 119 TIME_WAIT src=A dst=B sport=.. dport=.. src=C dst=D ...":
    // the second dst= is the reply's.
    std::istringstream words(line);
    std::string word;
    int destinations = 0;
    while (words >> word) {
      if (word.starts_with("dst=") && ++destinations == 2) seen.insert(word.substr(4));
    }
  }
  return seen;
}

class DetectLocalTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto world = NetnsWorld::create(2);
    ASSERT_TRUE(world) << world.error();
    world_ = std::move(*world);
    if (GetParam().mode.pods_behind_bridge) {
      auto bridged = put_pods_behind_bridge(*world_);
      ASSERT_TRUE(bridged) << bridged.error();
    }
    auto started = world_->start_echo(kEndpointPod, kBackendPort);
    ASSERT_TRUE(started) << started.error();
    auto applied = apply(cluster(*world_));
    ASSERT_TRUE(applied) << applied.error();
  }

  // `kubenat apply` of `state` in the node namespace, with the mode's flags.
  std::expected<void, std::string> apply(const ClusterState& state) {
    std::vector<std::string> argv = {"ip", "netns", "exec", world_->node_ns(), KUBENAT_BINARY, "apply"};
    argv.insert(argv.end(), {"--snapshot", "/dev/stdin", "--node", kNode, "--node-ip", NetnsWorld::kNodeIp});
    argv.insert(argv.end(), {"--proxy-mode", GetParam().backend, "--iptables-mode", "nft"});
    argv.insert(argv.end(), GetParam().mode.flags.begin(), GetParam().mode.flags.end());
    auto result = run_process(argv, ProcessOptions{.input = encode_cluster(state).dump()});
    if (!result) return std::unexpected(result.error());
    if (!result->ok()) return std::unexpected("kubenat apply: " + result->err);
    return {};
  }

  // One connection from namespace `from_ns` (whose address is `source`) to
  // the cluster IP; the addresses the endpoint saw such connections from.
  std::set<std::string> connect_and_see(const std::string& from_ns, const std::string& source) {
    auto probed = world_->tcp(from_ns, kClusterIp, kServicePort, ProbeOptions{.count = 1});
    EXPECT_TRUE(probed) << probed.error();
    if (probed) {
      EXPECT_EQ(probed->answers[world_->pod_name(kEndpointPod)], 1) << *probed;
    }
    auto seen = sources_seen_by_endpoint(*world_, source);
    EXPECT_TRUE(seen) << seen.error();
    return seen.value_or(std::set<std::string>{});
  }

  std::unique_ptr<NetnsWorld> world_;
};

TEST_P(DetectLocalTest, APodReachesAClusterIpWithItsOwnAddress) {
  const std::string pod = world_->pod_ip(kClientPod);
  EXPECT_EQ(connect_and_see(world_->pod_ns(kClientPod), pod), std::set<std::string>{pod});
}

TEST_P(DetectLocalTest, AClientOutsideTheClusterIsMasqueradedToAClusterIp) {
  // Masqueraded to the node's address towards the endpoint: the pods' gateway.
  EXPECT_EQ(connect_and_see(world_->client_ns(), NetnsWorld::kClientIp),
            std::set<std::string>{NetnsWorld::kPodGateway});
}

INSTANTIATE_TEST_SUITE_P(Modes, DetectLocalTest, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return param.param.backend + "_" + param.param.mode.name;
                         });

// NodeCIDR follows the Node: a daemon-style sync loop recompiles when this
// node's spec.podCIDRs change, and pod traffic is told apart by the new ones.
class DetectLocalNodeCidrTest : public ::testing::TestWithParam<DriverKind> {};

TEST_P(DetectLocalNodeCidrTest, ANewPodCidrOfTheNodeDecidesWhatIsPodTraffic) {
  KUBENAT_REQUIRE_NETNS();
  auto created = NetnsWorld::create(2);
  ASSERT_TRUE(created) << created.error();
  NetnsWorld& world = **created;
  auto started = world.start_echo(kEndpointPod, kBackendPort);
  ASSERT_TRUE(started) << started.error();
  ProxyConfig config;
  config.node_name = kNode;
  config.node_ips = {ip(NetnsWorld::kNodeIp)};
  config.detect_local_mode = DetectLocalMode::NodeCidr;
  std::unique_ptr<ProxyDriver> driver = GetParam().make(world.node_ns(), config);
  const std::string pod = world.pod_ip(kClientPod);
  const auto seen_from_pod = [&]() -> std::set<std::string> {
    auto flushed = world.exec_checked(world.node_ns(), {"conntrack", "-F"});
    EXPECT_TRUE(flushed) << flushed.error();
    auto probed = world.tcp(world.pod_ns(kClientPod), kClusterIp, kServicePort, ProbeOptions{.count = 1});
    EXPECT_TRUE(probed && probed->answered() == 1) << (probed ? probed->to_string() : probed.error());
    auto seen = sources_seen_by_endpoint(world, pod);
    EXPECT_TRUE(seen) << seen.error();
    return seen.value_or(std::set<std::string>{});
  };

  // A pod CIDR that is not the pods': the pod counts as outside traffic.
  auto synced = driver->sync(cluster(world, "10.200.2.0/24"));
  ASSERT_TRUE(synced) << synced.error();
  EXPECT_EQ(seen_from_pod(), std::set<std::string>{NetnsWorld::kPodGateway});

  synced = driver->sync(cluster(world, kNodePodCidr));
  ASSERT_TRUE(synced) << synced.error();
  EXPECT_EQ(seen_from_pod(), std::set<std::string>{pod});
}

INSTANTIATE_TEST_SUITE_P(Backends, DetectLocalNodeCidrTest, ::testing::ValuesIn(sync_loop_driver_kinds()),
                         [](const ::testing::TestParamInfo<DriverKind>& param) { return param.param.name; });

}  // namespace
}  // namespace kubenat::e2e
