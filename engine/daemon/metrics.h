#pragma once

// A small thread-safe Prometheus metrics registry (counters, gauges and
// fixed-bucket histograms, optionally labelled) rendered in the text
// exposition format 0.0.4, and ProxyMetrics: the metrics kubenat exports,
// under kube-proxy's names where kube-proxy has one. prometheus-cpp's core
// does the same 3 to 6 times slower (bench/README.md), hence this one.
//
// Registration is start-up configuration: a bad or duplicate name, bad
// buckets, or a label-value count that does not match the family are
// programming errors and throw std::invalid_argument. Recording never fails
// and never blocks for long: counters and gauges are atomics, a histogram
// takes its own mutex.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/daemon/proxy_mode.h"
#include "rules/ip.h"

namespace kubenat {

// The content type of MetricsRegistry::render()'s output.
inline constexpr std::string_view kPrometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8";

class Counter {
 public:
  // Adds `by`; negative and NaN amounts are ignored (a counter only goes up).
  void inc(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  void dec(double by = 1) { value_.fetch_sub(by, std::memory_order_relaxed); }
  // Seconds since the Unix epoch, as Prometheus' SetToCurrentTime does.
  void set_to_time(std::chrono::system_clock::time_point time);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // upper_bounds: strictly increasing, finite; the +Inf bucket is implicit
  // (a trailing +Inf is dropped).
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative_counts;  // one per upper bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Bucket helpers, as Prometheus' client_golang defines them.
std::vector<double> exponential_buckets(double start, double factor, int count);
std::vector<double> linear_buckets(double start, double width, int count);

// What every family is to the registry: something that renders itself.
class MetricFamilyBase {
 public:
  virtual ~MetricFamilyBase() = default;
  // Appends "# HELP", "# TYPE" and the samples, or nothing when a labelled
  // family has no series yet (as client_golang leaves it out).
  virtual void render(std::string& out) const = 0;
};

// A metric with labels: one series per distinct tuple of label values,
// created on first use. The references it hands out stay valid for the
// family's lifetime.
template <class Metric>
class MetricFamily final : public MetricFamilyBase {
 public:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
               std::function<std::unique_ptr<Metric>()> make);

  // The series for these label values (in the order of the label names).
  // Throws std::invalid_argument when the count differs from the label names'.
  Metric& with(const std::vector<std::string>& label_values);

  const std::string& name() const { return name_; }
  void render(std::string& out) const override;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  // Unlabelled metrics: rendered from registration on, at zero.
  Counter& counter(std::string name, std::string help);
  Gauge& gauge(std::string name, std::string help);
  Histogram& histogram(std::string name, std::string help, std::vector<double> upper_bounds);

  CounterFamily& counter_family(std::string name, std::string help, std::vector<std::string> label_names);
  GaugeFamily& gauge_family(std::string name, std::string help, std::vector<std::string> label_names);
  HistogramFamily& histogram_family(std::string name, std::string help, std::vector<std::string> label_names,
                                    std::vector<double> upper_bounds);

  // The text exposition format 0.0.4: families sorted by name, series by
  // label values, histogram buckets in increasing order. The same values
  // always render to the same bytes.
  std::string render() const;

 private:
  template <class Metric>
  MetricFamily<Metric>& add(std::string name, std::string help, std::vector<std::string> label_names,
                            std::function<std::unique_ptr<Metric>()> make);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<MetricFamilyBase>, std::less<>> families_;
};

enum class SyncKind { Full, Partial };

// "IPv4", "IPv6": the ip_family label's values, as kube-proxy writes them.
std::string_view ip_family_label(IpFamily family);

// kubenat's metric set. Names starting kubeproxy_ are kube-proxy's (same
// name, type, labels and buckets as pkg/proxy/metrics/metrics.go in v1.33+,
// where the sync metrics gained an ip_family label), so dashboards and
// alerts written for kube-proxy keep working; kubenat_ ones are kubenat's
// own. As kube-proxy's RegisterMetrics, the iptables metrics exist only in
// iptables mode and the nftables ones only in nftables mode. Series with an
// ip_family label are created at zero for `families` (the ones this daemon
// proxies). The references point into the registry passed to the
// constructor, which must outlive this struct.
struct ProxyMetrics {
  ProxyMetrics(MetricsRegistry& registry, ProxyMode mode, const std::vector<IpFamily>& families);

  // --- kube-proxy's, labelled ip_family --------------------------------
  HistogramFamily& sync_proxy_rules_duration;           // kubeproxy_sync_proxy_rules_duration_seconds
  HistogramFamily& sync_full_proxy_rules_duration;      // kubeproxy_sync_full_proxy_rules_duration_seconds
  HistogramFamily& sync_partial_proxy_rules_duration;   // kubeproxy_sync_partial_proxy_rules_duration_seconds
  GaugeFamily& sync_proxy_rules_last_timestamp;         // kubeproxy_sync_proxy_rules_last_timestamp_seconds
  GaugeFamily& sync_proxy_rules_last_queued_timestamp;  // kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds
  // kubeproxy_network_programming_duration_seconds: from an EndpointSlice's
  // endpoints.kubernetes.io/last-change-trigger-time to the end of the sync
  // that applied it.
  HistogramFamily& network_programming_duration;
  GaugeFamily&
      no_local_endpoints_total;  // kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy,ip_family}
  HistogramFamily& conntrack_reconciler_sync_duration;        // kubeproxy_conntrack_reconciler_sync_duration_seconds
  CounterFamily& conntrack_reconciler_deleted_entries_total;  // kubeproxy_conntrack_reconciler_deleted_entries_total
  // iptables mode only (null otherwise).
  GaugeFamily* iptables_rules_total;                       // kubeproxy_sync_proxy_rules_iptables_total{table,ip_family}
  GaugeFamily* iptables_rules_last;                        // kubeproxy_sync_proxy_rules_iptables_last{table,ip_family}
  CounterFamily* iptables_restore_failures_total;          // kubeproxy_sync_proxy_rules_iptables_restore_failures_total
  CounterFamily* iptables_partial_restore_failures_total;  // ..._iptables_partial_restore_failures_total
  // nftables mode only (null otherwise).
  CounterFamily* nftables_sync_failures_total;     // kubeproxy_sync_proxy_rules_nftables_sync_failures_total
  CounterFamily* nftables_cleanup_failures_total;  // kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total

  // --- kube-proxy's, without ip_family --------------------------------
  Gauge& endpoint_changes_pending;     // kubeproxy_sync_proxy_rules_endpoint_changes_pending
  Counter& endpoint_changes_total;     // kubeproxy_sync_proxy_rules_endpoint_changes_total
  Gauge& service_changes_pending;      // kubeproxy_sync_proxy_rules_service_changes_pending
  Counter& service_changes_total;      // kubeproxy_sync_proxy_rules_service_changes_total
  CounterFamily& proxy_healthz_total;  // kubeproxy_proxy_healthz_total{code}
  CounterFamily& proxy_livez_total;    // kubeproxy_proxy_livez_total{code}

  // --- kubenat's ------------------------------------------------------
  Histogram& sync_bytes_applied;          // kubenat_sync_bytes_applied: bytes written per successful sync
  CounterFamily& syncs_total;             // kubenat_syncs_total{kind="full|partial",result="success|failure"}
  // kubenat_network_programming_arrival_duration_seconds: from a change's
  // arrival at kubenat to the end of the sync that applied it (kubenat's
  // own share of the latency, for changes without a trigger time too).
  Histogram& network_programming_arrival_duration;
  CounterFamily& watch_reconnects_total;  // kubenat_watch_reconnects_total{resource}
  CounterFamily& watch_relists_total;     // kubenat_watch_relists_total{resource}
  CounterFamily& watch_decode_errors_total;  // kubenat_watch_decode_errors_total{resource}
  Gauge& service_health_check_ports;  // kubenat_service_health_check_ports: health-check node ports served
  // kubenat_service_health_check_bind_failures_total: attempts to open one that failed (port taken)
  Counter& service_health_check_bind_failures_total;
  Gauge& routes;               // kubenat_routes: static pod-CIDR routes programmed (run --routes)
  Gauge& route_skipped_nodes;  // kubenat_route_skipped_nodes: nodes whose pod CIDRs got no route (not directly reachable)
  // kubenat_node_sysctls_failed: kube-proxy's node settings (conntrack,
  // route_localnet) kubenat could not make at start-up (read-only /proc/sys)
  Gauge& node_sysctls_failed;

  // One sync of `family`'s rules, as kube-proxy's proxiers record it: the
  // duration histograms see every sync, successful or not; on success the
  // last timestamp is set to `finished` and the bytes observed; on failure
  // the mode's failure counters go up (iptables: restore failures, and the
  // partial ones for a partial sync; nftables: sync failures).
  void record_sync(IpFamily family, SyncKind kind, bool success, std::chrono::duration<double> took,
                   std::size_t bytes_applied, std::chrono::system_clock::time_point finished);
};

}  // namespace kubenat
