// The daemon scenario's report: the table, the JSON document and the plots.

#include "bench/daemon_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kubenat::bench {
namespace {

DaemonRun measured_run(BenchBackend backend, int services) {
  DaemonRun r;
  r.backend = backend;
  r.services = services;
  r.endpoints = 10;
  r.cold_start_seconds = 1.5;
  r.startup_seconds = 0.05;
  r.list_seconds = 0.75;
  r.first_sync_seconds = 0.7;
  r.cold_start_cpu_seconds = 1.2;
  r.after_first_sync.rss_mib = 158;
  r.after_first_sync.hwm_mib = 176;
  r.steady.ran = true;
  r.steady.seconds = 60;
  r.steady.changes.by_kind[ChangeKind::EndpointAdded] = 960;
  r.steady.changes.by_kind[ChangeKind::ServiceChanged] = 240;
  r.steady.cpu_seconds = 2.4;
  r.steady.syncs = 1100;
  r.steady.latency = {.changes = 1200,
                      .applied = 1200,
                      .p50 = 0.004,
                      .p90 = 0.008,
                      .p99 = 0.025,
                      .max = 0.03,
                      .mean = 0.005,
                      .syncs = 1100,
                      .span_seconds = 60};
  r.steady.daemon_programming_count = 960;
  r.steady.daemon_programming_mean = 0.0051;
  r.burst.ran = true;
  r.burst.seconds = 1;
  r.burst.changes.by_kind[ChangeKind::ServiceCreated] = 1000;
  r.burst.latency = {.changes = 1000,
                     .applied = 1000,
                     .p50 = 0.3,
                     .p90 = 0.5,
                     .p99 = 0.6,
                     .max = 0.61,
                     .mean = 0.3,
                     .syncs = 4,
                     .span_seconds = 1.6};
  r.burst.memory_after.rss_mib = 170;
  r.burst.memory_after.hwm_mib = 180;
  return r;
}

DaemonReport report_of(std::vector<DaemonRun> runs) {
  DaemonReport report;
  report.options.scenario = BenchScenario::Daemon;
  report.options.sizes = {1000, 10000};
  report.options.backends = {BenchBackend::Iptables, BenchBackend::Nftables};
  report.runs = std::move(runs);
  return report;
}

TEST(DaemonReport, ACpuFigurePerChangeIsTheCpuOverTheChangesMade) {
  const DaemonRun r = measured_run(BenchBackend::Nftables, 1000);
  EXPECT_DOUBLE_EQ(r.steady.cpu_ms_per_change(), 2.0);
  EXPECT_EQ(DaemonPhase{}.cpu_ms_per_change(), 0);
}

TEST(DaemonReport, TheTableHasAColumnPerRunAndARowPerFigure) {
  const std::string table = render_daemon_table(
      report_of({measured_run(BenchBackend::Nftables, 1000), measured_run(BenchBackend::Nftables, 100000)}));
  EXPECT_NE(table.find("| nftables 1,000 | nftables 100,000 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| cold start: process start to first full sync | 1.50 s | 1.50 s |"), std::string::npos)
      << table;
  EXPECT_NE(table.find("| RSS / VmHWM after the first sync | 158 / 176 MiB |"), std::string::npos) << table;
  EXPECT_NE(table.find("| steady: latency p50 / p90 / p99 | 4.00 / 8.00 / 25.0 ms |"), std::string::npos) << table;
  EXPECT_NE(table.find("| steady: latency max; mean (the daemon's metric's mean) | 30.0 ms; 5.00 ms (5.10 ms) |"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| steady: CPU per change | 2.00 ms |"), std::string::npos) << table;
  EXPECT_NE(table.find("| burst: syncs that applied it | 4 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| RSS / VmHWM after the changes | 170 / 180 MiB |"), std::string::npos) << table;
  EXPECT_EQ(table.find("notes:"), std::string::npos) << table;
}

TEST(DaemonReport, AFailedRunShowsDashesAndItsErrorInTheNotes) {
  DaemonRun failed;
  failed.backend = BenchBackend::Iptables;
  failed.services = 100000;
  failed.error = "gave up waiting for the first full sync after 1200 s";
  const std::string table = render_daemon_table(report_of({failed}));
  EXPECT_NE(table.find("| cold start: process start to first full sync | - |"), std::string::npos) << table;
  EXPECT_NE(table.find("- iptables 100,000: FAILED: gave up waiting"), std::string::npos) << table;
}

TEST(DaemonReport, ChangesNotAppliedOrAmbiguousAreNoted) {
  DaemonRun r = measured_run(BenchBackend::Nftables, 1000);
  r.steady.latency.applied = 1198;
  r.burst.latency.ambiguous = 3;
  const std::string table = render_daemon_table(report_of({r}));
  EXPECT_NE(table.find("steady: 2 changes with no successful sync after them"), std::string::npos) << table;
  EXPECT_NE(table.find("burst: 3 changes with a sync starting within 2 ms"), std::string::npos) << table;
}

TEST(DaemonReport, TheJsonHoldsEveryFigureOfEveryRun) {
  const nlohmann::json j = daemon_report_to_json(report_of({measured_run(BenchBackend::Nftables, 1000)}));
  EXPECT_EQ(j["options"]["scenario"], "daemon");
  ASSERT_EQ(j["runs"].size(), 1u);
  const nlohmann::json& run = j["runs"][0];
  EXPECT_EQ(run["backend"], "nftables");
  EXPECT_EQ(run["services"], 1000);
  EXPECT_DOUBLE_EQ(run["cold_start_seconds"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(run["list_seconds"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(run["after_first_sync"]["hwm_mib"].get<double>(), 176);
  EXPECT_DOUBLE_EQ(run["steady"]["latency"]["p99_seconds"].get<double>(), 0.025);
  EXPECT_EQ(run["steady"]["changes"]["total"], 1200);
  EXPECT_EQ(run["burst"]["latency"]["syncs"], 4);
  EXPECT_TRUE(run["error"].is_null());
}

TEST(DaemonReport, PlotDataHasABlockPerBackendWithARunAndARowPerSize) {
  const DaemonReport report =
      report_of({measured_run(BenchBackend::Nftables, 1000), measured_run(BenchBackend::Nftables, 10000)});
  const std::string data = render_daemon_plot_data(report);
  EXPECT_EQ(data.find("# iptables"), std::string::npos) << data;  // no iptables run: no empty block
  EXPECT_NE(data.find("# nftables"), std::string::npos) << data;
  EXPECT_NE(data.find("\n1000 1.5 158 176 4 8 25 600 4\n"), std::string::npos) << data;
  EXPECT_NE(data.find("\n10000 "), std::string::npos) << data;
  const std::string script = render_daemon_gnuplot_script(report);
  for (const char* png : {"daemon_cold_start.png", "daemon_memory.png", "daemon_latency.png"}) {
    EXPECT_NE(script.find(png), std::string::npos) << png;
  }
  EXPECT_EQ(script.find("index 1"), std::string::npos) << script;
}

}  // namespace
}  // namespace kubenat::bench
