// What the churn soak reads from kubenat run's /metrics.

#include "bench/daemon_metrics.h"

#include <gtest/gtest.h>

namespace kubenat::bench {
namespace {

// Abridged from a kubenat run in nftables mode after a few syncs.
constexpr std::string_view kMetrics =
    R"(# HELP kubeproxy_sync_proxy_rules_duration_seconds SyncProxyRules latency in seconds
# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram
kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family="IPv4",le="0.001"} 3
kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family="IPv4",le="+Inf"} 12
kubeproxy_sync_proxy_rules_duration_seconds_sum{ip_family="IPv4"} 1.25
kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv4"} 12
kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv6"} 2
kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"} 1764900000.5
kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family="IPv4"} 1764900000.25
kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family="IPv4"} 1
kubeproxy_sync_proxy_rules_endpoint_changes_pending 0
kubeproxy_sync_proxy_rules_endpoint_changes_total 40
kubeproxy_sync_proxy_rules_service_changes_pending 0
kubeproxy_sync_proxy_rules_service_changes_total 7
kubenat_syncs_total{kind="full",result="success"} 2
kubenat_syncs_total{kind="partial",result="success"} 11
kubenat_syncs_total{kind="partial",result="failure"} 1
kubeproxy_sync_partial_proxy_rules_duration_seconds_sum{ip_family="IPv4"} 0.5
kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family="IPv4"} 10
kubeproxy_network_programming_duration_seconds_bucket{ip_family="IPv4",le="0.25"} 10
kubeproxy_network_programming_duration_seconds_bucket{ip_family="IPv4",le="0.5"} 90
kubeproxy_network_programming_duration_seconds_bucket{ip_family="IPv4",le="1"} 99
kubeproxy_network_programming_duration_seconds_bucket{ip_family="IPv4",le="2"} 100
kubeproxy_network_programming_duration_seconds_bucket{ip_family="IPv4",le="+Inf"} 100
kubeproxy_network_programming_duration_seconds_sum{ip_family="IPv4"} 45
kubeproxy_network_programming_duration_seconds_count{ip_family="IPv4"} 100
kubenat_watch_relists_total{resource="services"} 1
kubenat_watch_relists_total{resource="endpointslices"} 2
kubenat_watch_reconnects_total{resource="nodes"} 3
)";

TEST(DaemonMetrics, SumsASeriesOverItsLabels) {
  EXPECT_EQ(sum_of_series(kMetrics, "kubeproxy_sync_proxy_rules_duration_seconds_count"), 14);
}

TEST(DaemonMetrics, SumsOnlyTheSeriesWithTheLabelsAsked) {
  EXPECT_EQ(sum_of_series(kMetrics, "kubenat_syncs_total", {{"kind", "partial"}}), 12);
  EXPECT_EQ(sum_of_series(kMetrics, "kubenat_syncs_total", {{"kind", "partial"}, {"result", "failure"}}), 1);
}

TEST(DaemonMetrics, TakesNoSeriesWhoseNameOnlyStartsLikeTheOneAsked) {
  // _count, _sum and _bucket are other names than the histogram's own.
  EXPECT_EQ(sum_of_series(kMetrics, "kubeproxy_sync_proxy_rules_duration_seconds"), 0);
}

TEST(DaemonMetrics, AnAbsentSeriesIsZero) { EXPECT_EQ(sum_of_series(kMetrics, "no_such_metric_total"), 0); }

TEST(DaemonMetrics, ReadsTheSoaksCounters) {
  const DaemonCounters c = read_daemon_counters(kMetrics);
  EXPECT_EQ(c.syncs, 14u);
  EXPECT_EQ(c.full_syncs, 2u);
  EXPECT_EQ(c.partial_syncs, 12u);
  EXPECT_EQ(c.failed_syncs, 1u);
  EXPECT_EQ(c.backend_failures, 1u);
  EXPECT_EQ(c.endpoint_changes, 40u);
  EXPECT_EQ(c.service_changes, 7u);
  EXPECT_DOUBLE_EQ(c.last_sync, 1764900000.5);
  EXPECT_DOUBLE_EQ(c.last_queued, 1764900000.25);
  EXPECT_DOUBLE_EQ(c.partial_sync_seconds_sum, 0.5);
  EXPECT_EQ(c.partial_sync_count, 10u);
  EXPECT_DOUBLE_EQ(c.programming_seconds_sum, 45);
  EXPECT_EQ(c.programming_count, 100u);
  EXPECT_DOUBLE_EQ(c.programming_p99_at_most, 1);
  EXPECT_EQ(c.watch_relists, 3u);
  EXPECT_EQ(c.watch_reconnects, 3u);
  EXPECT_EQ(c.watch_decode_errors, 0u);
}

TEST(DaemonMetrics, AQuantileIsAtMostTheBoundOfTheFirstBucketHoldingIt) {
  EXPECT_DOUBLE_EQ(histogram_quantile_at_most(kMetrics, "kubeproxy_network_programming_duration_seconds", 0.5), 0.5);
  EXPECT_DOUBLE_EQ(histogram_quantile_at_most(kMetrics, "kubeproxy_network_programming_duration_seconds", 1.0), 2);
  EXPECT_DOUBLE_EQ(histogram_quantile_at_most(kMetrics, "no_such_histogram", 0.99), 0);
}

TEST(DaemonMetrics, SettledOnceASyncEndedAfterTheLastQueuedChangeWithNothingPending) {
  DaemonCounters c = read_daemon_counters(kMetrics);
  EXPECT_TRUE(c.settled());
  c.endpoints_pending = 1;
  EXPECT_FALSE(c.settled());
  c.endpoints_pending = 0;
  c.last_queued = c.last_sync + 0.1;
  EXPECT_FALSE(c.settled());
}

TEST(DaemonMetrics, NotSettledBeforeTheFirstSuccessfulSync) { EXPECT_FALSE(DaemonCounters{}.settled()); }

}  // namespace
}  // namespace kubenat::bench
