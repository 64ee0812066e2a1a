// Micro-benchmarks of the daemon's metrics: recording a sync and a health
// probe (what the daemon does per sync and per probe) and rendering /metrics.
// Run: build/bench/kubenat_micro_bench --benchmark_filter=Metrics

#include <benchmark/benchmark.h>

#include <chrono>

#include "engine/daemon/metrics.h"

namespace kubenat::bench {
namespace {

void BM_MetricsRecordSync(benchmark::State& state) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  const auto now = std::chrono::system_clock::now();
  for (auto _ : state)
    metrics.record_sync(IpFamily::V4, SyncKind::Partial, true, std::chrono::milliseconds(3), 4096, now);
}

void BM_MetricsCountAProbe(benchmark::State& state) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  for (auto _ : state) metrics.proxy_healthz_total.with({"200"}).inc();
}

void BM_MetricsRender(benchmark::State& state) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < 100; ++i) {
    metrics.record_sync(IpFamily::V4, SyncKind::Partial, i % 10 != 0, std::chrono::milliseconds(i), 4096, now);
  }
  metrics.proxy_healthz_total.with({"200"}).inc();
  metrics.proxy_healthz_total.with({"503"}).inc();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.render();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

BENCHMARK(BM_MetricsRecordSync);
BENCHMARK(BM_MetricsCountAProbe);
BENCHMARK(BM_MetricsRender)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kubenat::bench
