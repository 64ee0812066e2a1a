#include "bench/bench_results.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "bench/sample_stats.h"

namespace kubenat::bench {

const std::vector<FigureInfo>& all_figures() {
  static const std::vector<FigureInfo> figures = {
      {Figure::Compile, "compile_ms", "compile time", "ms", false, true, true},
      {Figure::FullSync, "full_sync_ms", "first full sync", "ms", false, true, true},
      {Figure::FullSyncBytes, "full_sync_bytes", "first full sync, bytes to the kernel", "bytes", false, false, true},
      {Figure::EndpointChange, "endpoint_change_ms", "one-endpoint change", "ms", false, true, true},
      {Figure::EndpointChangeBytes, "endpoint_change_bytes", "one-endpoint change, bytes to the kernel", "bytes", false,
       true, true},
      {Figure::ServiceAdd, "service_add_ms", "one-service add", "ms", false, true, true},
      {Figure::ServiceAddBytes, "service_add_bytes", "one-service add, bytes to the kernel", "bytes", false, false,
       true},
      {Figure::PeakMemory, "peak_memory_mib", "peak memory (VmHWM)", "MiB", false, true, false},
      {Figure::ConnectLatency, "connect_latency_us", "new-connection latency, median of a run", "us", true, true,
       true},
      {Figure::ConnectLatencyP99, "connect_latency_p99_us", "new-connection latency, 99th percentile of a run", "us",
       true, true, true},
      {Figure::ConnectionsPerSecond, "connections_per_second", "new connections per second", "conn/s", true, true,
       false},
  };
  return figures;
}

const FigureInfo& figure_info(Figure figure) {
  const auto& figures = all_figures();
  return *std::find_if(figures.begin(), figures.end(), [&](const FigureInfo& f) { return f.figure == figure; });
}

nlohmann::json cell_to_json(const CellResult& cell) {
  nlohmann::json figures = nlohmann::json::object();
  for (const auto& [figure, samples] : cell.figures) {
    nlohmann::json entry = {{"samples", samples.values}};
    if (!samples.values.empty()) {
      const SampleSummary s = summarize(samples.values);
      entry["median"] = s.median;
      entry["min"] = s.min;
      entry["max"] = s.max;
      entry["p99"] = s.p99;
    }
    if (samples.at_least) entry["at_least"] = *samples.at_least;
    if (!samples.note.empty()) entry["note"] = samples.note;
    figures[std::string(figure_info(figure).key)] = std::move(entry);
  }
  nlohmann::json json = {{"services", cell.services},
                         {"backend", std::string(backend_name(cell.backend))},
                         {"figures", std::move(figures)},
                         {"connection_failures", cell.connection_failures}};
  json["error"] = cell.error ? nlohmann::json(*cell.error) : nlohmann::json(nullptr);
  return json;
}

std::expected<CellResult, std::string> cell_from_json(const nlohmann::json& json) {
  CellResult cell;
  try {
    cell.services = json.at("services").get<int>();
    const std::string backend = json.at("backend").get<std::string>();
    const std::optional<BenchBackend> known = backend_from_name(backend);
    if (!known) return std::unexpected("unknown backend \"" + backend + "\"");
    cell.backend = *known;
    for (const FigureInfo& info : all_figures()) {
      const auto& figures = json.at("figures");
      auto it = figures.find(std::string(info.key));
      if (it == figures.end()) continue;
      FigureSamples samples;
      samples.values = it->at("samples").get<std::vector<double>>();
      if (it->contains("at_least")) samples.at_least = it->at("at_least").get<double>();
      if (it->contains("note")) samples.note = it->at("note").get<std::string>();
      cell.figures[info.figure] = std::move(samples);
    }
    cell.connection_failures = json.value("connection_failures", 0);
    if (json.contains("error") && !json.at("error").is_null()) cell.error = json.at("error").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    // The JSON comes from our own child process; a malformed one is
    // reported for the cell rather than thrown.
    return std::unexpected(std::string("malformed cell result: ") + e.what());
  }
  return cell;
}

}  // namespace kubenat::bench
