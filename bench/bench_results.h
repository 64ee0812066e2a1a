#pragma once

// What one cell of a bench (one size, one backend) measured: the samples of
// each figure, and what went wrong. A cell is measured in a child process
// and comes back as JSON, so the types convert both ways.

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/bench_options.h"

namespace kubenat::bench {

enum class Figure {
  Compile,
  FullSync,
  FullSyncBytes,
  EndpointChange,
  EndpointChangeBytes,
  ServiceAdd,
  ServiceAddBytes,
  PeakMemory,
  ConnectLatency,     // a run's median
  ConnectLatencyP99,  // a run's 99th percentile
  ConnectionsPerSecond,
};

struct FigureInfo {
  Figure figure;
  std::string_view key;    // JSON key and the stem of its .dat and .png files: "full_sync_ms"
  std::string_view title;  // "full sync"
  std::string_view unit;   // "ms"
  bool dataplane;          // measured through the data plane (the baseline shares iptables' figures)
  bool plotted;
  bool log_y;  // spans orders of magnitude between backends
};

// Every figure, in the order the report shows them.
const std::vector<FigureInfo>& all_figures();
const FigureInfo& figure_info(Figure figure);

struct FigureSamples {
  std::vector<double> values;
  // No values because the work did not finish in time: the time it was
  // given, a lower bound of the figure.
  std::optional<double> at_least;
  std::string note;  // why there are no values, or how many runs when fewer than asked

  bool operator==(const FigureSamples&) const = default;
};

struct CellResult {
  int services = 0;
  BenchBackend backend = BenchBackend::Iptables;
  std::map<Figure, FigureSamples> figures;
  // What failed; the figures measured before the failure are kept.
  std::optional<std::string> error;
  int connection_failures = 0;  // data plane: connects that did not succeed

  bool operator==(const CellResult&) const = default;
};

nlohmann::json cell_to_json(const CellResult& cell);
// The error names what is missing or malformed.
[[nodiscard]] std::expected<CellResult, std::string> cell_from_json(const nlohmann::json& json);

}  // namespace kubenat::bench
