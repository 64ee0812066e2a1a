// The synthetic cluster a bench cell works on, and the changes its runs make
// to it: names that map back to indices, the Service the data plane probes,
// one-endpoint changes spread over the table, one-service adds.

#include "bench/bench_cluster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "bench/synthetic_cluster.h"
#include "rules/iptables/change.h"
#include "rules/iptables/compiler.h"

namespace kubenat::bench {
namespace {

using ::testing::HasSubstr;

SyntheticSpec small_spec(int services = 100) {
  SyntheticSpec spec;
  spec.services = services;
  spec.endpoints_per_service = 4;
  spec.nodes = 5;
  return spec;
}

std::size_t endpoint_count(const ClusterState& state, const ObjectName& service) {
  std::size_t count = 0;
  auto slices = state.slices.find(service);
  if (slices == state.slices.end()) return 0;
  for (const auto& [name, slice] : slices->second) count += slice.endpoints.size();
  return count;
}

std::size_t endpoint_count(const ClusterState& state) {
  std::size_t count = 0;
  for (const auto& [service, slices] : state.slices) count += endpoint_count(state, service);
  return count;
}

std::vector<std::string> endpoint_ips(const ClusterState& state, const ObjectName& service) {
  std::vector<std::string> ips;
  for (const auto& [name, slice] : state.slices.at(service)) {
    for (const Endpoint& ep : slice.endpoints) ips.push_back(ep.address.to_string());
  }
  return ips;
}

// --- names ---

TEST(SyntheticServiceName, SpreadsServicesOverFiftyNamespaces) {
  EXPECT_EQ(synthetic_service_name(0), (ObjectName{"ns0", "svc0"}));
  EXPECT_EQ(synthetic_service_name(123), (ObjectName{"ns23", "svc123"}));
  EXPECT_EQ(synthetic_service_name(50), (ObjectName{"ns0", "svc50"}));
}

TEST(SyntheticServiceName, IndexRoundTrips) {
  for (int index : {0, 1, 49, 50, 999, 12345, 199999}) {
    EXPECT_EQ(synthetic_service_index(synthetic_service_name(index)), index) << index;
  }
}

TEST(SyntheticServiceName, ForeignNamesHaveNoIndex) {
  EXPECT_EQ(synthetic_service_index({"default", "kubernetes"}), std::nullopt);
  EXPECT_EQ(synthetic_service_index({"ns0", "svc"}), std::nullopt);
  EXPECT_EQ(synthetic_service_index({"ns0", ""}), std::nullopt);
  EXPECT_EQ(synthetic_service_index({"ns12", "svc12a"}), std::nullopt);
  EXPECT_EQ(synthetic_service_index({"ns12", "svc 12"}), std::nullopt);
  EXPECT_EQ(synthetic_service_index({"", "svc12"}), std::nullopt);
}

TEST(SyntheticServiceName, ASyntheticNameInTheWrongNamespaceHasNoIndex) {
  EXPECT_EQ(synthetic_service_index({"ns3", "svc12"}), std::nullopt);
  EXPECT_EQ(synthetic_service_index({"default", "svc12"}), std::nullopt);
}

TEST(SyntheticServiceName, LeadingZerosHaveNoIndex) {
  EXPECT_EQ(synthetic_service_index({"ns7", "svc007"}), std::nullopt);
}

TEST(SyntheticServiceName, NegativeNumbersHaveNoIndex) {
  EXPECT_EQ(synthetic_service_index({"ns-1", "svc-1"}), std::nullopt);
}

// --- the cluster ---

TEST(SyntheticCluster, NodePortsAreUnique) {
  SyntheticSpec spec;
  spec.services = 5000;
  spec.node_port_share = 0.5;
  spec.load_balancer_share = 0.2;
  std::set<int> seen;
  for (const auto& [name, svc] : make_synthetic_cluster(spec).services) {
    const int node_port = svc.ports.at(0).node_port;
    if (node_port == 0) continue;
    EXPECT_TRUE(seen.insert(node_port).second) << name.to_string() << " " << node_port;
  }
  EXPECT_GT(seen.size(), 3000u);
}

TEST(SyntheticCluster, HasTheAskedServicesEachWithItsEndpoints) {
  const SyntheticSpec spec = small_spec(120);
  const ClusterState state = make_synthetic_cluster(spec);
  ASSERT_EQ(state.services.size(), 120u);
  for (int i = 0; i < spec.services; ++i) {
    const ObjectName name = synthetic_service_name(i);
    ASSERT_TRUE(state.services.contains(name)) << name.to_string();
    EXPECT_EQ(endpoint_count(state, name), 4u) << name.to_string();
  }
  EXPECT_EQ(state.nodes.size(), 5u);
  EXPECT_TRUE(state.nodes.contains("node-0"));
}

TEST(SyntheticCluster, ServicesUseTheSyntheticAddresses) {
  const ClusterState state = make_synthetic_cluster(small_spec());
  const Service& svc = state.services.at(synthetic_service_name(37));
  ASSERT_EQ(svc.cluster_ips.size(), 1u);
  EXPECT_EQ(svc.cluster_ips[0].to_string(), synthetic_cluster_ip(37));
  EXPECT_EQ(endpoint_ips(state, svc.id)[0], synthetic_endpoint_ip(37, 0));
}

TEST(SyntheticCluster, ClusterAndEndpointAddressesAreDistinct) {
  std::set<std::string> cluster_ips;
  std::set<std::string> endpoint_ips;
  for (int i = 0; i < 2000; ++i) {
    EXPECT_TRUE(cluster_ips.insert(synthetic_cluster_ip(i)).second) << i;
    for (int e = 0; e < 64; e += 21) EXPECT_TRUE(endpoint_ips.insert(synthetic_endpoint_ip(i, e)).second) << i;
  }
}

TEST(SyntheticCluster, SameSeedGivesTheSameCluster) {
  SyntheticSpec spec = small_spec(500);
  spec.node_port_share = 0.3;
  spec.load_balancer_share = 0.2;
  spec.affinity_share = 0.3;
  spec.local_policy_share = 0.3;
  spec.seed = 42;
  const ClusterState a = make_synthetic_cluster(spec);
  const ClusterState b = make_synthetic_cluster(spec);
  EXPECT_EQ(a.services, b.services);
  EXPECT_EQ(a.slices, b.slices);
  EXPECT_EQ(a.nodes, b.nodes);
}

TEST(SyntheticCluster, DifferentSeedGivesADifferentMix) {
  SyntheticSpec spec = small_spec(500);
  spec.node_port_share = 0.3;
  spec.load_balancer_share = 0.2;
  spec.affinity_share = 0.3;
  spec.seed = 1;
  const ClusterState a = make_synthetic_cluster(spec);
  spec.seed = 2;
  const ClusterState b = make_synthetic_cluster(spec);
  EXPECT_NE(a.services, b.services);
  // Same names and addresses: only the kinds differ.
  for (int i = 0; i < spec.services; ++i) {
    const ObjectName name = synthetic_service_name(i);
    ASSERT_TRUE(b.services.contains(name));
    EXPECT_EQ(a.services.at(name).cluster_ips, b.services.at(name).cluster_ips);
  }
}

TEST(SyntheticCluster, SharesShapeTheMixOfKinds) {
  SyntheticSpec spec = small_spec(4000);
  spec.endpoints_per_service = 1;
  spec.node_port_share = 0.3;
  spec.load_balancer_share = 0.2;
  spec.affinity_share = 0.1;
  const ClusterState state = make_synthetic_cluster(spec);
  int node_port = 0;
  int load_balancer = 0;
  int affinity = 0;
  for (const auto& [name, svc] : state.services) {
    node_port += svc.type == ServiceType::NodePort;
    load_balancer += svc.type == ServiceType::LoadBalancer;
    affinity += svc.session_affinity == SessionAffinity::ClientIP;
    if (svc.type != ServiceType::ClusterIP) {
      EXPECT_NE(svc.ports.at(0).node_port, 0) << name.to_string();
    }
    if (svc.type == ServiceType::LoadBalancer) {
      EXPECT_EQ(svc.load_balancer_ips.size(), 1u) << name.to_string();
    }
  }
  // Expected 1200, 800 and 400; a binomial's spread at n = 4000 is about 30.
  EXPECT_NEAR(node_port, 1200, 150);
  EXPECT_NEAR(load_balancer, 800, 150);
  EXPECT_NEAR(affinity, 400, 150);
}

TEST(SyntheticCluster, ZeroSharesGiveOnlyPlainClusterIpServices) {
  const ClusterState state = make_synthetic_cluster(small_spec(300));
  for (const auto& [name, svc] : state.services) {
    EXPECT_EQ(svc.type, ServiceType::ClusterIP) << name.to_string();
    EXPECT_EQ(svc.session_affinity, SessionAffinity::None) << name.to_string();
  }
}

TEST(SyntheticCluster, LocalPolicyOnlyOnExternallyReachableServices) {
  SyntheticSpec spec = small_spec(1000);
  spec.node_port_share = 0.5;
  spec.local_policy_share = 1.0;
  const ClusterState state = make_synthetic_cluster(spec);
  int local = 0;
  for (const auto& [name, svc] : state.services) {
    if (svc.type == ServiceType::ClusterIP) {
      EXPECT_EQ(svc.external_traffic_policy, TrafficPolicy::Cluster) << name.to_string();
    } else {
      EXPECT_EQ(svc.external_traffic_policy, TrafficPolicy::Local) << name.to_string();
      ++local;
    }
  }
  EXPECT_GT(local, 0);
}

// --- the bench's node ---

TEST(BenchProxyConfig, CompilesForNodeZeroWithTheTenSlashEightClusterCidr) {
  const ProxyConfig config = bench_proxy_config();
  EXPECT_EQ(config.node_name, "node-0");
  ASSERT_EQ(config.node_ips.size(), 1u);
  ASSERT_EQ(config.cluster_cidrs.size(), 1u);
  EXPECT_EQ(config.cluster_cidrs[0].to_string(), "10.0.0.0/8");
}

TEST(SyntheticSpecFromOptions, TakesTheShapeFromTheFlags) {
  BenchOptions options;
  options.endpoints = 7;
  options.node_port_share = 0.25;
  options.load_balancer_share = 0.125;
  options.affinity_share = 0.5;
  options.local_share = 0.75;
  options.seed = 99;
  const SyntheticSpec spec = synthetic_spec(options, 1234);
  EXPECT_EQ(spec.services, 1234);
  EXPECT_EQ(spec.endpoints_per_service, 7);
  EXPECT_EQ(spec.node_port_share, 0.25);
  EXPECT_EQ(spec.load_balancer_share, 0.125);
  EXPECT_EQ(spec.affinity_share, 0.5);
  EXPECT_EQ(spec.local_policy_share, 0.75);
  EXPECT_EQ(spec.seed, 99u);
}

// --- the Service the data plane probes ---

TEST(LastInKubeServices, IsTheGreatestServiceNameWithEndpoints) {
  const ClusterState state = make_synthetic_cluster(small_spec(100));
  ObjectName greatest;
  for (const auto& [name, svc] : state.services) greatest = std::max(greatest, name);
  // Names order by namespace first: "ns9" sorts after "ns49".
  EXPECT_EQ(greatest, (ObjectName{"ns9", "svc9"}));
  EXPECT_EQ(last_in_kube_services(state), greatest);
}

TEST(LastInKubeServices, SkipsAServiceWithoutEndpoints) {
  ClusterState state = make_synthetic_cluster(small_spec(100));
  for (auto& [name, slice] : state.slices.at({"ns9", "svc9"})) slice.endpoints.clear();
  EXPECT_EQ(last_in_kube_services(state), (ObjectName{"ns9", "svc59"}));
}

TEST(LastInKubeServices, SkipsAServiceWithoutSlices) {
  ClusterState state = make_synthetic_cluster(small_spec(100));
  state.slices.erase({"ns9", "svc9"});
  EXPECT_EQ(last_in_kube_services(state), (ObjectName{"ns9", "svc59"}));
}

TEST(LastInKubeServices, ItsClusterIpRuleStandsLastInKubeServices) {
  SyntheticSpec spec = small_spec(300);
  spec.node_port_share = 0.2;
  spec.load_balancer_share = 0.1;
  const ClusterState state = make_synthetic_cluster(spec);
  const IptablesPlan plan = compile_iptables(state, bench_proxy_config()).plan;
  std::string last_cluster_ip_rule;
  for (const IptablesChain& chain : plan.chains(IptablesTable::Nat)) {
    if (chain.name != "KUBE-SERVICES") continue;
    for (const std::string& rule : chain.rules()) {
      if (rule.find(" cluster IP\"") != std::string::npos && rule.find("-j KUBE-SVC-") != std::string::npos) {
        last_cluster_ip_rule = rule;
      }
    }
  }
  const ObjectName last = last_in_kube_services(state);
  EXPECT_THAT(last_cluster_ip_rule, HasSubstr("\"" + last.to_string() + ":http cluster IP\""));
}

// --- runs' changes ---

TEST(RouteToPod, LeavesOneEndpointThePodOnNodeZero) {
  ClusterState state = make_synthetic_cluster(small_spec());
  const ObjectName service = last_in_kube_services(state);
  route_to_pod(state, service, "10.200.1.10");
  std::vector<Endpoint> endpoints;
  for (const auto& [name, slice] : state.slices.at(service)) {
    endpoints.insert(endpoints.end(), slice.endpoints.begin(), slice.endpoints.end());
  }
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].address.to_string(), "10.200.1.10");
  EXPECT_EQ(endpoints[0].node_name, "node-0");
  EXPECT_TRUE(endpoints[0].ready);
}

TEST(RouteToPod, LeavesOtherServicesAlone) {
  const ClusterState before = make_synthetic_cluster(small_spec());
  ClusterState state = before;
  const ObjectName service = last_in_kube_services(state);
  route_to_pod(state, service, "10.200.1.10");
  for (const auto& [name, slices] : before.slices) {
    if (name != service) {
      EXPECT_EQ(state.slices.at(name), slices) << name.to_string();
    }
  }
}

TEST(RouteToPod, LeavesOneEndpointWhenTheServiceHasTwoSlices) {
  ClusterState state = make_synthetic_cluster(small_spec());
  const ObjectName service = last_in_kube_services(state);
  EndpointSlice second = state.slices.at(service).begin()->second;
  second.id.name += "-second";
  state.put_slice(second);
  ASSERT_EQ(state.slices.at(service).size(), 2u);
  route_to_pod(state, service, "10.200.1.10");
  EXPECT_EQ(endpoint_ips(state, service), (std::vector<std::string>{"10.200.1.10"}));
}

TEST(AddEndpointForRun, ChangesADifferentServiceEachRun) {
  SyntheticSpec spec = small_spec(1000);
  spec.endpoints_per_service = 2;
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName spare = last_in_kube_services(state);
  std::set<ObjectName> changed;
  for (int run = 0; run < 50; ++run) changed.insert(add_endpoint_for_run(state, spec, run, spare));
  EXPECT_EQ(changed.size(), 50u);
}

TEST(AddEndpointForRun, NeverChangesTheSpare) {
  SyntheticSpec spec = small_spec(1000);
  spec.endpoints_per_service = 2;
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName spare = last_in_kube_services(state);
  route_to_pod(state, spare, "10.200.1.10");
  const auto spare_slices = state.slices.at(spare);
  // More runs than Services: every other Service gets its turn, twice.
  for (int run = 0; run < 2000; ++run) ASSERT_NE(add_endpoint_for_run(state, spec, run, spare), spare) << run;
  EXPECT_EQ(state.slices.at(spare), spare_slices);
}

TEST(AddEndpointForRun, NeverChangesASpareAtIndexZero) {
  SyntheticSpec spec = small_spec(30);
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName spare = synthetic_service_name(0);
  for (int run = 0; run < 100; ++run) ASSERT_NE(add_endpoint_for_run(state, spec, run, spare), spare) << run;
}

TEST(AddEndpointForRun, CoversEveryOtherServiceBeforeRepeating) {
  SyntheticSpec spec = small_spec(40);
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName spare = last_in_kube_services(state);
  std::set<ObjectName> changed;
  for (int run = 0; run < 39; ++run) changed.insert(add_endpoint_for_run(state, spec, run, spare));
  EXPECT_EQ(changed.size(), 39u);
  EXPECT_FALSE(changed.contains(spare));
}

TEST(AddEndpointForRun, SpreadsItsRunsOverTheTable) {
  SyntheticSpec spec = small_spec(1000);
  spec.endpoints_per_service = 1;
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName spare = last_in_kube_services(state);
  std::vector<int> indices;
  for (int run = 0; run < 5; ++run) {
    indices.push_back(*synthetic_service_index(add_endpoint_for_run(state, spec, run, spare)));
  }
  const auto [low, high] = std::minmax_element(indices.begin(), indices.end());
  EXPECT_GT(*high - *low, 500);
}

TEST(AddEndpointForRun, AddsExactlyOneEndpointToTheServiceChanged) {
  const SyntheticSpec spec = small_spec(200);
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName spare = last_in_kube_services(state);
  for (int run = 0; run < 10; ++run) {
    const std::size_t total = endpoint_count(state);
    const ClusterState before = state;
    const ObjectName changed = add_endpoint_for_run(state, spec, run, spare);
    EXPECT_EQ(endpoint_count(state), total + 1) << run;
    EXPECT_EQ(endpoint_count(state, changed), endpoint_count(before, changed) + 1) << run;
    EXPECT_EQ(state.services, before.services) << run;
  }
}

TEST(AddEndpointForRun, TheNewEndpointHasAnAddressTheServiceDidNotHave) {
  SyntheticSpec spec = small_spec(5);
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName spare = last_in_kube_services(state);
  // Twelve runs over four Services: each is changed three times.
  for (int run = 0; run < 12; ++run) {
    const ObjectName changed = add_endpoint_for_run(state, spec, run, spare);
    std::vector<std::string> ips = endpoint_ips(state, changed);
    std::sort(ips.begin(), ips.end());
    EXPECT_EQ(std::adjacent_find(ips.begin(), ips.end()), ips.end()) << run << " " << changed.to_string();
  }
}

TEST(AddEndpointForRun, TheChangeRecompilesToOneServicesChains) {
  const SyntheticSpec spec = small_spec(200);
  ClusterState state = make_synthetic_cluster(spec);
  const ProxyConfig config = bench_proxy_config();
  const IptablesPlan before = compile_iptables(state, config).plan;
  const ObjectName changed = add_endpoint_for_run(state, spec, 0, last_in_kube_services(state));
  IptablesPlan after = before;
  auto ports = recompile_services(after, state, config, {changed});
  ASSERT_TRUE(ports.has_value());
  const IptablesChange change = diff_iptables(before, after, *ports);
  ASSERT_EQ(change.changed_service_ports.size(), 1u);
  EXPECT_EQ(change.changed_service_ports[0].service, changed);
}

TEST(AddServiceForRun, AddsAServiceNotInTheCluster) {
  const SyntheticSpec spec = small_spec(100);
  ClusterState state = make_synthetic_cluster(spec);
  const ClusterState before = state;
  const ObjectName added = add_service_for_run(state, spec, 0);
  EXPECT_FALSE(before.services.contains(added));
  EXPECT_TRUE(state.services.contains(added));
  EXPECT_EQ(state.services.size(), before.services.size() + 1);
}

TEST(AddServiceForRun, TheNewServiceHasTheSpecsEndpoints) {
  SyntheticSpec spec = small_spec(100);
  spec.endpoints_per_service = 7;
  ClusterState state = make_synthetic_cluster(spec);
  const ObjectName added = add_service_for_run(state, spec, 3);
  EXPECT_EQ(endpoint_count(state, added), 7u);
  const Service& svc = state.services.at(added);
  EXPECT_EQ(svc.type, ServiceType::ClusterIP);
  ASSERT_EQ(svc.ports.size(), 1u);
  EXPECT_EQ(svc.ports[0].port, 80);
}

TEST(AddServiceForRun, EachRunAddsAnotherService) {
  const SyntheticSpec spec = small_spec(100);
  ClusterState state = make_synthetic_cluster(spec);
  std::set<ObjectName> added;
  std::set<std::string> cluster_ips;
  for (const auto& [name, svc] : state.services) cluster_ips.insert(svc.cluster_ips.at(0).to_string());
  for (int run = 0; run < 20; ++run) {
    const ObjectName name = add_service_for_run(state, spec, run);
    EXPECT_TRUE(added.insert(name).second) << run;
    EXPECT_TRUE(cluster_ips.insert(state.services.at(name).cluster_ips.at(0).to_string()).second) << run;
  }
  EXPECT_EQ(state.services.size(), 120u);
}

}  // namespace
}  // namespace kubenat::bench
