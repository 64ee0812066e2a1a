#pragma once

// What `kubenat bench` reports from its cells: the table for the terminal
// (Markdown, so that it pastes into bench/README.md as it is), the JSON
// document with every sample, and the plots' data and gnuplot script. Pure
// formatting: writing the files is bench/report_files.h.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/bench_options.h"
#include "bench/bench_results.h"
#include "bench/machine_info.h"

namespace kubenat::bench {

struct BenchReport {
  BenchOptions options;
  MachineInfo machine;
  std::vector<CellResult> cells;

  // The cell of `backend` at `services`, or null when it was not measured.
  const CellResult* find(int services, BenchBackend backend) const;
};

// The ratios the report shows, numerator / denominator: each kube-proxy
// baseline against each of kubenat's backends, iptables against nftables,
// every data plane against the floor (its distance from the physical
// limit) and against the NAT floor (what is left once NAT itself is
// counted out). Only pairs whose backends both ran and that both have the figure
// (the iptables baseline has no data plane of its own, the floor nothing
// but a data plane) are shown.
inline constexpr std::pair<BenchBackend, BenchBackend> kRatioPairs[] = {
    {BenchBackend::KubeProxy, BenchBackend::Iptables},
    {BenchBackend::KubeProxy, BenchBackend::Nftables},
    {BenchBackend::KubeProxyNftables, BenchBackend::Iptables},
    {BenchBackend::KubeProxyNftables, BenchBackend::Nftables},
    {BenchBackend::Iptables, BenchBackend::Nftables},
    {BenchBackend::Iptables, BenchBackend::Floor},
    {BenchBackend::Nftables, BenchBackend::Floor},
    {BenchBackend::KubeProxyNftables, BenchBackend::Floor},
    {BenchBackend::NatFloor, BenchBackend::Floor},
    {BenchBackend::Iptables, BenchBackend::NatFloor},
    {BenchBackend::Nftables, BenchBackend::NatFloor},
    {BenchBackend::KubeProxyNftables, BenchBackend::NatFloor},
};

struct RatioSummary {
  // The samples are paired run by run (the first of one with the first of
  // the other, ...), and these summarize the pairs' ratios.
  double median = 0;
  double min = 0;
  double max = 0;
  // The numerator did not finish in time: its time limit over the
  // denominator's median, a lower bound of the ratio.
  bool lower_bound = false;
};

// The ratio of `numerator` to `denominator`, sample pair by sample pair;
// nullopt when either has no samples (and the numerator no lower bound).
std::optional<RatioSummary> pair_ratio(const FigureSamples& numerator, const FigureSamples& denominator);

// "7926", "148", "23.0", "1.56": three significant digits or the whole
// number, whichever is longer.
std::string format_figure(double value);

// The tables, one per figure: a row per size, a column per backend
// (median [min..max]) and per ratio pair; then the cells' errors and notes.
std::string render_table(const BenchReport& report);

// Every cell with every sample, the ratios, the options and the machine.
nlohmann::json report_to_json(const BenchReport& report);

// The figures to plot: those marked plotted that some cell measured (the
// data plane only when it was asked for).
std::vector<FigureInfo> plotted_figures(const BenchReport& report);

// One plotted figure's data: a row per size, for each backend its median,
// min and max ("NaN" where it has none).
std::string render_plot_data(const BenchReport& report, const FigureInfo& figure);

// The gnuplot script that draws every plotted figure's <key>.png from its
// <key>.dat, both in the directory gnuplot runs in.
std::string render_gnuplot_script(const BenchReport& report);

}  // namespace kubenat::bench
