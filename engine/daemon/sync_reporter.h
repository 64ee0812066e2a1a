#pragma once

// Turns what the sync loop reports into the daemon's metrics, health and log
// lines: kube-proxy's metrics for each sync (durations, failures, rule
// counts, conntrack cleanup, network programming latency from the
// last-change-trigger-time annotations), health updates, node eligibility,
// watch incidents, the routes' and health-check servers' figures.

#include <optional>
#include <string>
#include <vector>

#include "engine/daemon/health.h"
#include "engine/daemon/log.h"
#include "engine/daemon/metrics.h"
#include "engine/daemon/service_health_server.h"
#include "engine/sync_loop.h"

namespace kubenat {

class SyncReporter final : public SyncObserver {
 public:
  // `families`: the families proxied, the node's own first (two on a
  // dual-stack node, whose service proxier reports each family's result in
  // SyncResult::by_family). `proxying`: whether there is a service proxier
  // (--proxy-mode none has none, and its empty result is not a sync of
  // rules). `health_checks`, when given, is read after each sync for its
  // gauges. Everything given must outlive the reporter. Trigger times before
  // `started` (when the daemon started) are not measured.
  SyncReporter(ProxyMetrics& metrics, ProxyHealth& health, Log& log, std::vector<IpFamily> families, bool proxying,
               const ServiceHealthServer* health_checks = nullptr,
               std::chrono::system_clock::time_point started = std::chrono::system_clock::now())
      : metrics_(metrics),
        health_(health),
        log_(log),
        families_(std::move(families)),
        proxying_(proxying),
        health_checks_(health_checks),
        started_(started) {}

  void sync_queued(std::size_t services_pending, std::size_t endpoints_pending) override;
  void sync_done(const SyncReport& report) override;
  void watch_incident(WatchedResource resource, WatchIncident incident, const std::string& detail) override;
  void own_node_changed(const std::optional<Node>& node) override;
  void object_diagnostics(const Diagnostics& diagnostics) override;
  // "listed EndpointSlices: 100000 objects in 5.1 s", the time from `started`.
  void resource_listed(WatchedResource resource, std::size_t objects) override;

 private:
  // The service proxier's sync: metrics and log; the families whose rules
  // are now in the kernel.
  std::vector<IpFamily> service_sync_done(const SyncReport& report);
  // One family's share of it: its metrics.
  void family_sync_done(const SyncReport& report, const SyncResult& result, IpFamily family,
                        std::chrono::system_clock::time_point now);
  // The other proxiers' (static routes, health checks): warnings, their
  // figures, a line when something changed. Whether it succeeded.
  bool other_sync_done(const SyncResult& result);

  ProxyMetrics& metrics_;
  ProxyHealth& health_;
  Log& log_;
  std::vector<IpFamily> families_;
  bool proxying_;
  const ServiceHealthServer* health_checks_;
  std::size_t failed_binds_seen_ = 0;
  // Trigger times from before the daemon started are not its latency (as
  // kube-proxy, which ignores them): a restart would report hours.
  std::chrono::system_clock::time_point started_;
};

}  // namespace kubenat
