#include "bench/daemon_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>
#include <vector>

namespace kubenat::bench {
namespace {

struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

// `{a="x",b="y"}` into pairs; the escapes of the exposition format (\\, \",
// \n) are undone. nullopt for text that is not a label set.
std::optional<std::map<std::string, std::string>> parse_labels(std::string_view text) {
  std::map<std::string, std::string> labels;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t equals = text.find('=', i);
    if (equals == std::string_view::npos || equals + 1 >= text.size() || text[equals + 1] != '"') return std::nullopt;
    std::string name(text.substr(i, equals - i));
    std::string value;
    std::size_t j = equals + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) {
        ++j;
        value += text[j] == 'n' ? '\n' : text[j];
      } else {
        value += text[j];
      }
    }
    if (j >= text.size()) return std::nullopt;
    labels[std::move(name)] = std::move(value);
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  return labels;
}

// Calls `each` for every sample of `name` in the text.
void for_each_sample(std::string_view text, std::string_view name, const std::function<void(const Sample&)>& each) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.starts_with(name) || line.size() == name.size()) continue;
    const char after = line[name.size()];
    if (after != ' ' && after != '{') continue;
    Sample sample;
    std::size_t value_at = name.size() + 1;
    if (after == '{') {
      const std::size_t close = line.rfind('}');
      if (close == std::string_view::npos || close < name.size()) continue;
      auto labels = parse_labels(line.substr(name.size() + 1, close - name.size() - 1));
      if (!labels) continue;
      sample.labels = std::move(*labels);
      value_at = close + 2;
    }
    if (value_at >= line.size()) continue;
    const std::string value(line.substr(value_at, line.find(' ', value_at) - value_at));
    char* parsed_end = nullptr;
    sample.value = std::strtod(value.c_str(), &parsed_end);
    if (parsed_end == value.c_str() || std::isnan(sample.value)) continue;
    each(sample);
  }
}

std::uint64_t count(double value) { return value <= 0 ? 0 : static_cast<std::uint64_t>(std::llround(value)); }

}  // namespace

double sum_of_series(std::string_view metrics_text, std::string_view name,
                     const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for_each_sample(metrics_text, name, [&](const Sample& sample) {
    const bool matches = std::all_of(labels.begin(), labels.end(), [&](const auto& wanted) {
      auto it = sample.labels.find(wanted.first);
      return it != sample.labels.end() && it->second == wanted.second;
    });
    if (matches) sum += sample.value;
  });
  return sum;
}

double max_of_series(std::string_view metrics_text, std::string_view name) {
  double max = 0;
  for_each_sample(metrics_text, name, [&](const Sample& sample) { max = std::max(max, sample.value); });
  return max;
}

double histogram_quantile_at_most(std::string_view metrics_text, std::string_view name, double quantile) {
  std::map<double, double> cumulative;  // upper bound -> observations at or below it
  const std::string bucket = std::string(name) + "_bucket";
  for_each_sample(metrics_text, bucket, [&](const Sample& sample) {
    auto le = sample.labels.find("le");
    if (le == sample.labels.end()) return;
    const double bound = le->second == "+Inf" ? HUGE_VAL : std::strtod(le->second.c_str(), nullptr);
    cumulative[bound] += sample.value;
  });
  if (cumulative.empty() || cumulative.rbegin()->second <= 0) return 0;
  const double wanted = quantile * cumulative.rbegin()->second;
  for (const auto& [bound, observations] : cumulative) {
    if (observations >= wanted) return bound;
  }
  return HUGE_VAL;
}

bool DaemonCounters::settled() const {
  return services_pending == 0 && endpoints_pending == 0 && last_sync > 0 && last_sync >= last_queued;
}

DaemonCounters read_daemon_counters(std::string_view text) {
  DaemonCounters c;
  c.syncs = count(sum_of_series(text, "kubeproxy_sync_proxy_rules_duration_seconds_count"));
  c.full_syncs = count(sum_of_series(text, "kubenat_syncs_total", {{"kind", "full"}}));
  c.partial_syncs = count(sum_of_series(text, "kubenat_syncs_total", {{"kind", "partial"}}));
  c.failed_syncs = count(sum_of_series(text, "kubenat_syncs_total", {{"result", "failure"}}));
  // The partial restore failures are a part of the restore failures.
  c.backend_failures = count(sum_of_series(text, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total") +
                             sum_of_series(text, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total"));
  c.services_pending = count(sum_of_series(text, "kubeproxy_sync_proxy_rules_service_changes_pending"));
  c.endpoints_pending = count(sum_of_series(text, "kubeproxy_sync_proxy_rules_endpoint_changes_pending"));
  c.service_changes = count(sum_of_series(text, "kubeproxy_sync_proxy_rules_service_changes_total"));
  c.endpoint_changes = count(sum_of_series(text, "kubeproxy_sync_proxy_rules_endpoint_changes_total"));
  c.last_sync = max_of_series(text, "kubeproxy_sync_proxy_rules_last_timestamp_seconds");
  c.last_queued = max_of_series(text, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds");
  c.full_sync_seconds_sum = sum_of_series(text, "kubeproxy_sync_full_proxy_rules_duration_seconds_sum");
  c.partial_sync_seconds_sum = sum_of_series(text, "kubeproxy_sync_partial_proxy_rules_duration_seconds_sum");
  c.partial_sync_count = count(sum_of_series(text, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count"));
  c.programming_seconds_sum = sum_of_series(text, "kubeproxy_network_programming_duration_seconds_sum");
  c.programming_count = count(sum_of_series(text, "kubeproxy_network_programming_duration_seconds_count"));
  c.programming_p99_at_most = histogram_quantile_at_most(text, "kubeproxy_network_programming_duration_seconds", 0.99);
  c.watch_reconnects = count(sum_of_series(text, "kubenat_watch_reconnects_total"));
  c.watch_relists = count(sum_of_series(text, "kubenat_watch_relists_total"));
  c.watch_decode_errors = count(sum_of_series(text, "kubenat_watch_decode_errors_total"));
  return c;
}

}  // namespace kubenat::bench
