// The churn soak's summary and report.

#include "bench/soak_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kubenat::bench {
namespace {

using namespace std::chrono_literals;

SoakSample sample(double seconds, double rss_mib, std::uint64_t changes = 0) {
  SoakSample s;
  s.seconds = seconds;
  s.daemon.rss_mib = rss_mib;
  s.daemon.hwm_mib = rss_mib + 50;
  s.changes = changes;
  return s;
}

SoakResult soak_of(std::vector<SoakSample> samples) {
  SoakResult result;
  result.backend = BenchBackend::Nftables;
  result.services = 1000;
  result.endpoints = 10;
  result.samples = std::move(samples);
  result.churn_seconds = result.samples.empty() ? 0 : result.samples.back().seconds;
  return result;
}

TEST(SummarizeSoak, DriftIsFromTheFirstSampleAfterTheWarmUpToTheLast) {
  const SoakSummary s =
      summarize_soak(soak_of({sample(0, 50), sample(60, 100), sample(120, 101), sample(180, 102)}), 60s);
  ASSERT_TRUE(s.after_warm_up);
  EXPECT_EQ(s.after_warm_up->seconds, 60);
  ASSERT_TRUE(s.drift_percent);
  EXPECT_DOUBLE_EQ(*s.drift_percent, 2.0);
  EXPECT_DOUBLE_EQ(s.max_rss_after_warm_up_mib, 102);
}

TEST(SummarizeSoak, TheTrendIsTheLeastSquaresSlopePerHour) {
  // One MiB a minute after the warm-up: 60 MiB an hour.
  const SoakSummary s =
      summarize_soak(soak_of({sample(0, 10), sample(60, 100), sample(120, 101), sample(180, 102)}), 60s);
  ASSERT_TRUE(s.trend_mib_per_hour);
  EXPECT_NEAR(*s.trend_mib_per_hour, 60, 1e-9);
}

TEST(SummarizeSoak, NoDriftWhenTheRunEndedWithinTheWarmUp) {
  const SoakSummary s = summarize_soak(soak_of({sample(0, 50), sample(10, 60)}), 60s);
  EXPECT_FALSE(s.after_warm_up);
  EXPECT_FALSE(s.drift_percent);
  EXPECT_FALSE(s.trend_mib_per_hour);
  ASSERT_TRUE(s.last);
  EXPECT_EQ(s.last->daemon.rss_mib, 60);
}

TEST(SummarizeSoak, ChangesPerSecondAreThoseMadeOverTheTimeTheyTook) {
  SoakResult result = soak_of({sample(0, 1), sample(100, 1)});
  result.changes.by_kind[ChangeKind::EndpointAdded] = 1500;
  result.changes.by_kind[ChangeKind::ServiceCreated] = 500;
  EXPECT_DOUBLE_EQ(summarize_soak(result, 0s).changes_per_second, 20);
}

SoakReport report_of(SoakResult result) {
  SoakReport report;
  report.options.scenario = BenchScenario::Soak;
  report.options.soak.services = 1000;
  report.options.soak.duration = 3min;
  report.options.soak.warm_up = 60s;
  report.machine.date = "2026-12-05T00:00:00Z";
  report.soaks.push_back(std::move(result));
  return report;
}

TEST(RenderSoakTable, SaysWhetherTheFinalRulesEqualAFreshDaemons) {
  SoakResult result = soak_of({sample(0, 50), sample(60, 100), sample(180, 101)});
  result.final_state.compared = true;
  result.final_state.equal = true;
  result.final_state.lines = 1234;
  const std::string table = render_soak_table(report_of(result));
  EXPECT_NE(table.find("| final rules equal to a fresh daemon's | yes (1234 lines of rules) |"), std::string::npos)
      << table;
  EXPECT_NE(table.find("| RSS drift after the warm-up | +1.0 % |"), std::string::npos) << table;
}

TEST(RenderSoakTable, ShowsADifferenceAndAFailure) {
  SoakResult result = soak_of({sample(0, 50)});
  result.final_state.compared = true;
  result.final_state.detail = "2 lines only in the soaked daemon's rules";
  result.error = "kubenat run exited";
  const std::string table = render_soak_table(report_of(result));
  EXPECT_NE(table.find("NO: 2 lines only in the soaked daemon's rules"), std::string::npos) << table;
  EXPECT_NE(table.find("- nftables: FAILED: kubenat run exited"), std::string::npos) << table;
}

TEST(RenderSoakTable, ShowsAtMostAboutThirtySamplesAndAlwaysTheLast) {
  std::vector<SoakSample> samples;
  for (int i = 0; i <= 180; ++i) samples.push_back(sample(i * 10.0, 100));
  const std::string table = render_soak_table(report_of(soak_of(samples)));
  std::size_t rows = 0;
  for (std::size_t at = table.find("\n| ", table.find("the daemon over time")); at != std::string::npos;
       at = table.find("\n| ", at + 1)) {
    ++rows;
  }
  EXPECT_LE(rows, 33u);  // header and the samples
  EXPECT_NE(table.find("| 30:00 |"), std::string::npos) << table;
}

TEST(SoakReportJson, HoldsEverySampleAndTheSummary) {
  const nlohmann::json json =
      soak_report_to_json(report_of(soak_of({sample(0, 50), sample(60, 100), sample(120, 102)})));
  ASSERT_EQ(json["soaks"].size(), 1u);
  EXPECT_EQ(json["soaks"][0]["samples"].size(), 3u);
  EXPECT_EQ(json["soaks"][0]["backend"], "nftables");
  EXPECT_DOUBLE_EQ(json["soaks"][0]["summary"]["drift_percent"].get<double>(), 2.0);
  EXPECT_EQ(json["options"]["scenario"], "soak");
}

TEST(SoakPlot, AGnuplotIndexPerBackend) {
  SoakReport report = report_of(soak_of({sample(0, 50)}));
  SoakResult iptables = soak_of({sample(0, 70)});
  iptables.backend = BenchBackend::Iptables;
  report.soaks.push_back(iptables);
  const std::string data = render_soak_plot_data(report);
  EXPECT_NE(data.find("\n\n\n# iptables"), std::string::npos) << data;
  const std::string script = render_soak_gnuplot_script(report);
  EXPECT_NE(script.find("index 1 using 1:2"), std::string::npos) << script;
}

}  // namespace
}  // namespace kubenat::bench
