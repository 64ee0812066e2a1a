#pragma once

// What `kubenat bench` measures, as its flags say: the cluster sizes, the
// synthetic cluster's shape, the backends, how many runs, where the results
// go.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubenat::bench {

// The backends a bench compares. KubeProxy and KubeProxyNftables are the
// baselines: upstream kube-proxy's iptables mode and nftables mode as they
// write to the kernel (bench/kube_proxy_baseline.h,
// bench/kube_proxy_nftables_baseline.h). Floor has no rules at all: the data
// plane's new connections go straight to the pod, the physical limit.
// NatFloor has the least any service proxy does to them: one DNAT rule to the
// pod and one masquerade rule, so that a data plane's distance from the floor
// can be told apart into the NAT itself and the proxy's lookups.
enum class BenchBackend { Iptables, Nftables, KubeProxy, KubeProxyNftables, Floor, NatFloor };

inline constexpr BenchBackend kAllBenchBackends[] = {BenchBackend::Iptables,  BenchBackend::Nftables,
                                                     BenchBackend::KubeProxy, BenchBackend::KubeProxyNftables,
                                                     BenchBackend::Floor,     BenchBackend::NatFloor};

// "iptables", "nftables", "kube-proxy", "kube-proxy-nftables", "floor",
// "nat-floor": the names the --backends flag takes.
std::string_view backend_name(BenchBackend backend);
std::optional<BenchBackend> backend_from_name(std::string_view name);

// What `kubenat bench` runs: the backends side by side on synthetic clusters
// of several sizes (bench/bench_suite.h), or `kubenat run` under continuous
// changes for a while (bench/soak_scenario.h), or `kubenat run` timed from
// start to first sync, under steady changes and under a burst, at each of
// the sizes (bench/daemon_scenario.h).
enum class BenchScenario { Compare, Soak, Daemon };

// "compare", "soak", "daemon": the names the --scenario flag takes.
std::string_view scenario_name(BenchScenario scenario);
std::optional<BenchScenario> scenario_from_name(std::string_view name);

// The churn soak: `kubenat run` against the API server simulator holding a
// synthetic cluster of `services`, changed at random `changes_per_second`
// for `duration`, its memory and syncs sampled every `sample_interval`.
struct SoakOptions {
  int services = 10000;
  std::chrono::milliseconds duration = std::chrono::minutes(30);
  double changes_per_second = 20;
  std::chrono::milliseconds sample_interval = std::chrono::seconds(10);
  // Memory drift is measured from the first sample at or after this point:
  // the daemon's caches and allocator arenas grow to their working size first.
  std::chrono::milliseconds warm_up = std::chrono::minutes(3);
};

// The daemon scenario, per backend and size: after the first full sync,
// `changes_per_second` changes (EndpointSlices and Services) for
// `steady_duration`, then `burst_services` new Services created within
// `burst_window` (0: no burst).
struct DaemonScenarioOptions {
  double changes_per_second = 20;
  std::chrono::milliseconds steady_duration = std::chrono::seconds(60);
  // Changes at the rate before the timed ones, untimed: the daemon spaces
  // its syncs by the median cost of its last five, the first full sync's
  // among them until a few partial syncs have run.
  std::chrono::milliseconds steady_warm_up = std::chrono::seconds(5);
  int burst_services = 1000;
  std::chrono::milliseconds burst_window = std::chrono::seconds(1);
};

struct BenchOptions {
  BenchScenario scenario = BenchScenario::Compare;
  std::vector<int> sizes = {1000, 10000, 50000};  // services, ascending, no duplicates
  int endpoints = 10;                             // per service
  // Both baselines by default: their one-transaction full syncs are cut at
  // baseline_full_sync_timeout, so that every figure stands beside both
  // modes a user could run instead, and the floor beside the data plane.
  std::vector<BenchBackend> backends = {BenchBackend::Iptables,          BenchBackend::Nftables,
                                        BenchBackend::KubeProxy,         BenchBackend::KubeProxyNftables,
                                        BenchBackend::Floor,             BenchBackend::NatFloor};
  int runs = 5;
  int connections = 1000;  // new connections per data-plane run
  double node_port_share = 0.1;
  double load_balancer_share = 0.05;
  double affinity_share = 0.05;
  double local_share = 0.05;
  std::uint64_t seed = 1;
  std::string out_dir = "bench-results";
  bool dataplane = true;
  bool plots = true;
  // The baselines' one-call full sync (iptables-nft-restore, nft -f) is
  // killed after this long.
  std::chrono::milliseconds baseline_full_sync_timeout = std::chrono::seconds(60);
  SoakOptions soak;  // --scenario soak
  DaemonScenarioOptions daemon;  // --scenario daemon
  bool help = false;
};

// A first full sync of a large cluster takes seconds to minutes, and each
// sample needs a namespace of its own: fewer samples than --runs.
int full_sync_runs(const BenchOptions& options);

}  // namespace kubenat::bench
