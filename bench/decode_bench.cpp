// Micro-benchmarks of what the daemon's informers do with each list page:
// parse a page of 500 EndpointSlices (10 endpoints each, the daemon scenario's
// shape) and decode its items into the model. The daemon's cold start at
// 100,000 Services is mostly these two, 200 pages of each. The daemon parses
// into a JsonTree (BM_ParseSlicePageTree); BM_ParseSlicePage is nlohmann's
// document, which it used before, for comparison.
// Run: build/bench/kubenat_micro_bench --benchmark_filter=SlicePage
// Figures and the machine they came from: bench/README.md.

#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <string>

#include "bench/synthetic_cluster.h"
#include "rules/decode.h"
#include "rules/encode.h"
#include "rules/json_or_yaml.h"
#include "rules/json_tree.h"
#include "rules/shared_text.h"

namespace kubenat::bench {
namespace {

constexpr int kPageSize = 500;

// A page as an API server serves it: a List whose items carry a
// resourceVersion each.
std::string slice_page_text() {
  const ClusterState cluster = make_synthetic_cluster({.services = kPageSize});
  nlohmann::json items = nlohmann::json::array();
  int version = 1;
  for (const auto& [service, slices] : cluster.slices) {
    for (const auto& [name, slice] : slices) {
      nlohmann::json item = encode_slice(slice);
      item["metadata"]["resourceVersion"] = std::to_string(version++);
      items.push_back(std::move(item));
    }
  }
  return nlohmann::json{{"apiVersion", "discovery.k8s.io/v1"},
                        {"kind", "EndpointSliceList"},
                        {"metadata", {{"resourceVersion", std::to_string(version)}}},
                        {"items", std::move(items)}}
      .dump();
}

// Parses the page with `parse` (the document is freed every iteration, as
// the daemon frees each page).
template <class Parse>
void parse_slice_page(benchmark::State& state, Parse parse) {
  const std::string text = slice_page_text();
  for (auto _ : state) {
    auto page = parse(text);
    benchmark::DoNotOptimize(page);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["page_bytes"] = static_cast<double>(text.size());
}

void BM_ParseSlicePage(benchmark::State& state) {
  parse_slice_page(state, [](std::string_view text) { return parse_json(text); });
}

void BM_ParseSlicePageTree(benchmark::State& state) {
  parse_slice_page(state, [](std::string_view text) { return parse_json_tree(text); });
}

void BM_DecodeSlicePage(benchmark::State& state) {
  const JsonTree page = *parse_json_tree(slice_page_text());
  SharedTextPool texts;
  DecodeOptions options;
  options.texts = &texts;
  for (auto _ : state) {
    const JsonValue items = page.root().find("items");
    for (JsonValue item = items.first(); item.exists(); item = item.next()) {
      Decoded<EndpointSlice> slice = decode_endpoint_slice(item, options);
      benchmark::DoNotOptimize(slice);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kPageSize));
}

}  // namespace

BENCHMARK(BM_ParseSlicePage)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseSlicePageTree)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeSlicePage)->Unit(benchmark::kMillisecond);

}  // namespace kubenat::bench
