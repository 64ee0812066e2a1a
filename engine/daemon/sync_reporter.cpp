#include "engine/daemon/sync_reporter.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>

namespace kubenat {

void SyncReporter::sync_queued(std::size_t services_pending, std::size_t endpoints_pending) {
  const auto now = std::chrono::system_clock::now();
  for (IpFamily family : families_) {
    health_.queued_update(family);
    metrics_.sync_proxy_rules_last_queued_timestamp.with({std::string(ip_family_label(family))}).set_to_time(now);
  }
  metrics_.service_changes_pending.set(static_cast<double>(services_pending));
  metrics_.endpoint_changes_pending.set(static_cast<double>(endpoints_pending));
}

void SyncReporter::resource_listed(WatchedResource resource, std::size_t objects) {
  std::string_view kind = "Services";
  if (resource == WatchedResource::EndpointSlices) kind = "EndpointSlices";
  if (resource == WatchedResource::Endpoints) kind = "Endpoints";
  if (resource == WatchedResource::Nodes) kind = "Nodes";
  const double seconds = std::chrono::duration<double>(std::chrono::system_clock::now() - started_).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.1f", seconds);
  log_.info(0, "listed " + std::string(kind) + ": " + std::to_string(objects) + (objects == 1 ? " object" : " objects") +
                   " in " + took + " s");
}

void SyncReporter::sync_done(const SyncReport& report) {
  std::vector<IpFamily> synced = proxying_ ? service_sync_done(report) : families_;
  bool others_ok = true;
  for (const SyncResult& other : report.other_results) others_ok = other_sync_done(other) && others_ok;
  metrics_.service_changes_pending.set(static_cast<double>(report.services_pending));
  metrics_.endpoint_changes_pending.set(static_cast<double>(report.endpoints_pending));
  if (health_checks_ != nullptr) {
    // The health-check server counts the node's own family (both families'
    // endpoints are the same pods on a dual-stack node).
    const std::string family(ip_family_label(families_.front()));
    metrics_.no_local_endpoints_total.with({"internal", family})
        .set(static_cast<double>(health_checks_->no_local_internal()));
    metrics_.no_local_endpoints_total.with({"external", family})
        .set(static_cast<double>(health_checks_->no_local_external()));
    metrics_.service_health_check_ports.set(static_cast<double>(health_checks_->open_ports()));
    const std::size_t failed = health_checks_->failed_binds();
    metrics_.service_health_check_bind_failures_total.inc(static_cast<double>(failed - failed_binds_seen_));
    failed_binds_seen_ = failed;
  }
  // A family is healthy only when every proxier synced: in routes-only mode
  // the routes are what this daemon is for.
  if (!others_ok) return;
  for (IpFamily family : synced) health_.updated(family);
}

std::vector<IpFamily> SyncReporter::service_sync_done(const SyncReport& report) {
  const SyncResult& r = report.result;
  const auto now = std::chrono::system_clock::now();
  std::vector<IpFamily> synced;
  if (r.by_family.empty()) {
    family_sync_done(report, r, families_.front(), now);
    if (r.ok) synced.push_back(families_.front());
  } else {
    for (const SyncResult& part : r.by_family) {
      const IpFamily family = part.family.value_or(families_.front());
      family_sync_done(report, part, family, now);
      if (part.ok) synced.push_back(family);
    }
  }
  metrics_.service_changes_total.inc(static_cast<double>(report.services_changed));
  metrics_.endpoint_changes_total.inc(static_cast<double>(report.endpoints_changed));
  for (auto latency : report.programming_latencies) {
    metrics_.network_programming_arrival_duration.observe(std::chrono::duration<double>(latency).count());
  }
  for (const std::string& warning : r.warnings) log_.warning(warning);
  for (const std::string& note : r.notes) log_.info(0, note);
  const double ms = std::chrono::duration<double, std::milli>(report.duration).count();
  if (!r.ok) {
    log_.error("sync failed after " + std::to_string(ms) + " ms: " + r.error);
    return synced;
  }
  // The total stays last: tools read the line's trailing milliseconds.
  const double compile_ms = std::chrono::duration<double, std::milli>(report.compile_duration).count();
  log_.info(r.full ? 0 : 2, std::string(r.full ? "full sync (" + r.reason + ")" : "partial sync") + ": " +
                                r.summary + ", compiled in " + std::to_string(compile_ms) + " ms, " +
                                std::to_string(ms) + " ms");
  return synced;
}

void SyncReporter::family_sync_done(const SyncReport& report, const SyncResult& r, IpFamily family,
                                    std::chrono::system_clock::time_point now) {
  const std::string label(ip_family_label(family));
  // Both families apply in the same sync: each waited the sync's duration.
  metrics_.record_sync(family, r.full ? SyncKind::Full : SyncKind::Partial, r.ok, report.duration, r.stats.bytes, now);
  if (r.ok) {
    for (auto trigger : report.trigger_times) {
      if (trigger < started_) continue;
      metrics_.network_programming_duration.with({label})
          .observe(std::max(0.0, std::chrono::duration<double>(now - trigger).count()));
    }
  }
  if (metrics_.nftables_cleanup_failures_total != nullptr && r.cleanup_failures > 0) {
    metrics_.nftables_cleanup_failures_total->with({label}).inc(static_cast<double>(r.cleanup_failures));
  }
  if (r.conntrack) {
    metrics_.conntrack_reconciler_sync_duration.with({label})
        .observe(std::chrono::duration<double>(r.conntrack->took).count());
    metrics_.conntrack_reconciler_deleted_entries_total.with({label}).inc(static_cast<double>(r.conntrack->deleted));
  }
  for (auto [gauge, counts] : {std::pair{metrics_.iptables_rules_total, &r.rules_by_table},
                               std::pair{metrics_.iptables_rules_last, &r.rules_written_by_table}}) {
    if (gauge == nullptr) continue;
    for (const auto& [table, count] : *counts) gauge->with({table, label}).set(static_cast<double>(count));
  }
}

bool SyncReporter::other_sync_done(const SyncResult& r) {
  for (const std::string& warning : r.warnings) log_.warning(warning);
  for (const std::string& note : r.notes) log_.info(0, note);
  if (r.routes) {
    const RouteSyncStats& s = *r.routes;
    metrics_.routes.set(static_cast<double>(s.programmed));
    metrics_.route_skipped_nodes.set(static_cast<double>(s.skipped_nodes));
    if (r.ok) log_.info(s.added + s.replaced + s.deleted > 0 ? 0 : 2, "routes: " + r.summary);
  }
  if (!r.ok) log_.error((r.routes ? "route sync failed: " : "sync failed: ") + r.error);
  return r.ok;
}

void SyncReporter::watch_incident(WatchedResource resource, WatchIncident incident, const std::string& detail) {
  const std::string name(watched_resource_name(resource));
  switch (incident) {
    case WatchIncident::Reconnect:
      metrics_.watch_reconnects_total.with({name}).inc();
      log_.info(1, "watch " + name + ": reconnecting: " + detail);
      break;
    case WatchIncident::Relist:
      metrics_.watch_relists_total.with({name}).inc();
      log_.info(0, "watch " + name + ": listing again: " + detail);
      break;
    case WatchIncident::DecodeError:
      metrics_.watch_decode_errors_total.with({name}).inc();
      log_.warning("watch " + name + ": skipped an event: " + detail);
      break;
    case WatchIncident::ServerUnreachable:
      log_.warning("watch " + name + ": API server unreachable: " + detail);
      break;
  }
}

void SyncReporter::own_node_changed(const std::optional<Node>& node) {
  const bool eligible = node_eligible_for_traffic(node);
  if (eligible == health_.node_eligible()) return;
  health_.set_node_eligible(eligible);
  if (eligible) {
    log_.info(0, "this node is eligible for load-balancer traffic again: /healthz answers 200");
  } else {
    const std::string why = !node                 ? "gone"
                            : node->being_deleted ? "being deleted"
                                                  : "tainted " + std::string(kToBeDeletedTaint);
    log_.warning("this node is " + why + ": /healthz answers 503 (nodeEligible false) so load balancers drain it");
  }
}

void SyncReporter::object_diagnostics(const Diagnostics& diagnostics) {
  for (const Diagnostic& d : diagnostics) log_.warning(d.to_string());
}

}  // namespace kubenat
