#include "bench/bench_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kubenat::bench {
namespace {

FigureSamples samples(std::vector<double> values) { return FigureSamples{std::move(values), std::nullopt, ""}; }

CellResult cell(int services, BenchBackend backend, Figure figure, std::vector<double> values) {
  CellResult c;
  c.services = services;
  c.backend = backend;
  c.figures[figure] = samples(std::move(values));
  return c;
}

BenchReport two_sizes_three_backends() {
  BenchReport report;
  report.options.sizes = {1000, 10000};
  report.options.backends = {BenchBackend::Iptables, BenchBackend::Nftables, BenchBackend::KubeProxy};
  report.machine.date = "2026-11-25T00:00:00Z";
  report.machine.cpu = "Test CPU";
  report.machine.cpus = 2;
  for (int services : report.options.sizes) {
    report.cells.push_back(cell(services, BenchBackend::Iptables, Figure::EndpointChange, {20, 22, 24}));
    report.cells.push_back(cell(services, BenchBackend::Nftables, Figure::EndpointChange, {1, 2, 4}));
    report.cells.push_back(cell(services, BenchBackend::KubeProxy, Figure::EndpointChange, {60, 66, 72}));
  }
  return report;
}

TEST(PairRatio, PairsTheSamplesRunByRun) {
  const auto ratio = pair_ratio(samples({10, 20, 30}), samples({5, 5, 10}));
  ASSERT_TRUE(ratio);
  EXPECT_DOUBLE_EQ(ratio->median, 3);  // ratios 2, 4, 3
  EXPECT_DOUBLE_EQ(ratio->min, 2);
  EXPECT_DOUBLE_EQ(ratio->max, 4);
  EXPECT_FALSE(ratio->lower_bound);
}

TEST(PairRatio, UsesOnlyAsManyPairsAsTheShorterSideHas) {
  const auto ratio = pair_ratio(samples({10, 20, 1000}), samples({10, 10}));
  ASSERT_TRUE(ratio);
  EXPECT_DOUBLE_EQ(ratio->max, 2);
}

TEST(PairRatio, ATimedOutNumeratorGivesALowerBoundOverTheDenominatorsMedian) {
  FigureSamples timed_out;
  timed_out.at_least = 60000;
  const auto ratio = pair_ratio(timed_out, samples({100, 200, 300}));
  ASSERT_TRUE(ratio);
  EXPECT_TRUE(ratio->lower_bound);
  EXPECT_DOUBLE_EQ(ratio->median, 300);
}

TEST(PairRatio, IsAbsentWhenEitherSideHasNoSamples) {
  EXPECT_FALSE(pair_ratio(samples({}), samples({1})));
  EXPECT_FALSE(pair_ratio(samples({1}), samples({})));
}

TEST(FormatFigure, KeepsThreeSignificantDigitsBelowAHundredAndWholeNumbersAbove) {
  EXPECT_EQ(format_figure(7926.4), "7926");
  EXPECT_EQ(format_figure(148.44), "148");
  EXPECT_EQ(format_figure(23.04), "23.0");
  EXPECT_EQ(format_figure(1.556), "1.56");
  EXPECT_EQ(format_figure(0), "0");
}

TEST(RenderTable, HasAColumnPerBackendAndPerRatioPair) {
  const std::string table = render_table(two_sizes_three_backends());
  EXPECT_NE(table.find("| services | iptables | nftables | kube-proxy | kube-proxy / iptables | kube-proxy / nftables "
                       "| iptables / nftables |"),
            std::string::npos)
      << table;
}

TEST(RenderTable, ShowsMedianMinAndMaxAndThePairedRatios) {
  const std::string table = render_table(two_sizes_three_backends());
  // kube-proxy / iptables: 60/20, 66/22, 72/24 are all 3.
  EXPECT_NE(table.find("| 1000 | 22.0 [20.0..24.0] | 2.00 [1.00..4.00] | 66.0 [60.0..72.0] | 3.00x | 33.0x [18.0x..60.0x]"),
            std::string::npos)
      << table;
}

TEST(RenderTable, LeavesTheBaselineOutOfFiguresItDoesNotHave) {
  BenchReport report = two_sizes_three_backends();
  report.cells[0].figures[Figure::ConnectLatency] = samples({100});
  const std::string table = render_table(report);
  const std::size_t latency = table.find("new-connection latency, median of a run");
  ASSERT_NE(latency, std::string::npos);
  const std::string header = table.substr(latency, table.find("|---", latency) - latency);
  EXPECT_EQ(header.find("kube-proxy"), std::string::npos) << header;
  EXPECT_NE(header.find("iptables / nftables"), std::string::npos) << header;
}

// Both baselines, kubenat's nftables backend and the floor, as
// --backends nftables,kube-proxy,kube-proxy-nftables,floor measures them.
BenchReport with_the_nftables_baseline_and_the_floor() {
  BenchReport report;
  report.options.sizes = {1000};
  report.options.backends = {BenchBackend::Nftables, BenchBackend::KubeProxy, BenchBackend::KubeProxyNftables,
                             BenchBackend::Floor};
  report.cells.push_back(cell(1000, BenchBackend::Nftables, Figure::EndpointChange, {1, 2, 4}));
  report.cells.back().figures[Figure::ConnectLatency] = samples({55});
  report.cells.push_back(cell(1000, BenchBackend::KubeProxy, Figure::EndpointChange, {60, 66, 72}));
  report.cells.push_back(cell(1000, BenchBackend::KubeProxyNftables, Figure::EndpointChange, {10, 20, 40}));
  report.cells.back().figures[Figure::ConnectLatency] = samples({60});
  report.cells.push_back(cell(1000, BenchBackend::Floor, Figure::ConnectLatency, {50}));
  return report;
}

std::string header_of(const std::string& table, const std::string& title) {
  const std::size_t at = table.find(title);
  if (at == std::string::npos) return "";
  return table.substr(at, table.find("|---", at) - at);
}

TEST(RenderTable, ComparesTheNftablesBaselineWithKubenatsBackends) {
  const std::string table = render_table(with_the_nftables_baseline_and_the_floor());
  EXPECT_NE(table.find("| services | nftables | kube-proxy | kube-proxy-nftables | kube-proxy / nftables | "
                       "kube-proxy-nftables / nftables |\n|---:|---:|---:|---:|---:|---:|\n"
                       "| 1000 | 2.00 [1.00..4.00] | 66.0 [60.0..72.0] | 20.0 [10.0..40.0] | 33.0x [18.0x..60.0x] | "
                       "10.0x |"),
            std::string::npos)
      << table;
}

TEST(RenderTable, ShowsTheFloorInTheDataPlaneOnlyAndEveryDataPlaneAgainstIt) {
  const std::string table = render_table(with_the_nftables_baseline_and_the_floor());
  EXPECT_EQ(header_of(table, "one-endpoint change (ms)").find("floor"), std::string::npos) << table;
  EXPECT_NE(table.find("| services | nftables | kube-proxy-nftables | floor | kube-proxy-nftables / nftables | "
                       "nftables / floor | kube-proxy-nftables / floor |\n|---:|---:|---:|---:|---:|---:|---:|\n"
                       "| 1000 | 55.0 | 60.0 | 50.0 | 1.09x | 1.10x | 1.20x |"),
            std::string::npos)
      << table;
}


TEST(RenderTable, ShowsTheNatFloorAgainstTheFloorAndEveryDataPlaneAgainstTheNatFloor) {
  BenchReport report = with_the_nftables_baseline_and_the_floor();
  report.options.backends.push_back(BenchBackend::NatFloor);
  report.cells.push_back(cell(1000, BenchBackend::NatFloor, Figure::ConnectLatency, {52}));
  const std::string table = render_table(report);
  EXPECT_EQ(header_of(table, "one-endpoint change (ms)").find("nat-floor"), std::string::npos) << table;
  const std::string latency = header_of(table, "new-connection latency, median");
  EXPECT_NE(latency.find("| nat-floor / floor |"), std::string::npos) << latency;
  EXPECT_NE(latency.find("| nftables / nat-floor |"), std::string::npos) << latency;
  EXPECT_NE(latency.find("| kube-proxy-nftables / nat-floor |"), std::string::npos) << latency;
}

TEST(RenderTable, OmitsTheDataPlaneWhenItWasNotMeasured) {
  BenchReport report = two_sizes_three_backends();
  report.options.dataplane = false;
  EXPECT_EQ(render_table(report).find("new-connection latency"), std::string::npos);
}

TEST(RenderTable, ShowsATimeoutAsALowerBound) {
  BenchReport report = two_sizes_three_backends();
  FigureSamples timed_out;
  timed_out.at_least = 60000;
  timed_out.note = "did not finish within 1m";
  report.cells[2].figures[Figure::FullSync] = timed_out;
  report.cells[0].figures[Figure::FullSync] = samples({500});
  const std::string table = render_table(report);
  EXPECT_NE(table.find("> 60000 (timed out)"), std::string::npos) << table;
  EXPECT_NE(table.find("> 120x"), std::string::npos) << table;
  EXPECT_NE(table.find("kube-proxy, 1000 services, first full sync: did not finish within 1m"), std::string::npos)
      << table;
}

TEST(RenderTable, SkipsFiguresNoCellMeasured) {
  EXPECT_EQ(render_table(two_sizes_three_backends()).find("compile time"), std::string::npos);
}

TEST(RenderTable, ListsAFailedCellWithItsError) {
  BenchReport report = two_sizes_three_backends();
  report.cells[1].error = "full sync: netlink: Operation not permitted";
  EXPECT_NE(render_table(report).find("- nftables, 1000 services: FAILED: full sync: netlink: Operation not permitted"),
            std::string::npos);
}

TEST(ReportToJson, HoldsEveryCellAndEveryRatio) {
  const nlohmann::json json = report_to_json(two_sizes_three_backends());
  EXPECT_EQ(json["cells"].size(), 6u);
  EXPECT_EQ(json["options"]["sizes"], nlohmann::json({1000, 10000}));
  int endpoint_ratios = 0;
  for (const auto& ratio : json["ratios"]) endpoint_ratios += ratio["figure"] == "endpoint_change_ms";
  EXPECT_EQ(endpoint_ratios, 6);  // three pairs at two sizes
  EXPECT_EQ(json["machine"]["cpu"], "Test CPU");
}

TEST(RenderPlotData, WritesMedianMinMaxPerBackendAndNaNForMissingCells) {
  BenchReport report = two_sizes_three_backends();
  report.cells.erase(report.cells.begin() + 4);  // nftables at 10000
  const std::string data = render_plot_data(report, figure_info(Figure::EndpointChange));
  EXPECT_NE(data.find("\n1000 22 20 24 2 1 4 66 60 72\n"), std::string::npos) << data;
  EXPECT_NE(data.find("\n10000 22 20 24 NaN NaN NaN 66 60 72\n"), std::string::npos) << data;
}

TEST(RenderGnuplotScript, DrawsEachMeasuredPlottedFigureFromItsDataFile) {
  BenchReport report = two_sizes_three_backends();
  report.cells[0].figures[Figure::EndpointChangeBytes] = samples({1500});
  report.cells[0].figures[Figure::ServiceAddBytes] = samples({1500});  // measured, not plotted
  const std::string script = render_gnuplot_script(report);
  for (const FigureInfo& figure : all_figures()) {
    const std::string png = "set output '" + std::string(figure.key) + ".png'";
    const bool expected = figure.figure == Figure::EndpointChange || figure.figure == Figure::EndpointChangeBytes;
    EXPECT_EQ(script.find(png) != std::string::npos, expected) << figure.key;
  }
  EXPECT_NE(script.find("plot 'endpoint_change_ms.dat' using 1:2:3:4 with yerrorlines"), std::string::npos) << script;
  EXPECT_NE(script.find("set xtics (1000, 10000)"), std::string::npos);
}

TEST(RenderGnuplotScript, DoublesQuotesInsideItsStrings) {
  BenchReport report = two_sizes_three_backends();
  report.machine.cpu = "O'Brien CPU";
  EXPECT_NE(render_gnuplot_script(report).find("O''Brien CPU"), std::string::npos);
}

}  // namespace
}  // namespace kubenat::bench
