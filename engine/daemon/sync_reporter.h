#pragma once

// Turns what the sync loop reports into the daemon's metrics, health and log
// lines: kube-proxy's metrics for each sync, the rule counts, health
// updates, node eligibility, watch incidents, the routes' and health-check
// servers' figures.

#include <optional>
#include <string>

#include "engine/daemon/health.h"
#include "engine/daemon/log.h"
#include "engine/daemon/metrics.h"
#include "engine/daemon/service_health_server.h"
#include "engine/sync_loop.h"

namespace kubenat {

class SyncReporter final : public SyncObserver {
 public:
  // `proxying`: whether there is a service proxier (--proxy-mode none has
  // none, and its empty result is not a sync of rules). `health_checks`,
  // when given, is read after each sync for its gauges. Everything given
  // must outlive the reporter.
  SyncReporter(ProxyMetrics& metrics, ProxyHealth& health, Log& log, IpFamily family, bool proxying,
               const ServiceHealthServer* health_checks = nullptr)
      : metrics_(metrics),
        health_(health),
        log_(log),
        family_(family),
        proxying_(proxying),
        health_checks_(health_checks) {}

  void sync_queued() override;
  void sync_done(const SyncReport& report) override;
  void watch_incident(WatchedResource resource, WatchIncident incident, const std::string& detail) override;
  void own_node_changed(const std::optional<Node>& node) override;
  void object_diagnostics(const Diagnostics& diagnostics) override;

 private:
  // The service proxier's sync: metrics and log; whether it succeeded.
  bool service_sync_done(const SyncReport& report);
  // The other proxiers' (static routes, health checks): warnings, their
  // figures, a line when something changed. Whether it succeeded.
  bool other_sync_done(const SyncResult& result);

  ProxyMetrics& metrics_;
  ProxyHealth& health_;
  Log& log_;
  IpFamily family_;
  bool proxying_;
  const ServiceHealthServer* health_checks_;
  std::size_t failed_binds_seen_ = 0;
};

}  // namespace kubenat
