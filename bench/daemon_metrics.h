#pragma once

// What the churn soak reads from `kubenat run`'s /metrics: how many syncs
// ran and failed, what is still pending, and what the watch went through.
// Pure: text in, figures out.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace kubenat::bench {

struct DaemonCounters {
  // kubeproxy_sync_proxy_rules_duration_seconds_count, summed over the IP
  // families: every sync, successful or not.
  std::uint64_t syncs = 0;
  // kubenat_syncs_total by kind and result.
  std::uint64_t full_syncs = 0;
  std::uint64_t partial_syncs = 0;
  std::uint64_t failed_syncs = 0;
  // The mode's own failure counters, as kube-proxy names them:
  // kubeproxy_sync_proxy_rules_iptables_restore_failures_total (the partial
  // ones included) or kubeproxy_sync_proxy_rules_nftables_sync_failures_total.
  std::uint64_t backend_failures = 0;
  // kubeproxy_sync_proxy_rules_{service,endpoint}_changes_pending.
  std::uint64_t services_pending = 0;
  std::uint64_t endpoints_pending = 0;
  // kubeproxy_sync_proxy_rules_{service,endpoint}_changes_total: changes the
  // syncs applied, as the daemon counts them (per Service, per sync).
  std::uint64_t service_changes = 0;
  std::uint64_t endpoint_changes = 0;
  // Seconds since the epoch, the latest over the families; 0 when never:
  // the end of the last successful sync, and the last change queued.
  double last_sync = 0;
  double last_queued = 0;
  // kubeproxy_sync_{full,partial}_proxy_rules_duration_seconds: sums and
  // counts, for the mean time a sync takes.
  double full_sync_seconds_sum = 0;
  double partial_sync_seconds_sum = 0;
  std::uint64_t partial_sync_count = 0;
  // kubeproxy_network_programming_duration_seconds: from the
  // endpoints.kubernetes.io/last-change-trigger-time of an EndpointSlice
  // (the churn stamps every slice it writes) to the end of the sync that
  // applied it. The 99th percentile is a bucket's upper bound; 0 when
  // nothing was measured.
  double programming_seconds_sum = 0;
  std::uint64_t programming_count = 0;
  double programming_p99_at_most = 0;
  // kubenat_watch_{reconnects,relists,decode_errors}_total, every resource.
  std::uint64_t watch_reconnects = 0;
  std::uint64_t watch_relists = 0;
  std::uint64_t watch_decode_errors = 0;

  bool operator==(const DaemonCounters&) const = default;

  // Every change the daemon was told of has been applied by a sync that
  // succeeded: nothing pending, and the last successful sync ended after the
  // last change was queued.
  bool settled() const;
};

// The samples of metric `name` (exactly that name, any labels) whose labels
// include every pair of `labels`, summed; 0 when there are none.
double sum_of_series(std::string_view metrics_text, std::string_view name,
                     const std::map<std::string, std::string>& labels = {});
// The largest such sample; 0 when there are none.
double max_of_series(std::string_view metrics_text, std::string_view name);

// The upper bound of the first bucket of histogram `name` (its _bucket
// series, summed over the other labels) that holds the fraction `quantile`
// of the observations: the quantile is at most that. 0 without
// observations; +infinity when only the +Inf bucket does.
double histogram_quantile_at_most(std::string_view metrics_text, std::string_view name, double quantile);

// The counters from a /metrics answer; absent series count as 0.
DaemonCounters read_daemon_counters(std::string_view metrics_text);

}  // namespace kubenat::bench
