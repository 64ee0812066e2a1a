// Micro-benchmarks of the pure core: compile and render a synthetic cluster.
// Run: build/bench/kubenat_micro_bench --benchmark_filter=10000
// Figures and the machine they came from: bench/README.md.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "bench/synthetic_cluster.h"
#include "rules/iptables/chain_names.h"
#include "rules/iptables/compiler.h"
#include "rules/iptables/render.h"
#include "rules/nftables/compiler.h"

namespace kubenat::bench {
namespace {

ProxyConfig bench_config() {
  ProxyConfig config;
  config.node_name = "node-0";
  config.node_ips = {*IpAddress::parse("192.168.0.1")};
  config.cluster_cidrs = {*Cidr::parse("10.0.0.0/8")};
  return config;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void BM_CompileIptables(benchmark::State& state) {
  const ClusterState cluster = make_synthetic_cluster({.services = static_cast<int>(state.range(0))});
  const ProxyConfig config = bench_config();
  for (auto _ : state) {
    IptablesCompileResult result = compile_iptables(cluster, config);
    benchmark::DoNotOptimize(result);
  }
  state.counters["services"] = static_cast<double>(state.range(0));
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

void BM_RenderIptables(benchmark::State& state) {
  const ClusterState cluster = make_synthetic_cluster({.services = static_cast<int>(state.range(0))});
  const IptablesPlan plan = compile_iptables(cluster, bench_config()).plan;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = render_iptables_restore(plan);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

void BM_CompileAndRenderIptables(benchmark::State& state) {
  const ClusterState cluster = make_synthetic_cluster({.services = static_cast<int>(state.range(0))});
  const ProxyConfig config = bench_config();
  for (auto _ : state) {
    std::string text = render_iptables_restore(compile_iptables(cluster, config).plan);
    benchmark::DoNotOptimize(text);
  }
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

// The nftables backend's whole plan, as the daemon's first full sync
// compiles it (the daemon scenario's mix of Service kinds).
void BM_CompileNftables(benchmark::State& state) {
  const ClusterState cluster = make_synthetic_cluster({.services = static_cast<int>(state.range(0)),
                                                       .node_port_share = 0.10,
                                                       .load_balancer_share = 0.05,
                                                       .affinity_share = 0.05,
                                                       .local_policy_share = 0.05});
  const ProxyConfig config = bench_config();
  for (auto _ : state) {
    NftCompileResult result = compile_nft(cluster, config);
    benchmark::DoNotOptimize(result);
  }
  state.counters["services"] = static_cast<double>(state.range(0));
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

// One KUBE-SEP name per endpoint, as a compile names them: SHA-256 of the
// service port and endpoint, base32.
void BM_SepChainNames(benchmark::State& state) {
  const int names = static_cast<int>(state.range(0));
  std::vector<std::string> endpoints;
  for (int i = 0; i < names; ++i) endpoints.push_back(synthetic_endpoint_ip(i / 10, i % 10 + 1) + ":8080");
  const std::string prefix = chain_hash_prefix(ServicePortName{{"ns1", "svc1"}, "http", Protocol::Tcp});
  ChainNamer namer;
  for (auto _ : state) {
    for (const std::string& endpoint : endpoints) benchmark::DoNotOptimize(namer.sep_chain_from_prefix(prefix, endpoint));
  }
  state.SetItemsProcessed(state.iterations() * names);
}

BENCHMARK(BM_SepChainNames)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompileIptables)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompileNftables)->Arg(100)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RenderIptables)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompileAndRenderIptables)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kubenat::bench

BENCHMARK_MAIN();
