// `kubenat bench`'s flags: defaults, lists, and one-line errors that name
// the flag and the value refused.

#include "tools/kubenat/bench_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kubenat {
namespace {

using bench::BenchBackend;
using bench::BenchOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

BenchOptions parsed(std::vector<std::string> args) {
  auto options = parse_bench_flags(args);
  EXPECT_TRUE(options.has_value()) << options.error();
  return options.value_or(BenchOptions{});
}

std::string parse_error(std::vector<std::string> args) {
  auto options = parse_bench_flags(args);
  EXPECT_FALSE(options.has_value());
  return options ? std::string() : options.error();
}

TEST(BenchFlags, DefaultsMeasureThreeSizesOnEveryBackend) {
  const BenchOptions options = parsed({});
  EXPECT_THAT(options.sizes, ElementsAre(1000, 10000, 50000));
  EXPECT_THAT(options.backends, ElementsAre(BenchBackend::Iptables, BenchBackend::Nftables, BenchBackend::KubeProxy,
                                            BenchBackend::KubeProxyNftables, BenchBackend::Floor,
                                            BenchBackend::NatFloor));
  EXPECT_EQ(options.runs, 5);
  EXPECT_EQ(options.connections, 1000);
  EXPECT_EQ(options.endpoints, 10);
  EXPECT_EQ(options.out_dir, "bench-results");
  EXPECT_EQ(options.baseline_full_sync_timeout, 60s);
  EXPECT_EQ(options.seed, 1u);
  EXPECT_TRUE(options.dataplane);
  EXPECT_TRUE(options.plots);
  EXPECT_FALSE(options.help);
}

TEST(BenchFlags, DefaultSharesMatchTheDocumentedMix) {
  const BenchOptions options = parsed({});
  EXPECT_EQ(options.node_port_share, 0.1);
  EXPECT_EQ(options.load_balancer_share, 0.05);
  EXPECT_EQ(options.affinity_share, 0.05);
  EXPECT_EQ(options.local_share, 0.05);
}

TEST(BenchFlags, SizesAreSortedAndDeduplicated) {
  EXPECT_THAT(parsed({"--sizes", "5000,100,5000,20"}).sizes, ElementsAre(20, 100, 5000));
}

TEST(BenchFlags, SizesMayBeRepeated) {
  EXPECT_THAT(parsed({"--sizes=300", "--sizes", "200,300"}).sizes, ElementsAre(200, 300));
}

TEST(BenchFlags, BackendsTakeAList) {
  EXPECT_THAT(parsed({"--backends", "iptables,nftables"}).backends,
              ElementsAre(BenchBackend::Iptables, BenchBackend::Nftables));
}

TEST(BenchFlags, BackendsTakeTheNftablesBaselineAndTheFloor) {
  EXPECT_THAT(parsed({"--backends", "nftables,kube-proxy-nftables,floor"}).backends,
              ElementsAre(BenchBackend::Nftables, BenchBackend::KubeProxyNftables, BenchBackend::Floor));
}

TEST(BenchFlags, BackendsKeepTheirOrderWithoutDuplicates) {
  EXPECT_THAT(parsed({"--backends=kube-proxy,iptables,kube-proxy"}).backends,
              ElementsAre(BenchBackend::KubeProxy, BenchBackend::Iptables));
}

TEST(BenchFlags, UnknownBackendNamesTheFlagAndTheValue) {
  const std::string error = parse_error({"--backends", "iptables,ipvs"});
  EXPECT_THAT(error, HasSubstr("--backends"));
  EXPECT_THAT(error, HasSubstr("\"ipvs\""));
  EXPECT_THAT(error, Not(HasSubstr("\n")));
}

TEST(BenchFlags, SizeBelowTwoIsRefused) {
  const std::string error = parse_error({"--sizes", "1000,1"});
  EXPECT_THAT(error, HasSubstr("--sizes"));
  EXPECT_THAT(error, HasSubstr("\"1\""));
}

TEST(BenchFlags, SizeAboveTheAddressSpaceIsRefused) {
  const std::string error = parse_error({"--sizes", "200001"});
  EXPECT_THAT(error, HasSubstr("--sizes"));
  EXPECT_THAT(error, HasSubstr("\"200001\""));
}

TEST(BenchFlags, LargestSizeIsAccepted) { EXPECT_THAT(parsed({"--sizes", "200000"}).sizes, ElementsAre(200000)); }

TEST(BenchFlags, NonNumericSizeIsRefused) { EXPECT_THAT(parse_error({"--sizes", "10k"}), HasSubstr("\"10k\"")); }

TEST(BenchFlags, RunsConnectionsAndEndpointsAreRead) {
  const BenchOptions options = parsed({"--runs", "3", "--connections=250", "--endpoints", "20"});
  EXPECT_EQ(options.runs, 3);
  EXPECT_EQ(options.connections, 250);
  EXPECT_EQ(options.endpoints, 20);
}

TEST(BenchFlags, ZeroRunsAreRefused) { EXPECT_THAT(parse_error({"--runs", "0"}), HasSubstr("--runs")); }

TEST(BenchFlags, EndpointsBeyondWhatTheAddressesHoldAreRefused) {
  EXPECT_THAT(parse_error({"--endpoints", "61"}), HasSubstr("--endpoints"));
}

TEST(BenchFlags, SharesAreRead) {
  const BenchOptions options =
      parsed({"--node-port-share", "0.5", "--load-balancer-share", "0.25", "--affinity-share=1", "--local-share", "0"});
  EXPECT_EQ(options.node_port_share, 0.5);
  EXPECT_EQ(options.load_balancer_share, 0.25);
  EXPECT_EQ(options.affinity_share, 1.0);
  EXPECT_EQ(options.local_share, 0.0);
}

TEST(BenchFlags, ShareAboveOneIsRefused) {
  const std::string error = parse_error({"--affinity-share", "1.5"});
  EXPECT_THAT(error, HasSubstr("--affinity-share"));
  EXPECT_THAT(error, HasSubstr("\"1.5\""));
}

TEST(BenchFlags, NegativeShareIsRefused) {
  EXPECT_THAT(parse_error({"--local-share", "-0.1"}), HasSubstr("--local-share"));
}

TEST(BenchFlags, NonNumericShareIsRefused) {
  EXPECT_THAT(parse_error({"--node-port-share", "half"}), HasSubstr("\"half\""));
}

TEST(BenchFlags, NodePortAndLoadBalancerSharesAddingUpToMoreThanOneAreRefused) {
  const std::string error = parse_error({"--node-port-share", "0.6", "--load-balancer-share", "0.5"});
  EXPECT_THAT(error, HasSubstr("--node-port-share"));
  EXPECT_THAT(error, HasSubstr("--load-balancer-share"));
}

TEST(BenchFlags, NodePortAndLoadBalancerSharesAddingUpToOneAreAccepted) {
  const BenchOptions options = parsed({"--node-port-share", "0.5", "--load-balancer-share", "0.5"});
  EXPECT_EQ(options.node_port_share + options.load_balancer_share, 1.0);
}

TEST(BenchFlags, SeedIsRead) { EXPECT_EQ(parsed({"--seed", "18446744073709551615"}).seed, 18446744073709551615u); }

TEST(BenchFlags, BadSeedIsRefused) {
  for (const char* seed : {"abc", "-1", "12x", "", "18446744073709551616"}) {
    const std::string error = parse_error({"--seed", seed});
    EXPECT_THAT(error, HasSubstr("--seed")) << seed;
    EXPECT_THAT(error, HasSubstr("\"" + std::string(seed) + "\"")) << seed;
  }
}

TEST(BenchFlags, OutDirectoryIsRead) { EXPECT_EQ(parsed({"--out", "/tmp/results"}).out_dir, "/tmp/results"); }

TEST(BenchFlags, EmptyOutDirectoryIsRefused) { EXPECT_THAT(parse_error({"--out="}), HasSubstr("--out")); }

TEST(BenchFlags, BaselineTimeoutTakesAGoDuration) {
  EXPECT_EQ(parsed({"--baseline-full-sync-timeout", "2m"}).baseline_full_sync_timeout, 120000ms);
  EXPECT_EQ(parsed({"--baseline-full-sync-timeout=1m30s"}).baseline_full_sync_timeout, 90000ms);
}

TEST(BenchFlags, ZeroBaselineTimeoutIsRefused) {
  const std::string error = parse_error({"--baseline-full-sync-timeout", "0s"});
  EXPECT_THAT(error, HasSubstr("--baseline-full-sync-timeout"));
  EXPECT_THAT(error, HasSubstr("\"0s\""));
}

TEST(BenchFlags, UnparsableBaselineTimeoutIsRefused) {
  const std::string error = parse_error({"--baseline-full-sync-timeout", "abc"});
  EXPECT_THAT(error, HasSubstr("--baseline-full-sync-timeout"));
  EXPECT_THAT(error, HasSubstr("\"abc\""));
}

TEST(BenchFlags, BaselineTimeoutBelowAMillisecondIsRefused) {
  EXPECT_THAT(parse_error({"--baseline-full-sync-timeout", "500us"}), HasSubstr("--baseline-full-sync-timeout"));
}

TEST(BenchFlags, NoDataplaneAndNoPlotsTurnThemOff) {
  const BenchOptions options = parsed({"--no-dataplane", "--no-plots"});
  EXPECT_FALSE(options.dataplane);
  EXPECT_FALSE(options.plots);
}

TEST(BenchFlags, NoDataplaneAloneKeepsThePlots) {
  const BenchOptions options = parsed({"--no-dataplane"});
  EXPECT_FALSE(options.dataplane);
  EXPECT_TRUE(options.plots);
}

TEST(BenchFlags, HelpIsReported) { EXPECT_TRUE(parsed({"--help"}).help); }

TEST(BenchFlags, PositionalArgumentIsRefused) {
  const std::string error = parse_error({"--runs", "2", "extra"});
  EXPECT_THAT(error, HasSubstr("unexpected argument"));
  EXPECT_THAT(error, HasSubstr("\"extra\""));
}

TEST(BenchFlags, UnknownFlagIsRefused) { EXPECT_THAT(parse_error({"--size", "10"}), HasSubstr("size")); }

TEST(BenchFlags, UsageListsTheFlags) {
  const std::string usage = bench_usage();
  for (const char* flag : {"--sizes", "--backends", "--runs", "--connections", "--out", "--seed", "--no-dataplane",
                           "--no-plots", "--baseline-full-sync-timeout"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace kubenat
