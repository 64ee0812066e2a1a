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

// The backends a bench compares. KubeProxy is the baseline: upstream
// kube-proxy's iptables mode as it writes to the kernel (bench/kube_proxy_baseline.h).
enum class BenchBackend { Iptables, Nftables, KubeProxy };

inline constexpr BenchBackend kAllBenchBackends[] = {BenchBackend::Iptables, BenchBackend::Nftables,
                                                     BenchBackend::KubeProxy};

// "iptables", "nftables", "kube-proxy": the names the --backends flag takes.
std::string_view backend_name(BenchBackend backend);
std::optional<BenchBackend> backend_from_name(std::string_view name);

struct BenchOptions {
  std::vector<int> sizes = {1000, 10000, 50000};  // services, ascending, no duplicates
  int endpoints = 10;                             // per service
  std::vector<BenchBackend> backends = {BenchBackend::Iptables, BenchBackend::Nftables, BenchBackend::KubeProxy};
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
  // The baseline's one-call full restore is killed after this long.
  std::chrono::milliseconds baseline_full_sync_timeout = std::chrono::seconds(60);
  bool help = false;
};

// A first full sync of a large cluster takes seconds to minutes, and each
// sample needs a namespace of its own: fewer samples than --runs.
int full_sync_runs(const BenchOptions& options);

}  // namespace kubenat::bench
