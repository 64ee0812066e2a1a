#include "bench/bench_options.h"

#include <algorithm>

namespace kubenat::bench {

std::string_view backend_name(BenchBackend backend) {
  switch (backend) {
    case BenchBackend::Iptables:
      return "iptables";
    case BenchBackend::Nftables:
      return "nftables";
    case BenchBackend::KubeProxy:
      return "kube-proxy";
    case BenchBackend::KubeProxyNftables:
      return "kube-proxy-nftables";
    case BenchBackend::Floor:
      return "floor";
    case BenchBackend::NatFloor:
      return "nat-floor";
  }
  return "?";
}

int full_sync_runs(const BenchOptions& options) { return std::min(options.runs, 3); }

std::optional<BenchBackend> backend_from_name(std::string_view name) {
  for (BenchBackend backend : kAllBenchBackends) {
    if (backend_name(backend) == name) return backend;
  }
  return std::nullopt;
}

std::string_view scenario_name(BenchScenario scenario) {
  switch (scenario) {
    case BenchScenario::Compare:
      return "compare";
    case BenchScenario::Soak:
      return "soak";
    case BenchScenario::Daemon:
      return "daemon";
  }
  return "?";
}

std::optional<BenchScenario> scenario_from_name(std::string_view name) {
  for (BenchScenario scenario : {BenchScenario::Compare, BenchScenario::Soak, BenchScenario::Daemon}) {
    if (scenario_name(scenario) == name) return scenario;
  }
  return std::nullopt;
}

}  // namespace kubenat::bench
