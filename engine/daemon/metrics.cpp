#include "engine/daemon/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace kubenat {
namespace {

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  return valid_metric_name(name) && name.find(':') == std::string_view::npos && !name.starts_with("__");
}

// Prometheus' float text: shortest round-trip form, and its spellings of
// the special values.
void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
  }
}

void append_number(std::string& out, std::uint64_t value) { out += std::to_string(value); }

// Label values escape backslash, double quote and newline; HELP text only
// backslash and newline.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// {a="x",b="y"} plus an optional trailing le="...", or nothing when there
// are no labels at all.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string* le = nullptr) {
  if (names.empty() && le == nullptr) return;
  out += '{';
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (le != nullptr) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void append_header(std::string& out, const std::string& name, const std::string& help, std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

template <class Metric>
std::string_view type_name();
template <>
std::string_view type_name<Counter>() {
  return "counter";
}
template <>
std::string_view type_name<Gauge>() {
  return "gauge";
}
template <>
std::string_view type_name<Histogram>() {
  return "histogram";
}

void append_series(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& values, double value) {
  out += name;
  append_labels(out, label_names, values);
  out += ' ';
  append_number(out, value);
  out += '\n';
}

void append_series(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& values, const Counter& counter) {
  append_series(out, name, label_names, values, counter.value());
}

void append_series(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& values, const Gauge& gauge) {
  append_series(out, name, label_names, values, gauge.value());
}

void append_series(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& values, const Histogram& histogram) {
  const Histogram::Snapshot snapshot = histogram.snapshot();
  const std::vector<double>& bounds = histogram.upper_bounds();
  const std::string bucket_name = name + "_bucket";
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    std::string le;
    append_number(le, i < bounds.size() ? bounds[i] : HUGE_VAL);
    out += bucket_name;
    append_labels(out, label_names, values, &le);
    out += ' ';
    append_number(out, snapshot.cumulative_counts[i]);
    out += '\n';
  }
  out += name + "_sum";
  append_labels(out, label_names, values);
  out += ' ';
  append_number(out, snapshot.sum);
  out += '\n';
  out += name + "_count";
  append_labels(out, label_names, values);
  out += ' ';
  append_number(out, snapshot.count);
  out += '\n';
}

std::vector<double> checked_bounds(std::vector<double> bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) throw std::invalid_argument("histogram bucket bounds must be finite");
    if (i > 0 && bounds[i] <= bounds[i - 1]) {
      throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
    }
  }
  return bounds;
}

}  // namespace

void Counter::inc(double by) {
  if (!(by >= 0)) return;  // also false for NaN
  value_.fetch_add(by, std::memory_order_relaxed);
}

void Gauge::set_to_time(std::chrono::system_clock::time_point time) {
  // Whole seconds and the rest apart: nanoseconds since the epoch need more
  // bits than a double has, seconds do not.
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  set(static_cast<double>(seconds.count()) + std::chrono::duration<double>(since_epoch - seconds).count());
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(checked_bounds(std::move(upper_bounds))), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  // Buckets are "less than or equal": the first bound >= value. NaN lands
  // in +Inf, as in client_golang.
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  std::lock_guard lock(mutex_);
  snapshot.cumulative_counts.reserve(counts_.size());
  std::uint64_t running = 0;
  for (const std::uint64_t n : counts_) {
    running += n;
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_;
  snapshot.count = count_;
  return snapshot;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (count < 1 || start <= 0 || factor <= 1) throw std::invalid_argument("exponential_buckets: bad parameters");
  std::vector<double> buckets;
  for (int i = 0; i < count; ++i) {
    buckets.push_back(start);
    start *= factor;
  }
  return buckets;
}

std::vector<double> linear_buckets(double start, double width, int count) {
  if (count < 1 || width <= 0) throw std::invalid_argument("linear_buckets: bad parameters");
  std::vector<double> buckets;
  for (int i = 0; i < count; ++i) {
    buckets.push_back(start);
    start += width;
  }
  return buckets;
}

template <class Metric>
MetricFamily<Metric>::MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
                                   std::function<std::unique_ptr<Metric>()> make)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), make_(std::move(make)) {}

template <class Metric>
Metric& MetricFamily<Metric>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument(name_ + ": expects " + std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = series_.try_emplace(label_values);
  if (inserted) it->second = make_();
  return *it->second;
}

template <class Metric>
void MetricFamily<Metric>::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  if (series_.empty()) return;
  append_header(out, name_, help_, type_name<Metric>());
  for (const auto& [values, metric] : series_) append_series(out, name_, label_names_, values, *metric);
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

template <class Metric>
MetricFamily<Metric>& MetricsRegistry::add(std::string name, std::string help, std::vector<std::string> label_names,
                                           std::function<std::unique_ptr<Metric>()> make) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name \"" + name + "\"");
  for (const std::string& label : label_names) {
    if (!valid_label_name(label) || (std::is_same_v<Metric, Histogram> && label == "le")) {
      throw std::invalid_argument(name + ": invalid label name \"" + label + "\"");
    }
    if (std::count(label_names.begin(), label_names.end(), label) > 1) {
      throw std::invalid_argument(name + ": duplicate label name \"" + label + "\"");
    }
  }
  auto family =
      std::make_unique<MetricFamily<Metric>>(name, std::move(help), std::move(label_names), std::move(make));
  MetricFamily<Metric>& result = *family;
  std::lock_guard lock(mutex_);
  if (!families_.try_emplace(std::move(name), std::move(family)).second) {
    throw std::invalid_argument("metric \"" + result.name() + "\" registered twice");
  }
  return result;
}

Counter& MetricsRegistry::counter(std::string name, std::string help) {
  return counter_family(std::move(name), std::move(help), {}).with({});
}

Gauge& MetricsRegistry::gauge(std::string name, std::string help) {
  return gauge_family(std::move(name), std::move(help), {}).with({});
}

Histogram& MetricsRegistry::histogram(std::string name, std::string help, std::vector<double> upper_bounds) {
  return histogram_family(std::move(name), std::move(help), {}, std::move(upper_bounds)).with({});
}

CounterFamily& MetricsRegistry::counter_family(std::string name, std::string help,
                                               std::vector<std::string> label_names) {
  return add<Counter>(std::move(name), std::move(help), std::move(label_names),
                      [] { return std::make_unique<Counter>(); });
}

GaugeFamily& MetricsRegistry::gauge_family(std::string name, std::string help, std::vector<std::string> label_names) {
  return add<Gauge>(std::move(name), std::move(help), std::move(label_names), [] { return std::make_unique<Gauge>(); });
}

HistogramFamily& MetricsRegistry::histogram_family(std::string name, std::string help,
                                                   std::vector<std::string> label_names,
                                                   std::vector<double> upper_bounds) {
  // Checked here, at registration, rather than when the first series appears.
  auto bounds = std::make_shared<const std::vector<double>>(checked_bounds(std::move(upper_bounds)));
  return add<Histogram>(std::move(name), std::move(help), std::move(label_names),
                        [bounds] { return std::make_unique<Histogram>(*bounds); });
}

std::string MetricsRegistry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

namespace {

// kube-proxy: prometheus.ExponentialBuckets(0.001, 2, 15), 1 ms to 16.384 s.
std::vector<double> sync_duration_buckets() { return exponential_buckets(0.001, 2, 15); }

// kube-proxy: metrics.MergeBuckets(LinearBuckets(0.25, 0.25, 2),
// LinearBuckets(1, 1, 59), LinearBuckets(60, 5, 12), LinearBuckets(120, 30, 7)).
// MergeBuckets starts from a zero-length-one slice, so the first bound is 0.
std::vector<double> network_programming_buckets() {
  std::vector<double> buckets{0};
  for (const auto& part : {linear_buckets(0.25, 0.25, 2), linear_buckets(1, 1, 59), linear_buckets(60, 5, 12),
                           linear_buckets(120, 30, 7)}) {
    buckets.insert(buckets.end(), part.begin(), part.end());
  }
  return buckets;
}

constexpr const char* kTables[] = {"filter", "nat"};
constexpr const char* kResources[] = {"services", "endpointslices", "endpoints", "nodes"};

// Series that exist from the start, so that rates and alerts see a zero
// rather than no data.
template <class Metric>
MetricFamily<Metric>& with_series(MetricFamily<Metric>& family, const std::vector<std::vector<std::string>>& rows) {
  for (const auto& row : rows) family.with(row);
  return family;
}

CounterFamily& per_resource(CounterFamily& family) {
  for (const char* resource : kResources) family.with({resource});
  return family;
}

// {{"IPv4"}, ...}: one row per family, or per (value, family) when `values`
// are given.
std::vector<std::vector<std::string>> family_rows(const std::vector<IpFamily>& families,
                                                  const std::vector<std::string>& values = {}) {
  std::vector<std::vector<std::string>> rows;
  for (IpFamily family : families) {
    const std::string label(ip_family_label(family));
    if (values.empty()) rows.push_back({label});
    for (const std::string& value : values) rows.push_back({value, label});
  }
  return rows;
}

}  // namespace

std::string_view ip_family_label(IpFamily family) { return family == IpFamily::V4 ? "IPv4" : "IPv6"; }

ProxyMetrics::ProxyMetrics(MetricsRegistry& registry, ProxyMode mode, const std::vector<IpFamily>& families)
    : sync_proxy_rules_duration(with_series(
          registry.histogram_family("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds",
                                    {"ip_family"}, sync_duration_buckets()),
          family_rows(families))),
      sync_full_proxy_rules_duration(
          with_series(registry.histogram_family("kubeproxy_sync_full_proxy_rules_duration_seconds",
                                                "SyncProxyRules latency in seconds for full resyncs", {"ip_family"},
                                                sync_duration_buckets()),
                      family_rows(families))),
      sync_partial_proxy_rules_duration(
          with_series(registry.histogram_family("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                                                "SyncProxyRules latency in seconds for partial resyncs", {"ip_family"},
                                                sync_duration_buckets()),
                      family_rows(families))),
      sync_proxy_rules_last_timestamp(
          with_series(registry.gauge_family("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                                            "The last time proxy rules were successfully synced", {"ip_family"}),
                      family_rows(families))),
      sync_proxy_rules_last_queued_timestamp(
          with_series(registry.gauge_family("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                                            "The last time a sync of proxy rules was queued", {"ip_family"}),
                      family_rows(families))),
      network_programming_duration(
          with_series(registry.histogram_family("kubeproxy_network_programming_duration_seconds",
                                                "In Cluster Network Programming Latency in seconds", {"ip_family"},
                                                network_programming_buckets()),
                      family_rows(families))),
      no_local_endpoints_total(
          with_series(registry.gauge_family("kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                                            "Number of services with a Local traffic policy and no endpoints",
                                            {"traffic_policy", "ip_family"}),
                      family_rows(families, {"internal", "external"}))),
      conntrack_reconciler_sync_duration(
          with_series(registry.histogram_family("kubeproxy_conntrack_reconciler_sync_duration_seconds",
                                                "ReconcileConntrackFlowsLatency latency in seconds", {"ip_family"},
                                                sync_duration_buckets()),
                      family_rows(families))),
      conntrack_reconciler_deleted_entries_total(with_series(
          registry.counter_family("kubeproxy_conntrack_reconciler_deleted_entries_total",
                                  "Cumulative conntrack flows deleted by conntrack reconciler", {"ip_family"}),
          family_rows(families))),
      iptables_rules_total(
          mode != ProxyMode::Iptables
              ? nullptr
              : &with_series(
                    registry.gauge_family("kubeproxy_sync_proxy_rules_iptables_total",
                                          "Total number of iptables rules owned by kube-proxy", {"table", "ip_family"}),
                    family_rows(families, {kTables[0], kTables[1]}))),
      iptables_rules_last(
          mode != ProxyMode::Iptables
              ? nullptr
              : &with_series(registry.gauge_family("kubeproxy_sync_proxy_rules_iptables_last",
                                                   "Number of iptables rules written by kube-proxy in last sync",
                                                   {"table", "ip_family"}),
                             family_rows(families, {kTables[0], kTables[1]}))),
      iptables_restore_failures_total(
          mode != ProxyMode::Iptables
              ? nullptr
              : &with_series(registry.counter_family("kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
                                                     "Cumulative proxy iptables restore failures", {"ip_family"}),
                             family_rows(families))),
      iptables_partial_restore_failures_total(
          mode != ProxyMode::Iptables
              ? nullptr
              : &with_series(
                    registry.counter_family("kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
                                            "Cumulative proxy iptables partial restore failures", {"ip_family"}),
                    family_rows(families))),
      nftables_sync_failures_total(
          mode != ProxyMode::Nftables
              ? nullptr
              : &with_series(registry.counter_family("kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
                                                     "Cumulative proxy nftables sync failures", {"ip_family"}),
                             family_rows(families))),
      nftables_cleanup_failures_total(
          mode != ProxyMode::Nftables
              ? nullptr
              : &with_series(registry.counter_family("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total",
                                                     "Cumulative proxy nftables cleanup failures", {"ip_family"}),
                             family_rows(families))),
      endpoint_changes_pending(registry.gauge("kubeproxy_sync_proxy_rules_endpoint_changes_pending",
                                              "Pending proxy rules Endpoint changes")),
      endpoint_changes_total(registry.counter("kubeproxy_sync_proxy_rules_endpoint_changes_total",
                                              "Cumulative proxy rules Endpoint changes")),
      service_changes_pending(
          registry.gauge("kubeproxy_sync_proxy_rules_service_changes_pending", "Pending proxy rules Service changes")),
      service_changes_total(registry.counter("kubeproxy_sync_proxy_rules_service_changes_total",
                                             "Cumulative proxy rules Service changes")),
      proxy_healthz_total(
          registry.counter_family("kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status", {"code"})),
      proxy_livez_total(
          registry.counter_family("kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status", {"code"})),
      sync_bytes_applied(registry.histogram(
          "kubenat_sync_bytes_applied",
          "Bytes of rules written to the kernel per successful sync (iptables-restore input or nftables netlink "
          "messages)",
          exponential_buckets(256, 4, 10))),
      syncs_total(
          with_series(registry.counter_family("kubenat_syncs_total", "Rule syncs by kind (full or partial) and result",
                                              {"kind", "result"}),
                      {{"full", "success"}, {"full", "failure"}, {"partial", "success"}, {"partial", "failure"}})),
      network_programming_arrival_duration(
          registry.histogram("kubenat_network_programming_arrival_duration_seconds",
                             "From a change's arrival at kubenat to the end of the sync that applied it, in seconds",
                             network_programming_buckets())),
      watch_reconnects_total(per_resource(registry.counter_family(
          "kubenat_watch_reconnects_total", "Watch streams reopened after they ended or failed", {"resource"}))),
      watch_relists_total(per_resource(
          registry.counter_family("kubenat_watch_relists_total",
                                  "Full lists repeated after the first (410 Gone, watch errors)", {"resource"}))),
      watch_decode_errors_total(per_resource(
          registry.counter_family("kubenat_watch_decode_errors_total",
                                  "Watch events or objects skipped because they did not decode", {"resource"}))),
      service_health_check_ports(
          registry.gauge("kubenat_service_health_check_ports",
                         "Health-check node ports served for LoadBalancer Services with externalTrafficPolicy Local")),
      service_health_check_bind_failures_total(registry.counter(
          "kubenat_service_health_check_bind_failures_total",
          "Attempts to open a health-check node port that failed (the port is taken); retried at every sync")),
      routes(registry.gauge("kubenat_routes", "Static pod-CIDR routes to other nodes in the kernel (run --routes)")),
      route_skipped_nodes(registry.gauge(
          "kubenat_route_skipped_nodes",
          "Nodes whose pod CIDRs get no static route: InternalIP not on a directly connected subnet, none of the "
          "pod CIDR's family, or a CIDR overlapping another node's")),
      node_sysctls_failed(registry.gauge(
          "kubenat_node_sysctls_failed",
          "Kernel settings kube-proxy makes (conntrack table and timeouts, route_localnet) that kubenat could not "
          "make at start-up, e.g. under a read-only /proc/sys; the log names each")) {}

void ProxyMetrics::record_sync(IpFamily family, SyncKind kind, bool success, std::chrono::duration<double> took,
                               std::size_t bytes_applied, std::chrono::system_clock::time_point finished) {
  const std::string label(ip_family_label(family));
  const double seconds = took.count();
  const bool full = kind == SyncKind::Full;
  sync_proxy_rules_duration.with({label}).observe(seconds);
  (full ? sync_full_proxy_rules_duration : sync_partial_proxy_rules_duration).with({label}).observe(seconds);
  syncs_total.with({full ? "full" : "partial", success ? "success" : "failure"}).inc();
  if (success) {
    sync_proxy_rules_last_timestamp.with({label}).set_to_time(finished);
    sync_bytes_applied.observe(static_cast<double>(bytes_applied));
    return;
  }
  if (iptables_restore_failures_total != nullptr) iptables_restore_failures_total->with({label}).inc();
  if (!full && iptables_partial_restore_failures_total != nullptr) {
    iptables_partial_restore_failures_total->with({label}).inc();
  }
  if (nftables_sync_failures_total != nullptr) nftables_sync_failures_total->with({label}).inc();
}

}  // namespace kubenat
