// `kubenat bench --scenario soak`'s flags: the soak's defaults, its own
// flags, and the other scenario's flags refused rather than ignored.

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

TEST(BenchSoakFlags, TheDefaultScenarioComparesTheBackends) { EXPECT_EQ(parsed({}).scenario, BenchScenario::Compare); }

TEST(BenchSoakFlags, SoakDefaultsTo10000ServicesForThirtyMinutesAtTwentyChangesASecondOnNftables) {
  const BenchOptions options = parsed({"--scenario", "soak"});
  EXPECT_EQ(options.scenario, BenchScenario::Soak);
  EXPECT_EQ(options.soak.services, 10000);
  EXPECT_EQ(options.soak.duration, 30min);
  EXPECT_EQ(options.soak.changes_per_second, 20);
  EXPECT_EQ(options.soak.sample_interval, 10s);
  EXPECT_EQ(options.soak.warm_up, 3min);
  EXPECT_THAT(options.backends, ElementsAre(BenchBackend::Nftables));
}

TEST(BenchSoakFlags, TakesItsOwnFlags) {
  const BenchOptions options =
      parsed({"--scenario=soak", "--services", "1000", "--soak-duration", "1m", "--soak-rate", "2.5",
              "--soak-sample-interval", "5s", "--soak-warm-up", "20s", "--backends", "iptables,nftables"});
  EXPECT_EQ(options.soak.services, 1000);
  EXPECT_EQ(options.soak.duration, 1min);
  EXPECT_EQ(options.soak.changes_per_second, 2.5);
  EXPECT_EQ(options.soak.sample_interval, 5s);
  EXPECT_EQ(options.soak.warm_up, 20s);
  EXPECT_THAT(options.backends, ElementsAre(BenchBackend::Iptables, BenchBackend::Nftables));
}

TEST(BenchSoakFlags, AShortSoakWarmsUpForAQuarterOfItsDuration) {
  EXPECT_EQ(parsed({"--scenario", "soak", "--soak-duration", "2m"}).soak.warm_up, 30s);
}

TEST(BenchSoakFlags, AnUnknownScenarioIsNamed) {
  EXPECT_THAT(parse_error({"--scenario", "marathon"}),
              HasSubstr("--scenario: expects compare, soak or daemon, got \"marathon\""));
}

TEST(BenchSoakFlags, TheBaselineCannotSoak) {
  EXPECT_THAT(parse_error({"--scenario", "soak", "--backends", "kube-proxy"}),
              HasSubstr("--backends: expects iptables or nftables for the soak"));
}

TEST(BenchSoakFlags, RefusesTheComparisonsFlags) {
  EXPECT_THAT(parse_error({"--scenario", "soak", "--sizes", "1000"}),
              HasSubstr("--sizes: applies to --scenario compare or daemon only (the soak takes --services)"));
  EXPECT_THAT(parse_error({"--scenario", "soak", "--runs", "3"}), HasSubstr("--runs: applies to --scenario compare"));
  EXPECT_THAT(parse_error({"--scenario", "soak", "--no-dataplane"}), HasSubstr("--no-dataplane"));
}

TEST(BenchSoakFlags, TheComparisonRefusesTheSoaksFlags) {
  EXPECT_THAT(parse_error({"--services", "1000"}), HasSubstr("--services: applies to --scenario soak only"));
  EXPECT_THAT(parse_error({"--soak-rate", "5"}), HasSubstr("--soak-rate: applies to --scenario soak only"));
}

TEST(BenchSoakFlags, BadValuesAreNamed) {
  EXPECT_THAT(parse_error({"--scenario", "soak", "--soak-rate", "0"}),
              HasSubstr("--soak-rate: expects changes per second"));
  EXPECT_THAT(parse_error({"--scenario", "soak", "--soak-duration", "10"}),
              HasSubstr("--soak-duration: expects a positive duration"));
  EXPECT_THAT(parse_error({"--scenario", "soak", "--services", "1"}),
              HasSubstr("--services: expects an integer from 2"));
  EXPECT_THAT(parse_error({"--scenario", "soak", "--soak-duration", "1m", "--soak-warm-up", "1m"}),
              HasSubstr("--soak-warm-up: expects a duration from 0 to less than --soak-duration"));
}

TEST(BenchSoakFlags, TheHelpNamesTheSoaksFlags) {
  const std::string usage = bench_usage();
  for (const char* flag :
       {"--scenario", "--services", "--soak-duration", "--soak-rate", "--soak-sample-interval", "--soak-warm-up"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace kubenat
