#include "bench/dataplane_scenario.h"

#include "bench/sample_stats.h"

namespace kubenat::bench {

std::expected<void, std::string> measure_dataplane(DataplaneWorld& world, const DataplaneSettings& settings,
                                                   CellResult& cell) {
  const std::string target = settings.service_ip + ":" + std::to_string(settings.service_port);
  constexpr int kWarmUp = 10;
  const ConnectionTimings warm_up = world.measure(settings.service_ip, settings.service_port, kWarmUp);
  if (warm_up.connect_microseconds.empty()) {
    return std::unexpected("data plane: none of " + std::to_string(kWarmUp) + " connections to " + target +
                           " succeeded: the rules do not lead to the pod");
  }
  for (int run = 0; run < settings.runs; ++run) {
    const ConnectionTimings timings = world.measure(settings.service_ip, settings.service_port, settings.connections);
    if (!timings.connect_microseconds.empty()) {
      const SampleSummary latency = summarize(timings.connect_microseconds);
      cell.figures[Figure::ConnectLatency].values.push_back(latency.median);
      cell.figures[Figure::ConnectLatencyP99].values.push_back(latency.p99);
    }
    cell.figures[Figure::ConnectionsPerSecond].values.push_back(timings.connections_per_second);
    cell.connection_failures += timings.failures;
  }
  if (cell.connection_failures > 0) {
    cell.figures[Figure::ConnectLatency].note =
        std::to_string(cell.connection_failures) + " of " + std::to_string(settings.runs * settings.connections) +
        " connections failed";
  }
  return {};
}

}  // namespace kubenat::bench
