// Real packets through kubenat's rules, for every backend: a node namespace
// holds the rules, four pod namespaces run echo servers that answer with their
// own name, and a client namespace outside the cluster connects. What the
// client gets back is the specification.

#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <set>
#include <unistd.h>

#include "engine/network_namespace.h"
#include "tests/e2e/netns_world.h"
#include "tests/e2e/proxy_driver.h"
#include "tests/support/cluster_builder.h"

namespace kubenat::e2e {
namespace {

using namespace kubenat::testing;

constexpr const char* kNode = "test-node";
constexpr const char* kClusterIp = "10.96.0.10";
constexpr int kServicePort = 80;
constexpr int kNodePort = 30080;
constexpr int kBackendPort = 8080;
constexpr int kPods = 4;

// The node of the world, as a proxier of `family` sees it.
ProxyConfig node_config(IpFamily family = IpFamily::V4) {
  ProxyConfig config;
  config.node_name = kNode;
  config.family = family;
  config.node_ips = {ip(NetnsWorld::node_ip(family))};
  config.cluster_cidrs = {cidr(NetnsWorld::pod_cidr(family))};
  return config;
}

class TrafficTest : public ::testing::TestWithParam<DriverKind> {
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

  // A Service "shop/web" with one port, and a slice holding the given pods:
  // pods 0 and 1 run on this node, 2 and 3 on another.
  ClusterState web(const std::vector<int>& pods, ServiceBuilder service) const {
    SliceBuilder slice("shop", "web");
    slice.port("http", kBackendPort, service.build().ports.front().protocol);
    for (int pod : pods) slice.endpoint(world_->pod_ip(pod), pod < 2 ? kNode : "other-node");
    return ClusterBuilder().add(service.build()).add(slice.build()).build();
  }
  ServiceBuilder cluster_ip_service() const {
    return ServiceBuilder("shop", "web").cluster_ip(kClusterIp).port("http", kServicePort);
  }
  ServiceBuilder node_port_service() const {
    return ServiceBuilder("shop", "web").type(ServiceType::NodePort).cluster_ip(kClusterIp)
        .port("http", kServicePort, Protocol::Tcp, kNodePort);
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

  std::unique_ptr<NetnsWorld> world_;
  std::unique_ptr<ProxyDriver> driver_;
};

TEST_P(TrafficTest, ClusterIpReachesEveryBackend) {
  sync(web({0, 1, 2, 3}, cluster_ip_service()));
  ProbeResult result = tcp(kClusterIp, kServicePort, 200);
  EXPECT_EQ(result.answered(), 200) << result;
  for (int pod = 0; pod < kPods; ++pod) EXPECT_GT(result.answers[world_->pod_name(pod)], 0) << result;
}

TEST_P(TrafficTest, NodePortReachesEveryBackend) {
  sync(web({0, 1, 2, 3}, node_port_service()));
  ProbeResult result = tcp(NetnsWorld::kNodeIp, kNodePort, 200);
  EXPECT_EQ(result.answered(), 200) << result;
  for (int pod = 0; pod < kPods; ++pod) EXPECT_GT(result.answers[world_->pod_name(pod)], 0) << result;
}

TEST_P(TrafficTest, ConnectionsSplitUniformlyAcrossFourEndpoints) {
  sync(web({0, 1, 2, 3}, cluster_ip_service()));
  constexpr int kConnections = 2000;
  ProbeResult result = tcp(kClusterIp, kServicePort, kConnections);
  ASSERT_EQ(result.answered(), kConnections) << result;
  // Pearson's chi-squared against the uniform split, 3 degrees of freedom:
  // 30.66 is exceeded by chance once in a million runs (16.27, once in a
  // thousand, failed a CI run with six backends at 17.96). A real skew such
  // as one endpoint picked with 1/3 instead of 1/4 scores about 74.
  const double expected = kConnections / static_cast<double>(kPods);
  double chi2 = 0;
  for (int pod = 0; pod < kPods; ++pod) {
    const double observed = result.answers[world_->pod_name(pod)];
    chi2 += (observed - expected) * (observed - expected) / expected;
  }
  EXPECT_LT(chi2, 30.66) << result;
}

TEST_P(TrafficTest, SessionAffinityKeepsAClientOnOneBackend) {
  sync(web({0, 1, 2, 3}, cluster_ip_service().affinity(600)));
  ProbeResult result = tcp(kClusterIp, kServicePort, 60);
  EXPECT_EQ(result.answered(), 60) << result;
  EXPECT_EQ(result.answers.size(), 1u) << result;
}

TEST_P(TrafficTest, SessionAffinityOnANodePortKeepsAClientOnOneBackend) {
  sync(web({0, 1, 2, 3}, node_port_service().affinity(600)));
  ProbeResult result = tcp(NetnsWorld::kNodeIp, kNodePort, 60);
  EXPECT_EQ(result.answered(), 60) << result;
  EXPECT_EQ(result.answers.size(), 1u) << result;
}

TEST_P(TrafficTest, SessionAffinityKeepsAClientWhenAnotherEndpointIsAdded) {
  sync(web({0, 1, 2}, cluster_ip_service().affinity(600)));
  ProbeResult first = tcp(kClusterIp, kServicePort, 10);
  ASSERT_EQ(first.answers.size(), 1u) << first;
  sync(web({0, 1, 2, 3}, cluster_ip_service().affinity(600)));
  ProbeResult result = tcp(kClusterIp, kServicePort, 40);
  EXPECT_EQ(result.answered(), 40) << result;
  EXPECT_EQ(result.answers, (std::map<std::string, int>{{first.answers.begin()->first, 40}})) << result;
}

TEST_P(TrafficTest, SessionAffinityKeepsAClientAcrossAFullSync) {
  const ClusterState state = web({0, 1, 2, 3}, cluster_ip_service().affinity(600));
  sync(state);
  ProbeResult first = tcp(kClusterIp, kServicePort, 10);
  ASSERT_EQ(first.answers.size(), 1u) << first;
  driver_->force_full_sync();
  EXPECT_TRUE(sync(state).full);
  ProbeResult result = tcp(kClusterIp, kServicePort, 40);
  EXPECT_EQ(result.answers, (std::map<std::string, int>{{first.answers.begin()->first, 40}})) << result;
}

TEST_P(TrafficTest, SessionAffinityMovesAClientOffItsRemovedEndpointAtOnce) {
  sync(web({0, 1, 2, 3}, cluster_ip_service().affinity(600)));
  ProbeResult first = tcp(kClusterIp, kServicePort, 10);
  ASSERT_EQ(first.answers.size(), 1u) << first;
  std::vector<int> others;
  for (int pod = 0; pod < kPods; ++pod) {
    if (world_->pod_name(pod) != first.answers.begin()->first) others.push_back(pod);
  }
  sync(web(others, cluster_ip_service().affinity(600)));
  ProbeResult result = tcp(kClusterIp, kServicePort, 40);
  EXPECT_EQ(result.answered(), 40) << result;
  EXPECT_EQ(result.answers.count(first.answers.begin()->first), 0u) << result;
  EXPECT_EQ(result.answers.size(), 1u) << "a client stays on the endpoint it moved to: " << result;
}

TEST_P(TrafficTest, RemovedEndpointGetsNoNewConnectionsAtOnce) {
  sync(web({0, 1, 2, 3}, cluster_ip_service()));
  ASSERT_GT(tcp(kClusterIp, kServicePort, 100).answers[world_->pod_name(0)], 0);
  sync(web({1, 2, 3}, cluster_ip_service()));
  ProbeResult result = tcp(kClusterIp, kServicePort, 200);
  EXPECT_EQ(result.answered(), 200) << result;
  EXPECT_EQ(result.answers.count(world_->pod_name(0)), 0u) << result;
}

TEST_P(TrafficTest, ServiceWithoutEndpointsRefusesConnections) {
  sync(web({0, 1, 2, 3}, cluster_ip_service()));
  sync(web({}, cluster_ip_service()));
  ProbeResult result = tcp(kClusterIp, kServicePort, 20);
  EXPECT_EQ(result.refused, 20) << result;
}

TEST_P(TrafficTest, UdpFlowMovesToALiveEndpointWhenItsEndpointIsRemoved) {
  auto dns = ServiceBuilder("shop", "web").cluster_ip(kClusterIp).port("dns", 53, Protocol::Udp);
  auto state = [&](const std::vector<int>& pods) {
    SliceBuilder slice("shop", "web");
    slice.port("dns", kBackendPort, Protocol::Udp);
    for (int pod : pods) slice.endpoint(world_->pod_ip(pod), kNode);
    return ClusterBuilder().add(dns.build()).add(slice.build()).build();
  };
  sync(state({0, 1, 2, 3}));
  // One source port throughout: one conntrack flow, as a DNS client keeps.
  const ProbeOptions same_flow{.count = 1, .timeout_ms = 1000, .source_port = 40053};
  auto first = world_->udp(world_->client_ns(), kClusterIp, 53, same_flow);
  ASSERT_TRUE(first && first->answered() == 1) << (first ? first->to_string() : first.error());
  const std::string answered_by = first->answers.begin()->first;
  const int pod = answered_by.back() - '0';

  std::vector<int> rest;
  for (int p = 0; p < kPods; ++p) {
    if (p != pod) rest.push_back(p);
  }
  SyncResult removed = sync(state(rest));
  ASSERT_TRUE(removed.conntrack);
  EXPECT_GT(removed.conntrack->filters, 0u);
  auto next = world_->udp(world_->client_ns(), kClusterIp, 53, same_flow);
  ASSERT_TRUE(next) << next.error();
  EXPECT_EQ(next->answered(), 1) << *next;
  EXPECT_EQ(next->answers.count(answered_by), 0u) << *next;
}

TEST_P(TrafficTest, UdpFlowIsAnsweredOnceTheServiceGainsItsFirstEndpoint) {
  auto dns = ServiceBuilder("shop", "web").cluster_ip(kClusterIp).port("dns", 53, Protocol::Udp);
  SliceBuilder slice("shop", "web");
  slice.port("dns", kBackendPort, Protocol::Udp);
  sync(ClusterBuilder().add(dns.build()).add(slice.build()).build());
  const ProbeOptions same_flow{.count = 1, .timeout_ms = 500, .source_port = 40054};
  auto before = world_->udp(world_->client_ns(), kClusterIp, 53, same_flow);
  ASSERT_TRUE(before) << before.error();
  EXPECT_EQ(before->answered(), 0) << *before;

  slice.endpoint(world_->pod_ip(2), kNode);
  sync(ClusterBuilder().add(dns.build()).add(slice.build()).build());
  auto after = world_->udp(world_->client_ns(), kClusterIp, 53, same_flow);
  ASSERT_TRUE(after) << after.error();
  EXPECT_EQ(after->answers[world_->pod_name(2)], 1) << *after;
}

TEST_P(TrafficTest, ExternalTrafficPolicyLocalAnswersOnlyFromLocalEndpoints) {
  sync(web({0, 1, 2, 3}, node_port_service().external_local()));
  ProbeResult result = tcp(NetnsWorld::kNodeIp, kNodePort, 200);
  EXPECT_EQ(result.answered(), 200) << result;
  EXPECT_GT(result.answers[world_->pod_name(0)], 0) << result;
  EXPECT_GT(result.answers[world_->pod_name(1)], 0) << result;
  EXPECT_EQ(result.answers.count(world_->pod_name(2)) + result.answers.count(world_->pod_name(3)), 0u) << result;
}

TEST_P(TrafficTest, ExternalFlushIsRepairedByTheNextSync) {
  const ClusterState state = web({0, 1, 2, 3}, cluster_ip_service());
  sync(state);
  ASSERT_EQ(tcp(kClusterIp, kServicePort, 10).answered(), 10);
  auto flushed = driver_->external_flush();
  ASSERT_TRUE(flushed) << flushed.error();
  ASSERT_EQ(tcp(kClusterIp, kServicePort, 10).answered(), 0);

  SyncResult repair = sync(state);
  EXPECT_TRUE(repair.full) << repair.reason;
  ProbeResult result = tcp(kClusterIp, kServicePort, 40);
  EXPECT_EQ(result.answered(), 40) << result;
}

INSTANTIATE_TEST_SUITE_P(Backends, TrafficTest, ::testing::ValuesIn(all_driver_kinds()),
                         [](const ::testing::TestParamInfo<DriverKind>& param) { return param.param.name; });

// ---------------------------------------------------------------------------
// Diffs against a fresh apply: no traffic, two bare namespaces.

// A namespace of the test's own, named so that the stale-namespace cleanup
// recognises it.
std::expected<ScopedNetworkNamespace, std::string> bare_namespace(const std::string& role) {
  static int counter = 0;
  return ScopedNetworkNamespace::create("kn" + std::to_string(::getpid()) + "b" + std::to_string(counter++) + "-" + role);
}

// A seeded random walk over cluster states: services of every kind come and
// go, endpoints are added, removed, become terminating or not ready. Every
// address is of `family`; both families take the same walk (the same draws,
// each address written in the family's own ranges).
class RandomCluster {
 public:
  RandomCluster(std::uint64_t seed, IpFamily family) : rng_(seed), family_(family) {}

  // Where the walk's ClusterIPs and endpoints go: every final state holds some.
  static std::string cluster_ip_prefix(IpFamily family) {
    return family == IpFamily::V4 ? "10.96.1." : "fd00:96::1:";
  }
  static std::string endpoint_prefix(IpFamily family) { return family == IpFamily::V4 ? "10.200." : "fd00:200:0:"; }

  ClusterState step() {
    const int action = pick(0, 9);
    if (services_.empty() || action < 2) {
      add_service();
    } else if (action == 2 && services_.size() > 1) {
      const int victim = pick(0, static_cast<int>(services_.size()) - 1);
      services_.erase(services_.begin() + victim);
    } else if (action == 3) {
      Entry& e = services_[static_cast<std::size_t>(pick(0, static_cast<int>(services_.size()) - 1))];
      e.service = random_service(e.service.id.name, e.index);
      fix_slice(e);
    } else {
      Entry& e = services_[static_cast<std::size_t>(pick(0, static_cast<int>(services_.size()) - 1))];
      mutate_endpoints(e);
    }
    ClusterState state;
    for (const Entry& e : services_) {
      state.services[e.service.id] = e.service;
      state.put_slice(e.slice);
    }
    return state;
  }

 private:
  struct Entry {
    int index;
    Service service;
    EndpointSlice slice;
  };

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(0, 99) < percent; }
  bool v4() const { return family_ == IpFamily::V4; }
  // The address numbered `n` (1..254) in a /24 (IPv4) or a /64 (IPv6).
  std::string address(const std::string& v4_prefix, const std::string& v6_prefix, int n) const {
    return (v4() ? v4_prefix : v6_prefix) + std::to_string(n);
  }

  Service random_service(const std::string& name, int index) {
    ServiceBuilder b("ns" + std::to_string(index % 3), name);
    b.cluster_ip(cluster_ip_prefix(family_) + std::to_string(index % 250 + 1));
    const Protocol protocol = chance(25) ? Protocol::Udp : (chance(10) ? Protocol::Sctp : Protocol::Tcp);
    const int kind = pick(0, 3);
    if (kind == 1) b.type(ServiceType::NodePort);
    if (kind == 2) {
      b.type(ServiceType::LoadBalancer).load_balancer_ip(address("203.0.113.", "fd00:203::", index % 250 + 1));
    }
    const int node_port = kind == 0 ? 0 : 30000 + index;
    b.port("p" + std::to_string(pick(0, 1)), 80 + pick(0, 2), protocol, node_port);
    if (chance(20)) b.external_ip(address("198.51.100.", "2001:db8:100::", index % 250 + 1));
    if (kind == 2 && chance(40)) {
      const bool client = chance(50);
      if (v4()) {
        b.source_range(client ? "192.168.50.0/24" : "198.18.0.0/15");
      } else {
        b.source_range(client ? "fd00:50::/64" : "2001:db8:18::/48");
      }
    }
    if (kind != 0 && chance(40)) b.external_local();
    if (chance(20)) b.internal_local();
    if (chance(20)) b.affinity(pick(60, 600));
    return b.build();
  }

  void fix_slice(Entry& e) {
    const ServicePort& port = e.service.ports.front();
    e.slice.ports = {EndpointPort{port.name, port.protocol, 8080}};
  }

  void add_service() {
    const int index = next_index_++;
    Entry e{index, random_service("svc" + std::to_string(index), index), {}};
    e.slice.id = {e.service.id.namespace_, e.service.id.name + "-x"};
    e.slice.service_name = e.service.id.name;
    e.slice.address_type = v4() ? AddressType::IPv4 : AddressType::IPv6;
    fix_slice(e);
    const int endpoints = pick(0, 4);
    for (int i = 0; i < endpoints; ++i) mutate_endpoints(e);
    services_.push_back(std::move(e));
  }

  void mutate_endpoints(Entry& e) {
    auto& eps = e.slice.endpoints;
    const int action = pick(0, 4);
    if (eps.empty() || action <= 1) {
      Endpoint ep;
      const std::string subnet = std::to_string(pick(1, 3));
      ep.address = ip(address("10.200." + subnet + ".", "fd00:200:0:" + subnet + "::", pick(2, 250)));
      ep.node_name = chance(50) ? kNode : "other-node";
      eps.push_back(ep);
    } else if (action == 2) {
      eps.erase(eps.begin() + pick(0, static_cast<int>(eps.size()) - 1));
    } else {
      Endpoint& ep = eps[static_cast<std::size_t>(pick(0, static_cast<int>(eps.size()) - 1))];
      ep.ready = chance(60);
      ep.terminating = !ep.ready && chance(70);
      ep.serving = ep.ready || chance(50);
    }
  }

  std::mt19937_64 rng_;
  IpFamily family_;
  std::vector<Entry> services_;
  int next_index_ = 0;
};

// By backend and IP family: a node's proxier of each family walks the same
// way in its own addresses.
struct DiffCase {
  DriverKind kind;
  IpFamily family;
};
void PrintTo(const DiffCase& c, std::ostream* out) { *out << c.kind.name << " " << ip_family_name(c.family); }

std::vector<DiffCase> diff_cases(IpFamily family) {
  std::vector<DiffCase> cases;
  for (const DriverKind& kind : sync_loop_driver_kinds()) cases.push_back({kind, family});
  return cases;
}

class DiffEquivalenceTest : public ::testing::TestWithParam<DiffCase> {};

TEST_P(DiffEquivalenceTest, TwoHundredRandomChangesAsDiffsEqualAFreshFullApply) {
  KUBENAT_REQUIRE_NETNS();
  const auto& [kind, family] = GetParam();
  auto incremental = bare_namespace("diff");
  auto fresh = bare_namespace("full");
  ASSERT_TRUE(incremental && fresh);
  std::unique_ptr<ProxyDriver> a = kind.make(incremental->name(), node_config(family));
  std::unique_ptr<ProxyDriver> b = kind.make(fresh->name(), node_config(family));

  RandomCluster cluster(20261125, family);
  ClusterState state;
  int full_syncs = 0;
  for (int change = 0; change < 200; ++change) {
    state = cluster.step();
    auto result = a->sync(state);
    ASSERT_TRUE(result) << "change " << change << ": " << result.error();
    full_syncs += result->full ? 1 : 0;
  }
  EXPECT_EQ(full_syncs, 1) << "only the first sync may be full; the others must be diffs";
  auto full = b->sync(state);
  ASSERT_TRUE(full) << full.error();

  auto after_diffs = a->normalized_rules();
  auto after_full = b->normalized_rules();
  ASSERT_TRUE(after_diffs && after_full);
  EXPECT_NE(after_full->find(RandomCluster::cluster_ip_prefix(family)), std::string::npos)
      << "the final state should have services:\n" << *after_full;
  EXPECT_NE(after_full->find(RandomCluster::endpoint_prefix(family)), std::string::npos)
      << "the final state should have endpoints:\n" << *after_full;
  EXPECT_EQ(*after_diffs, *after_full);
}

std::string diff_case_name(const ::testing::TestParamInfo<DiffCase>& param) { return param.param.kind.name; }
INSTANTIATE_TEST_SUITE_P(Backends, DiffEquivalenceTest, ::testing::ValuesIn(diff_cases(IpFamily::V4)), diff_case_name);
INSTANTIATE_TEST_SUITE_P(Ipv6Backends, DiffEquivalenceTest, ::testing::ValuesIn(diff_cases(IpFamily::V6)),
                         diff_case_name);

}  // namespace
}  // namespace kubenat::e2e
