#include "bench/bench_cell.h"

#include <chrono>
#include <fstream>
#include <memory>

#include "bench/bench_cluster.h"
#include "bench/dataplane_scenario.h"
#include "bench/dataplane_world.h"
#include "bench/kube_proxy_nftables_baseline.h"
#include "engine/network_namespace.h"

namespace kubenat::bench {
namespace {

// The process's peak resident memory so far starts from its current size:
// a forked child would otherwise count its parent's peak.
void reset_peak_memory() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
}

// VmHWM from /proc/self/status, in MiB; nullopt when unreadable.
std::optional<double> peak_memory_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (!line.starts_with("VmHWM:")) continue;
    const double kib = std::strtod(line.c_str() + 6, nullptr);
    return kib / 1024.0;
  }
  return std::nullopt;
}

std::string full_sync_namespace(const std::string& prefix, int sample) {
  return prefix + "-fs" + std::to_string(sample);
}

bool measures_dataplane(const BenchOptions& options, const CellSpec& spec) {
  // The iptables baseline's rules are kubenat's iptables rules: same data plane.
  return options.dataplane && spec.backend != BenchBackend::KubeProxy;
}

// Figures of kubenat's own process: the baselines' would be kubenat's too.
bool measures_peak_memory(const CellSpec& spec) {
  return spec.backend == BenchBackend::Iptables || spec.backend == BenchBackend::Nftables;
}

// The NAT floor's Service: an address and port the client routes through
// the node (10.96.0.0/12), translated to the world's pod.
constexpr const char* kNatFloorServiceIp = "10.96.0.10";
constexpr int kNatFloorServicePort = 80;

// The least a service proxy does to a new connection from outside the
// cluster: DNAT to the pod, and masquerade so that the reply comes back
// through the node (kubenat and kube-proxy masquerade such a client too).
std::string nat_floor_ruleset() {
  const std::string pod = std::string(DataplaneWorld::kPodIp) + ":" + std::to_string(DataplaneWorld::kPodPort);
  return "table ip kubenat-nat-floor {\n"
         "  chain prerouting {\n"
         "    type nat hook prerouting priority dstnat; policy accept;\n"
         "    ip daddr " + std::string(kNatFloorServiceIp) + " tcp dport " + std::to_string(kNatFloorServicePort) +
         " dnat to " + pod + "\n"
         "  }\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ct status dnat masquerade\n"
         "  }\n"
         "}\n";
}

// The floors: the same connections straight to the pod through a node
// without rules (Floor), or to a Service address through a node with only
// the NAT every service proxy does (NatFloor).
CellResult run_floor_cell(const BenchOptions& options, const CellSpec& spec, const PhaseReporter& phase) {
  CellResult cell;
  cell.services = spec.services;
  cell.backend = spec.backend;
  if (!options.dataplane) return cell;
  const bool nat = spec.backend == BenchBackend::NatFloor;
  phase(nat ? "data plane (one DNAT and one masquerade rule)" : "data plane (no rules)");
  auto world = DataplaneWorld::create(spec.namespace_prefix);
  if (!world) {
    cell.error = "data plane namespaces: " + world.error();
    return cell;
  }
  DataplaneSettings dp{DataplaneWorld::kPodIp, DataplaneWorld::kPodPort, options.runs, options.connections};
  if (nat) {
    auto loaded = nft_transaction((*world)->node_ns(), nat_floor_ruleset(), std::chrono::seconds(30));
    if (!loaded || !*loaded) {
      cell.error = "the NAT floor's rules: " + (loaded ? std::string("nft -f timed out") : loaded.error());
      return cell;
    }
    dp.service_ip = kNatFloorServiceIp;
    dp.service_port = kNatFloorServicePort;
  }
  if (auto done = measure_dataplane(**world, dp, cell); !done) cell.error = done.error();
  return cell;
}

}  // namespace

std::vector<std::string> cell_namespace_names(const BenchOptions& options, const CellSpec& spec) {
  std::vector<std::string> names;
  for (int sample = 0; sample < full_sync_runs(options); ++sample) {
    names.push_back(full_sync_namespace(spec.namespace_prefix, sample));
  }
  for (const char* role : {"-rules", "-node", "-client", "-pod"}) names.push_back(spec.namespace_prefix + role);
  return names;
}

CellResult run_cell(const BenchOptions& options, const CellSpec& spec, const PhaseReporter& phase) {
  if (spec.backend == BenchBackend::Floor || spec.backend == BenchBackend::NatFloor) {
    return run_floor_cell(options, spec, phase);
  }
  reset_peak_memory();
  CellResult cell;
  cell.services = spec.services;
  cell.backend = spec.backend;

  phase("cluster");
  const SyntheticSpec synthetic = synthetic_spec(options, spec.services);
  ClusterState state = make_synthetic_cluster(synthetic);
  const ObjectName target = last_in_kube_services(state);
  route_to_pod(state, target, DataplaneWorld::kPodIp);
  const std::string target_ip = state.services.at(target).cluster_ips.front().to_string();

  const bool dataplane = measures_dataplane(options, spec);
  // Declared before the rules that go into its node namespace, so that it
  // outlives them.
  std::unique_ptr<DataplaneWorld> world;
  const RulesNamespaces namespaces = [&](int sample, bool kept) -> std::expected<RulesNamespace, std::string> {
    if (kept && dataplane) {
      auto created = DataplaneWorld::create(spec.namespace_prefix);
      if (!created) return std::unexpected("data plane namespaces: " + created.error());
      world = std::move(*created);
      return RulesNamespace{world->node_ns(), nullptr};
    }
    const std::string name = kept ? spec.namespace_prefix + "-rules" : full_sync_namespace(spec.namespace_prefix, sample);
    auto created = ScopedNetworkNamespace::create(name);
    if (!created) return std::unexpected(created.error());
    return RulesNamespace{name, std::make_unique<ScopedNetworkNamespace>(std::move(*created))};
  };

  ControlPlaneSettings settings;
  settings.backend = spec.backend;
  settings.spec = synthetic;
  settings.config = bench_proxy_config();
  settings.runs = options.runs;
  settings.full_sync_runs = full_sync_runs(options);
  settings.spare = target;
  settings.baseline_timeout = options.baseline_full_sync_timeout;

  if (spec.backend == BenchBackend::KubeProxy) {
    if (auto done = measure_baseline_control_plane(settings, state, namespaces, phase, cell); !done) {
      cell.error = done.error();
    }
  } else if (spec.backend == BenchBackend::KubeProxyNftables) {
    if (auto done = measure_kube_proxy_nftables_control_plane(settings, state, namespaces, phase, cell); !done) {
      cell.error = done.error();
    } else if (dataplane) {
      phase("data plane");
      const DataplaneSettings dp{target_ip, 80, options.runs, options.connections};
      if (auto measured = measure_dataplane(*world, dp, cell); !measured) cell.error = measured.error();
    }
  } else {
    auto kept = measure_kubenat_control_plane(settings, state, namespaces, phase, cell);
    if (!kept) {
      cell.error = kept.error();
    } else if (dataplane) {
      phase("data plane");
      const DataplaneSettings dp{target_ip, 80, options.runs, options.connections};
      if (auto done = measure_dataplane(*world, dp, cell); !done) cell.error = done.error();
    }
  }
  // The baselines' process holds kubenat's model, not kube-proxy's state.
  if (measures_peak_memory(spec)) {
    if (auto peak = peak_memory_mib()) cell.figures[Figure::PeakMemory].values = {*peak};
  }
  return cell;
}

}  // namespace kubenat::bench
