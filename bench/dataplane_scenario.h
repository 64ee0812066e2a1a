#pragma once

// The data-plane figures of one cell: new connections from the client
// namespace through the node's rules to the pod (bench/dataplane_world.h),
// addressed to a Service's cluster IP, or to the pod itself with no rules.

#include <expected>
#include <string>

#include "bench/bench_results.h"
#include "bench/dataplane_world.h"

namespace kubenat::bench {

struct DataplaneSettings {
  // Where the connections go: a cluster IP whose one endpoint is the world's
  // pod, or (the floor) the pod's own address and port.
  std::string service_ip;
  int service_port = 80;
  int runs = 5;
  int connections = 1000;  // per run
};

// `runs` runs of `connections` sequential connections, after a few untimed
// ones (ARP, route and conntrack caches). Fills ConnectLatency and
// ConnectLatencyP99 (each run's median and 99th percentile) and
// ConnectionsPerSecond (one value per run) into `cell`, and counts failed
// connections. The error is for a data plane that lets no connection
// through.
[[nodiscard]] std::expected<void, std::string> measure_dataplane(DataplaneWorld& world,
                                                                 const DataplaneSettings& settings, CellResult& cell);

}  // namespace kubenat::bench
