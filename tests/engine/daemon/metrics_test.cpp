// The Prometheus registry's text exposition, and kubenat's metric set under
// kube-proxy's names.

#include "engine/daemon/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

TEST(MetricsRegistry, RendersACounterWithHelpAndType) {
  MetricsRegistry registry;
  registry.counter("requests_total", "Requests served").inc(3);
  EXPECT_EQ(registry.render(),
            "# HELP requests_total Requests served\n"
            "# TYPE requests_total counter\n"
            "requests_total 3\n");
}

TEST(MetricsRegistry, RendersUnlabelledMetricsAtZeroFromRegistration) {
  MetricsRegistry registry;
  registry.gauge("queue_length", "Items queued");
  EXPECT_THAT(registry.render(), HasSubstr("\nqueue_length 0\n"));
}

TEST(MetricsRegistry, CounterIgnoresNegativeAndNanIncrements) {
  MetricsRegistry registry;
  Counter& counter = registry.counter("c_total", "c");
  counter.inc(2);
  counter.inc(-1);
  counter.inc(std::nan(""));
  EXPECT_EQ(counter.value(), 2);
}

TEST(MetricsRegistry, GaugeGoesUpAndDown) {
  MetricsRegistry registry;
  Gauge& gauge = registry.gauge("g", "g");
  gauge.set(10);
  gauge.inc(2.5);
  gauge.dec();
  EXPECT_THAT(registry.render(), HasSubstr("\ng 11.5\n"));
}

TEST(MetricsRegistry, GaugeSetToTimeIsSecondsSinceTheEpoch) {
  MetricsRegistry registry;
  Gauge& gauge = registry.gauge("last_timestamp_seconds", "t");
  gauge.set_to_time(std::chrono::system_clock::time_point(1'700'000'000'250ms));
  EXPECT_THAT(registry.render(), HasSubstr("\nlast_timestamp_seconds 1700000000.25\n"));
}

TEST(MetricsRegistry, RendersHistogramBucketsCumulativeWithSumAndCount) {
  MetricsRegistry registry;
  Histogram& histogram = registry.histogram("latency_seconds", "Latency", {0.1, 1, 10});
  histogram.observe(0.0625);
  histogram.observe(0.5);
  histogram.observe(0.5);
  histogram.observe(100);
  EXPECT_EQ(registry.render(),
            "# HELP latency_seconds Latency\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 1\n"
            "latency_seconds_bucket{le=\"1\"} 3\n"
            "latency_seconds_bucket{le=\"10\"} 3\n"
            "latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "latency_seconds_sum 101.0625\n"
            "latency_seconds_count 4\n");
}

TEST(MetricsRegistry, HistogramCountsAValueOnABoundInThatBucket) {
  Histogram histogram({1, 2});
  histogram.observe(1);
  EXPECT_THAT(histogram.snapshot().cumulative_counts, ElementsAre(1, 1, 1));
}

TEST(MetricsRegistry, HistogramDropsATrailingInfBound) {
  Histogram histogram({1, HUGE_VAL});
  EXPECT_THAT(histogram.upper_bounds(), ElementsAre(1));
}

TEST(MetricsRegistry, HistogramPutsLabelsBeforeLe) {
  MetricsRegistry registry;
  registry.histogram_family("h", "h", {"kind"}, {1}).with({"full"}).observe(0.5);
  EXPECT_THAT(registry.render(), HasSubstr("\nh_bucket{kind=\"full\",le=\"1\"} 1\n"
                                           "h_bucket{kind=\"full\",le=\"+Inf\"} 1\n"
                                           "h_sum{kind=\"full\"} 0.5\n"
                                           "h_count{kind=\"full\"} 1\n"));
}

TEST(MetricsRegistry, RendersLabelledSeriesSortedByLabelValues) {
  MetricsRegistry registry;
  CounterFamily& family = registry.counter_family("syncs_total", "Syncs", {"kind", "result"});
  family.with({"partial", "success"}).inc();
  family.with({"full", "success"}).inc(2);
  family.with({"full", "failure"}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP syncs_total Syncs\n"
            "# TYPE syncs_total counter\n"
            "syncs_total{kind=\"full\",result=\"failure\"} 1\n"
            "syncs_total{kind=\"full\",result=\"success\"} 2\n"
            "syncs_total{kind=\"partial\",result=\"success\"} 1\n");
}

TEST(MetricsRegistry, ReturnsTheSameSeriesForTheSameLabelValues) {
  MetricsRegistry registry;
  GaugeFamily& family = registry.gauge_family("rules", "r", {"table"});
  EXPECT_EQ(&family.with({"nat"}), &family.with({"nat"}));
}

TEST(MetricsRegistry, LeavesOutALabelledFamilyWithoutSeries) {
  MetricsRegistry registry;
  registry.counter_family("errors_total", "Errors", {"resource"});
  EXPECT_EQ(registry.render(), "");
}

TEST(MetricsRegistry, EscapesLabelValues) {
  MetricsRegistry registry;
  registry.counter_family("c_total", "c", {"path"}).with({"a\\b\"c\nd"}).inc();
  EXPECT_THAT(registry.render(), HasSubstr("c_total{path=\"a\\\\b\\\"c\\nd\"} 1\n"));
}

TEST(MetricsRegistry, EscapesHelpText) {
  MetricsRegistry registry;
  registry.counter("c_total", "a \\ b\nc \"d\"");
  EXPECT_THAT(registry.render(), HasSubstr("# HELP c_total a \\\\ b\\nc \"d\"\n"));
}

TEST(MetricsRegistry, RendersFamiliesSortedByName) {
  MetricsRegistry registry;
  registry.gauge("b", "b");
  registry.gauge("a", "a");
  registry.gauge("c", "c");
  EXPECT_EQ(registry.render(),
            "# HELP a a\n# TYPE a gauge\na 0\n"
            "# HELP b b\n# TYPE b gauge\nb 0\n"
            "# HELP c c\n# TYPE c gauge\nc 0\n");
}

TEST(MetricsRegistry, RejectsRegisteringANameTwice) {
  MetricsRegistry registry;
  registry.counter("x_total", "x");
  EXPECT_THROW(registry.gauge("x_total", "x"), std::invalid_argument);
}

TEST(MetricsRegistry, RejectsInvalidNames) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.counter("1abc", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("a-b", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter_family("ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram_family("h", "x", {"le"}, {1}), std::invalid_argument);
}

TEST(MetricsRegistry, RejectsTheWrongNumberOfLabelValues) {
  MetricsRegistry registry;
  CounterFamily& family = registry.counter_family("c_total", "c", {"a", "b"});
  EXPECT_THROW(family.with({"only-one"}), std::invalid_argument);
}

TEST(MetricsRegistry, RejectsBucketsThatDoNotIncrease) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.histogram("h", "h", {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h2", "h", {2, 1}), std::invalid_argument);
}

TEST(MetricsRegistry, LosesNoIncrementsUnderConcurrency) {
  MetricsRegistry registry;
  Counter& counter = registry.counter("c_total", "c");
  Histogram& histogram = registry.histogram("h", "h", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        counter.inc();
        histogram.observe(0.5);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 40'000);
  EXPECT_EQ(histogram.snapshot().count, 40'000u);
}

TEST(MetricsRegistry, RendersTheSameValuesToTheSameBytes) {
  const auto build = [] {
    MetricsRegistry registry;
    ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
    metrics.iptables_rules_total->with({"nat", "IPv4"}).set(42);
    metrics.record_sync(IpFamily::V4, SyncKind::Partial, true, 12ms, 4096,
                        std::chrono::system_clock::time_point(1'000s));
    return registry.render();
  };
  EXPECT_EQ(build(), build());
}

TEST(BucketHelpers, ExponentialBucketsMultiplyFromTheStart) {
  EXPECT_THAT(exponential_buckets(0.001, 2, 4), ElementsAre(0.001, 0.002, 0.004, 0.008));
}

TEST(BucketHelpers, LinearBucketsAddTheWidth) { EXPECT_THAT(linear_buckets(60, 5, 3), ElementsAre(60, 65, 70)); }

// --- ProxyMetrics ------------------------------------------------------

std::string render_proxy_metrics(ProxyMode mode = ProxyMode::Iptables,
                                 std::vector<IpFamily> families = {IpFamily::V4}) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, mode, families);
  return registry.render();
}

TEST(ProxyMetrics, ExposesKubeProxysSyncMetricsByIpFamily) {
  const std::string text = render_proxy_metrics(ProxyMode::Iptables, {IpFamily::V4, IpFamily::V6});
  for (const char* line : {
           "# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram",
           "kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv6\"} 0",
           "kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family=\"IPv6\"} 0",
           "kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family=\"IPv6\"} 0",
           "kubeproxy_network_programming_duration_seconds_count{ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"external\",ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\",ip_family=\"IPv6\"} 0",
           "# TYPE kubeproxy_conntrack_reconciler_sync_duration_seconds histogram",
           "kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family=\"IPv4\"} 0",
           "# TYPE kubeproxy_sync_proxy_rules_endpoint_changes_pending gauge",
           "# TYPE kubeproxy_sync_proxy_rules_endpoint_changes_total counter",
           "# TYPE kubeproxy_sync_proxy_rules_service_changes_pending gauge",
           "# TYPE kubeproxy_sync_proxy_rules_service_changes_total counter",
       }) {
    EXPECT_THAT(text, HasSubstr(std::string(line) + "\n")) << line;
  }
}

TEST(ProxyMetrics, IptablesModeHasTheIptablesMetricsAlone) {
  const std::string text = render_proxy_metrics(ProxyMode::Iptables);
  for (const char* line : {
           "kubeproxy_sync_proxy_rules_iptables_total{table=\"filter\",ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_iptables_total{table=\"nat\",ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_iptables_last{table=\"nat\",ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family=\"IPv4\"} 0",
           "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total{ip_family=\"IPv4\"} 0",
       }) {
    EXPECT_THAT(text, HasSubstr(std::string(line) + "\n")) << line;
  }
  EXPECT_THAT(text, Not(HasSubstr("kubeproxy_sync_proxy_rules_nftables")));
}

TEST(ProxyMetrics, NftablesModeHasTheNftablesMetricsAlone) {
  const std::string text = render_proxy_metrics(ProxyMode::Nftables);
  EXPECT_THAT(text, HasSubstr("# HELP kubeproxy_sync_proxy_rules_nftables_sync_failures_total Cumulative proxy "
                              "nftables sync failures\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv4\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total{ip_family=\"IPv4\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("kubeproxy_sync_proxy_rules_iptables")));
}

TEST(ProxyMetrics, ExposesKubenatsOwnMetrics) {
  const std::string text = render_proxy_metrics();
  for (const char* line : {
           "# TYPE kubenat_sync_bytes_applied histogram",
           "kubenat_syncs_total{kind=\"partial\",result=\"failure\"} 0",
           "# TYPE kubenat_network_programming_arrival_duration_seconds histogram",
           "kubenat_watch_reconnects_total{resource=\"services\"} 0",
           "kubenat_watch_relists_total{resource=\"endpointslices\"} 0",
           "kubenat_watch_decode_errors_total{resource=\"nodes\"} 0",
           "kubenat_service_health_check_ports 0",
           "kubenat_service_health_check_bind_failures_total 0",
           "# TYPE kubenat_routes gauge",
           "kubenat_routes 0",
           "# TYPE kubenat_route_skipped_nodes gauge",
           "kubenat_route_skipped_nodes 0",
           "# TYPE kubenat_node_sysctls_failed gauge",
           "kubenat_node_sysctls_failed 0",
       }) {
    EXPECT_THAT(text, HasSubstr(std::string(line) + "\n")) << line;
  }
}

TEST(ProxyMetrics, SyncDurationBucketsAreKubeProxys) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  const std::vector<double> expected = exponential_buckets(0.001, 2, 15);
  EXPECT_EQ(metrics.sync_proxy_rules_duration.with({"IPv4"}).upper_bounds(), expected);
  EXPECT_EQ(metrics.sync_full_proxy_rules_duration.with({"IPv4"}).upper_bounds(), expected);
  EXPECT_EQ(metrics.sync_partial_proxy_rules_duration.with({"IPv4"}).upper_bounds(), expected);
  EXPECT_EQ(metrics.conntrack_reconciler_sync_duration.with({"IPv4"}).upper_bounds(), expected);
  EXPECT_THAT(registry.render(),
              HasSubstr("kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"16.384\"} 0\n"
                        "kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"+Inf\"} 0\n"));
}

TEST(ProxyMetrics, NetworkProgrammingBucketsAreKubeProxys) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  const std::vector<double>& bounds = metrics.network_programming_duration.with({"IPv4"}).upper_bounds();
  // MergeBuckets' leading 0, then 0.25 0.5, 1..59, 60..115 by 5, 120..300 by 30.
  ASSERT_EQ(bounds.size(), 1u + 2 + 59 + 12 + 7);
  EXPECT_THAT(std::vector<double>(bounds.begin(), bounds.begin() + 5), ElementsAre(0, 0.25, 0.5, 1, 2));
  EXPECT_EQ(bounds[61], 59);
  EXPECT_EQ(bounds[62], 60);
  EXPECT_EQ(bounds[73], 115);
  EXPECT_EQ(bounds[74], 120);
  EXPECT_EQ(bounds.back(), 300);
}

TEST(ProxyMetrics, RecordsASuccessfulSync) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  metrics.record_sync(IpFamily::V4, SyncKind::Full, true, 3ms, 5000,
                      std::chrono::system_clock::time_point(1'700'000'000s));
  EXPECT_EQ(metrics.sync_proxy_rules_duration.with({"IPv4"}).snapshot().count, 1u);
  EXPECT_EQ(metrics.sync_full_proxy_rules_duration.with({"IPv4"}).snapshot().count, 1u);
  EXPECT_EQ(metrics.sync_partial_proxy_rules_duration.with({"IPv4"}).snapshot().count, 0u);
  EXPECT_EQ(metrics.sync_proxy_rules_last_timestamp.with({"IPv4"}).value(), 1'700'000'000);
  EXPECT_EQ(metrics.sync_bytes_applied.snapshot().sum, 5000);
  EXPECT_EQ(metrics.syncs_total.with({"full", "success"}).value(), 1);
  EXPECT_EQ(metrics.iptables_restore_failures_total->with({"IPv4"}).value(), 0);
}

TEST(ProxyMetrics, RecordsAFailedPartialIptablesSyncAsBothRestoreFailures) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  metrics.record_sync(IpFamily::V4, SyncKind::Partial, false, 3ms, 5000, std::chrono::system_clock::time_point(1s));
  EXPECT_EQ(metrics.sync_partial_proxy_rules_duration.with({"IPv4"}).snapshot().count, 1u);
  EXPECT_EQ(metrics.iptables_restore_failures_total->with({"IPv4"}).value(), 1);
  EXPECT_EQ(metrics.iptables_partial_restore_failures_total->with({"IPv4"}).value(), 1);
  EXPECT_EQ(metrics.syncs_total.with({"partial", "failure"}).value(), 1);
  EXPECT_EQ(metrics.sync_proxy_rules_last_timestamp.with({"IPv4"}).value(), 0);
  EXPECT_EQ(metrics.sync_bytes_applied.snapshot().count, 0u);
}

TEST(ProxyMetrics, RecordsAFailedFullIptablesSyncAsARestoreFailureOnly) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Iptables, {IpFamily::V4});
  metrics.record_sync(IpFamily::V4, SyncKind::Full, false, 3ms, 0, std::chrono::system_clock::time_point(1s));
  EXPECT_EQ(metrics.iptables_restore_failures_total->with({"IPv4"}).value(), 1);
  EXPECT_EQ(metrics.iptables_partial_restore_failures_total->with({"IPv4"}).value(), 0);
}

TEST(ProxyMetrics, RecordsAFailedNftablesSyncAsASyncFailureOfItsFamily) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, ProxyMode::Nftables, {IpFamily::V4, IpFamily::V6});
  metrics.record_sync(IpFamily::V6, SyncKind::Partial, false, 3ms, 0, std::chrono::system_clock::time_point(1s));
  EXPECT_EQ(metrics.nftables_sync_failures_total->with({"IPv6"}).value(), 1);
  EXPECT_EQ(metrics.nftables_sync_failures_total->with({"IPv4"}).value(), 0);
  EXPECT_EQ(metrics.iptables_restore_failures_total, nullptr);
}

}  // namespace
}  // namespace kubenat
