// Applying plans to a real kernel: the first full sync of a large cluster,
// then one-endpoint changes applied as diffs, against the payload upstream
// kube-proxy's partial sync writes for the same change. Runs in a network
// namespace of its own; needs root.
//
// build/bench/kubenat_apply_bench [--services N] [--endpoints E] [--changes K]
//                                 [--mode nft|legacy] [--max-payload-kib S]
// Figures and the machine they came from: bench/README.md.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench/kube_proxy_baseline.h"
#include "bench/synthetic_cluster.h"
#include "engine/iptables/backend.h"
#include "engine/iptables/runner.h"
#include "engine/iptables/syncer.h"
#include "engine/network_namespace.h"
#include "engine/process.h"
#include "rules/iptables/change.h"
#include "rules/iptables/compiler.h"

namespace kubenat::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Samples {
  std::vector<double> values;
  void add(double v) { values.push_back(v); }
  double median() const {
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
  }
  double min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
  double max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
};

int run(int argc, char** argv) {
  int services = 10000, endpoints = 10, changes = 20, max_kib = -1;
  std::string mode_name = "nft";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--services") services = std::stoi(value);
    else if (flag == "--endpoints") endpoints = std::stoi(value);
    else if (flag == "--changes") changes = std::stoi(value);
    else if (flag == "--mode") mode_name = value;
    else if (flag == "--max-payload-kib") max_kib = std::stoi(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const IptablesMode mode = mode_name == "legacy" ? IptablesMode::Legacy : IptablesMode::Nft;
  auto ns = ScopedNetworkNamespace::create("kn-bench-" + std::to_string(::getpid()));
  if (!ns) {
    std::fprintf(stderr, "cannot create a network namespace (root needed): %s\n", ns.error().c_str());
    return 1;
  }

  ProxyConfig config;
  config.node_name = "node-0";
  config.node_ips = {*IpAddress::parse("192.168.0.1")};
  config.cluster_cidrs = {*Cidr::parse("10.0.0.0/8")};
  ClusterState state = make_synthetic_cluster({.services = services, .endpoints_per_service = endpoints});

  ProcessIptablesRunner runner(mode, ns->name());
  const std::size_t payload_bytes =
      max_kib < 0 ? recommended_payload_bytes(mode) : static_cast<std::size_t>(max_kib) * 1024;
  IptablesBackend backend(runner, IpFamily::V4, IptablesBackend::Options{payload_bytes});
  SteadyClock clock;
  IptablesSyncer syncer(backend, nullptr, clock,
                        IptablesSyncer::Options{std::chrono::hours(1), std::chrono::hours(1)});

  auto start = Clock::now();
  IptablesPlan plan = compile_iptables(state, config).plan;
  const double compile_ms = ms_since(start);
  start = Clock::now();
  SyncResult full = syncer.sync(plan);
  const double full_ms = ms_since(start);
  if (!full.ok) {
    std::fprintf(stderr, "full sync failed: %s\n", full.error.c_str());
    return 1;
  }
  std::printf("iptables-%s, %d services x %d endpoints\n", mode_name.c_str(), services, endpoints);
  std::printf("first full sync: %.0f ms apply (+%.0f ms compile), %zu bytes in %zu iptables-restore calls\n",
              full_ms, compile_ms, full.stats.bytes, full.stats.transactions);

  Samples apply_ms, apply_bytes, baseline_ms, baseline_bytes;
  for (int k = 0; k < changes; ++k) {
    // One more endpoint for one service, spread over the table.
    const int service = static_cast<int>((static_cast<long>(k) * 7919 + 13) % services);
    const ObjectName id{"ns" + std::to_string(service % 50), "svc" + std::to_string(service)};
    EndpointSlice& slice = state.slices[id].begin()->second;
    Endpoint ep;
    ep.address = *IpAddress::parse(synthetic_endpoint_ip(service, endpoints + k / services + 1));
    ep.node_name = "node-1";
    slice.endpoints.push_back(ep);

    IptablesPlan next = compile_iptables(state, config).plan;
    const std::set<ServicePortName> changed = {ServicePortName{id, "http", Protocol::Tcp}};
    const IptablesChange minimal = diff_iptables(plan, next, changed);
    const IptablesChange baseline = kube_proxy_partial_change(next, minimal);

    // kube-proxy's payload first, then kubenat's diff, each applied to the
    // same kernel state (the baseline writes the new state too; kubenat's
    // diff is then computed against the plan before the change, so it writes
    // the same chains again).
    IptablesApplyStats baseline_stats;
    start = Clock::now();
    for (const std::string& payload : render_iptables_change(baseline)) {
      if (auto ok = runner.restore(IpFamily::V4, payload); !ok) {
        std::fprintf(stderr, "baseline restore failed: %s\n", ok.error().c_str());
        return 1;
      }
      baseline_stats.bytes += payload.size();
    }
    baseline_ms.add(ms_since(start));
    baseline_bytes.add(static_cast<double>(baseline_stats.bytes));

    start = Clock::now();
    auto applied = backend.apply(minimal);
    apply_ms.add(ms_since(start));
    if (!applied) {
      std::fprintf(stderr, "diff apply failed: %s\n", applied.error().message.c_str());
      return 1;
    }
    apply_bytes.add(static_cast<double>(applied->bytes));
    plan = std::move(next);
  }
  std::printf("one-endpoint change, %d samples (median [min..max]):\n", changes);
  std::printf("  kubenat diff:             %7.1f ms [%.1f..%.1f], %7.0f bytes [%.0f..%.0f]\n", apply_ms.median(),
              apply_ms.min(), apply_ms.max(), apply_bytes.median(), apply_bytes.min(), apply_bytes.max());
  std::printf("  kube-proxy partial sync:  %7.1f ms [%.1f..%.1f], %7.0f bytes [%.0f..%.0f]\n", baseline_ms.median(),
              baseline_ms.min(), baseline_ms.max(), baseline_bytes.median(), baseline_bytes.min(),
              baseline_bytes.max());
  std::printf("  ratio (kube-proxy / kubenat): time %.1fx, bytes %.0fx\n", baseline_ms.median() / apply_ms.median(),
              baseline_bytes.median() / apply_bytes.median());
  return 0;
}

}  // namespace
}  // namespace kubenat::bench

int main(int argc, char** argv) { return kubenat::bench::run(argc, argv); }
