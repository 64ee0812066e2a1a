// `kubenat bench --scenario daemon`'s flags: its defaults, its own flags,
// --sizes shared with the comparison, and the other scenarios' flags
// refused rather than ignored.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/kubenat/bench_flags.h"

namespace kubenat {
namespace {

using bench::BenchBackend;
using bench::BenchOptions;
using bench::BenchScenario;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
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

TEST(BenchDaemonFlags, DaemonDefaultsToBothBackendsTwentyChangesASecondForAMinuteAndABurstOfAThousand) {
  const BenchOptions options = parsed({"--scenario", "daemon"});
  EXPECT_EQ(options.scenario, BenchScenario::Daemon);
  EXPECT_THAT(options.backends, ElementsAre(BenchBackend::Iptables, BenchBackend::Nftables));
  EXPECT_THAT(options.sizes, ElementsAre(1000, 10000, 50000));
  EXPECT_EQ(options.daemon.changes_per_second, 20);
  EXPECT_EQ(options.daemon.steady_duration, 60s);
  EXPECT_EQ(options.daemon.burst_services, 1000);
  EXPECT_EQ(options.daemon.burst_window, 1s);
}

TEST(BenchDaemonFlags, TakesItsOwnFlagsAndTheSizes) {
  const BenchOptions options =
      parsed({"--scenario=daemon", "--sizes", "100000,1000", "--backends", "nftables", "--daemon-rate", "50",
              "--daemon-duration", "30s", "--daemon-burst", "0", "--daemon-burst-window", "500ms"});
  EXPECT_THAT(options.sizes, ElementsAre(1000, 100000));
  EXPECT_THAT(options.backends, ElementsAre(BenchBackend::Nftables));
  EXPECT_EQ(options.daemon.changes_per_second, 50);
  EXPECT_EQ(options.daemon.steady_duration, 30s);
  EXPECT_EQ(options.daemon.burst_services, 0);
  EXPECT_EQ(options.daemon.burst_window, 500ms);
}

TEST(BenchDaemonFlags, TheBaselineIsNoDaemon) {
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--backends", "kube-proxy"}),
              HasSubstr("--backends: expects iptables or nftables for the daemon scenario"));
}

TEST(BenchDaemonFlags, BadValuesAreNamed) {
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--daemon-rate", "0"}), HasSubstr("--daemon-rate: expects"));
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--daemon-duration", "soon"}),
              HasSubstr("--daemon-duration: expects a positive duration"));
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--daemon-burst", "-1"}),
              HasSubstr("--daemon-burst: expects an integer from 0"));
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--daemon-burst-window", "0s"}),
              HasSubstr("--daemon-burst-window: expects a positive duration"));
}

TEST(BenchDaemonFlags, RefusesTheOtherScenariosFlags) {
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--runs", "3"}), HasSubstr("--runs: applies to --scenario compare"));
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--services", "1000"}),
              HasSubstr("--services: applies to --scenario soak only"));
  EXPECT_THAT(parse_error({"--scenario", "daemon", "--soak-rate", "5"}), HasSubstr("--soak-rate"));
}

TEST(BenchDaemonFlags, ItsFlagsApplyToItAlone) {
  EXPECT_THAT(parse_error({"--daemon-rate", "5"}), HasSubstr("--daemon-rate: applies to --scenario daemon only"));
  EXPECT_THAT(parse_error({"--scenario", "soak", "--daemon-burst", "10"}),
              HasSubstr("--daemon-burst: applies to --scenario daemon only"));
}

TEST(BenchDaemonFlags, UsageListsTheDaemonsFlags) {
  const std::string usage = bench_usage();
  for (const char* flag : {"--daemon-rate", "--daemon-duration", "--daemon-burst", "--daemon-burst-window"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace kubenat
