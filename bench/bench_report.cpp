#include "bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/sample_stats.h"
#include "engine/daemon/duration.h"

namespace kubenat::bench {
namespace {

// The baselines are upstream's payloads written by kubenat's process: their
// compile time and memory would be kubenat's, not kube-proxy's; the iptables
// baseline's data plane is kubenat's iptables rules, the nftables
// baseline's its own. The floor is a data plane without rules.
bool shown_for(const FigureInfo& figure, BenchBackend backend) {
  const bool kubenat_process = figure.figure == Figure::Compile || figure.figure == Figure::PeakMemory;
  switch (backend) {
    case BenchBackend::Iptables:
    case BenchBackend::Nftables: return true;
    case BenchBackend::KubeProxy: return !figure.dataplane && !kubenat_process;
    case BenchBackend::KubeProxyNftables: return !kubenat_process;
    case BenchBackend::Floor:
    case BenchBackend::NatFloor: return figure.dataplane;
  }
  return true;
}

std::vector<BenchBackend> columns(const BenchReport& report, const FigureInfo& figure) {
  std::vector<BenchBackend> shown;
  for (BenchBackend backend : report.options.backends) {
    if (shown_for(figure, backend)) shown.push_back(backend);
  }
  return shown;
}

std::vector<std::pair<BenchBackend, BenchBackend>> ratio_columns(const std::vector<BenchBackend>& shown) {
  std::vector<std::pair<BenchBackend, BenchBackend>> pairs;
  for (const auto& pair : kRatioPairs) {
    const bool both = std::find(shown.begin(), shown.end(), pair.first) != shown.end() &&
                      std::find(shown.begin(), shown.end(), pair.second) != shown.end();
    if (both) pairs.push_back(pair);
  }
  return pairs;
}

const FigureSamples* samples_of(const BenchReport& report, int services, BenchBackend backend, Figure figure) {
  const CellResult* cell = report.find(services, backend);
  if (cell == nullptr) return nullptr;
  auto it = cell->figures.find(figure);
  return it == cell->figures.end() ? nullptr : &it->second;
}

std::string format_ratio(double value) {
  char text[32];
  std::snprintf(text, sizeof text, value >= 100 ? "%.0fx" : value >= 10 ? "%.1fx" : "%.2fx", value);
  return text;
}

std::string samples_cell(const FigureSamples* samples) {
  if (samples == nullptr) return "-";
  if (samples->values.empty()) {
    return samples->at_least ? "> " + format_figure(*samples->at_least) + " (timed out)" : "-";
  }
  const SampleSummary s = summarize(samples->values);
  if (s.min == s.max) return format_figure(s.median);
  return format_figure(s.median) + " [" + format_figure(s.min) + ".." + format_figure(s.max) + "]";
}

std::string ratio_cell(const FigureSamples* numerator, const FigureSamples* denominator) {
  if (numerator == nullptr || denominator == nullptr) return "-";
  const std::optional<RatioSummary> ratio = pair_ratio(*numerator, *denominator);
  if (!ratio) return "-";
  if (ratio->lower_bound) return "> " + format_ratio(ratio->median);
  if (ratio->min == ratio->max) return format_ratio(ratio->median);
  return format_ratio(ratio->median) + " [" + format_ratio(ratio->min) + ".." + format_ratio(ratio->max) + "]";
}

std::string percent(double share) {
  char text[16];
  std::snprintf(text, sizeof text, "%g %%", share * 100);
  return text;
}

std::string joined_sizes(const std::vector<int>& sizes) {
  std::string text;
  for (int size : sizes) text += (text.empty() ? "" : ", ") + std::to_string(size);
  return text;
}

std::string gnuplot_quoted(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';  // gnuplot doubles a quote inside single quotes
    quoted += c;
  }
  return quoted + "'";
}

bool any_figure(const BenchReport& report, Figure figure) {
  for (const CellResult& cell : report.cells) {
    auto it = cell.figures.find(figure);
    if (it != cell.figures.end() && (!it->second.values.empty() || it->second.at_least)) return true;
  }
  return false;
}

bool has_lower_bound(const BenchReport& report, BenchBackend backend, Figure figure) {
  for (int services : report.options.sizes) {
    const FigureSamples* samples = samples_of(report, services, backend, figure);
    if (samples != nullptr && samples->values.empty() && samples->at_least) return true;
  }
  return false;
}

}  // namespace

const CellResult* BenchReport::find(int services, BenchBackend backend) const {
  auto it = std::find_if(cells.begin(), cells.end(),
                         [&](const CellResult& cell) { return cell.services == services && cell.backend == backend; });
  return it == cells.end() ? nullptr : &*it;
}

std::optional<RatioSummary> pair_ratio(const FigureSamples& numerator, const FigureSamples& denominator) {
  if (denominator.values.empty()) return std::nullopt;
  if (numerator.values.empty()) {
    if (!numerator.at_least) return std::nullopt;
    const double median = summarize(denominator.values).median;
    if (median <= 0) return std::nullopt;
    const double bound = *numerator.at_least / median;
    return RatioSummary{bound, bound, bound, true};
  }
  std::vector<double> ratios;
  const std::size_t pairs = std::min(numerator.values.size(), denominator.values.size());
  for (std::size_t i = 0; i < pairs; ++i) {
    if (denominator.values[i] > 0) ratios.push_back(numerator.values[i] / denominator.values[i]);
  }
  if (ratios.empty()) return std::nullopt;
  const SampleSummary s = summarize(ratios);
  return RatioSummary{s.median, s.min, s.max, false};
}

std::string format_figure(double value) {
  char text[32];
  const double magnitude = std::fabs(value);
  std::snprintf(text, sizeof text, magnitude >= 100 || value == 0 ? "%.0f" : magnitude >= 10 ? "%.1f" : "%.2f", value);
  return text;
}

std::string render_table(const BenchReport& report) {
  const BenchOptions& o = report.options;
  std::ostringstream out;
  out << "kubenat bench, " << report.machine.date << ", " << report.machine.summary() << "\n";
  out << "services: " << joined_sizes(o.sizes) << " x " << o.endpoints << " endpoints; NodePort "
      << percent(o.node_port_share) << ", LoadBalancer " << percent(o.load_balancer_share) << ", affinity "
      << percent(o.affinity_share) << ", Local " << percent(o.local_share) << "; seed " << o.seed << "; " << o.runs
      << " runs (full syncs " << full_sync_runs(o) << ", each into a namespace of its own)";
  if (o.dataplane) out << "; " << o.connections << " connections per data-plane run";
  out << "\nmedian [min..max]; ratios pair the runs one by one: median [min..max] of the pairs\n";

  for (const FigureInfo& figure : all_figures()) {
    if ((figure.dataplane && !o.dataplane) || !any_figure(report, figure.figure)) continue;
    const std::vector<BenchBackend> shown = columns(report, figure);
    if (shown.empty()) continue;
    const auto ratios = ratio_columns(shown);
    out << "\n" << figure.title << " (" << figure.unit << ")\n\n| services |";
    for (BenchBackend backend : shown) out << " " << backend_name(backend) << " |";
    for (const auto& [a, b] : ratios) out << " " << backend_name(a) << " / " << backend_name(b) << " |";
    out << "\n|---:|";
    for (std::size_t i = 0; i < shown.size() + ratios.size(); ++i) out << "---:|";
    out << "\n";
    for (int services : o.sizes) {
      out << "| " << services << " |";
      for (BenchBackend backend : shown) {
        out << " " << samples_cell(samples_of(report, services, backend, figure.figure)) << " |";
      }
      for (const auto& [a, b] : ratios) {
        out << " "
            << ratio_cell(samples_of(report, services, a, figure.figure), samples_of(report, services, b, figure.figure))
            << " |";
      }
      out << "\n";
    }
  }

  std::ostringstream notes;
  for (const CellResult& cell : report.cells) {
    const std::string where = std::string(backend_name(cell.backend)) + ", " + std::to_string(cell.services) + " services";
    if (cell.error) notes << "- " << where << ": FAILED: " << *cell.error << "\n";
    for (const auto& [figure, samples] : cell.figures) {
      if (!samples.note.empty() && shown_for(figure_info(figure), cell.backend)) {
        notes << "- " << where << ", " << figure_info(figure).title << ": " << samples.note << "\n";
      }
    }
  }
  if (!notes.str().empty()) out << "\nnotes:\n" << notes.str();
  return out.str();
}

nlohmann::json report_to_json(const BenchReport& report) {
  const BenchOptions& o = report.options;
  nlohmann::json backends = nlohmann::json::array();
  for (BenchBackend backend : o.backends) backends.push_back(std::string(backend_name(backend)));
  nlohmann::json options = {{"sizes", o.sizes},
                            {"endpoints", o.endpoints},
                            {"backends", backends},
                            {"runs", o.runs},
                            {"full_sync_runs", full_sync_runs(o)},
                            {"connections", o.connections},
                            {"node_port_share", o.node_port_share},
                            {"load_balancer_share", o.load_balancer_share},
                            {"affinity_share", o.affinity_share},
                            {"local_share", o.local_share},
                            {"seed", o.seed},
                            {"dataplane", o.dataplane},
                            {"baseline_full_sync_timeout", format_duration(o.baseline_full_sync_timeout)}};
  const MachineInfo& m = report.machine;
  nlohmann::json machine = {{"cpu", m.cpu},       {"cpus", m.cpus}, {"memory_gib", m.memory_gib},
                            {"kernel", m.kernel}, {"date", m.date}, {"iptables", m.iptables},
                            {"hostname", m.hostname}};
  nlohmann::json cells = nlohmann::json::array();
  for (const CellResult& cell : report.cells) cells.push_back(cell_to_json(cell));

  nlohmann::json ratios = nlohmann::json::array();
  for (const FigureInfo& figure : all_figures()) {
    for (const auto& [a, b] : kRatioPairs) {
      if (!shown_for(figure, a) || !shown_for(figure, b)) continue;
      for (int services : o.sizes) {
        const FigureSamples* numerator = samples_of(report, services, a, figure.figure);
        const FigureSamples* denominator = samples_of(report, services, b, figure.figure);
        if (numerator == nullptr || denominator == nullptr) continue;
        const std::optional<RatioSummary> ratio = pair_ratio(*numerator, *denominator);
        if (!ratio) continue;
        ratios.push_back({{"figure", std::string(figure.key)},
                          {"services", services},
                          {"numerator", std::string(backend_name(a))},
                          {"denominator", std::string(backend_name(b))},
                          {"median", ratio->median},
                          {"min", ratio->min},
                          {"max", ratio->max},
                          {"lower_bound", ratio->lower_bound}});
      }
    }
  }
  return {{"machine", machine}, {"options", options}, {"cells", cells}, {"ratios", ratios}};
}

std::vector<FigureInfo> plotted_figures(const BenchReport& report) {
  std::vector<FigureInfo> out;
  for (const FigureInfo& figure : all_figures()) {
    if (!figure.plotted || (figure.dataplane && !report.options.dataplane)) continue;
    if (columns(report, figure).empty() || !any_figure(report, figure.figure)) continue;
    out.push_back(figure);
  }
  return out;
}

std::string render_plot_data(const BenchReport& report, const FigureInfo& figure) {
  const std::vector<BenchBackend> shown = columns(report, figure);
  std::ostringstream out;
  out << "# " << figure.title << " (" << figure.unit << "): services, then median min max per backend:";
  for (BenchBackend backend : shown) out << " " << backend_name(backend);
  out << "\n";
  for (int services : report.options.sizes) {
    out << services;
    for (BenchBackend backend : shown) {
      const FigureSamples* samples = samples_of(report, services, backend, figure.figure);
      if (samples != nullptr && !samples->values.empty()) {
        const SampleSummary s = summarize(samples->values);
        out << " " << s.median << " " << s.min << " " << s.max;
      } else if (samples != nullptr && samples->at_least) {
        // Drawn at its time limit; the legend says so.
        out << " " << *samples->at_least << " " << *samples->at_least << " " << *samples->at_least;
      } else {
        out << " NaN NaN NaN";
      }
    }
    out << "\n";
  }
  return out.str();
}

std::string render_gnuplot_script(const BenchReport& report) {
  std::ostringstream out;
  out << "# Draws kubenat bench's plots: run `gnuplot plots.gp` in this directory.\n"
         // noenhanced: "nf_tables" is not "nf" with a subscript.
         "set terminal png size 960,600 noenhanced\n"
         "set datafile missing 'NaN'\n"
         "set xlabel 'services'\n"
         "set logscale x 10\n"
         "set grid\n"
         "set key top left\n";
  if (!report.options.sizes.empty()) {
    // Room around the first and last size, which autoscaling would put on
    // the frame (or stretch to the next decade).
    out << "set xrange [" << report.options.sizes.front() * 0.8 << ":" << report.options.sizes.back() * 1.25 << "]\n";
    out << "set xtics (";
    for (std::size_t i = 0; i < report.options.sizes.size(); ++i) out << (i ? ", " : "") << report.options.sizes[i];
    out << ")\n";
  }
  const std::string subtitle = report.machine.date + ", " + report.machine.summary();
  for (const FigureInfo& figure : plotted_figures(report)) {
    const std::vector<BenchBackend> shown = columns(report, figure);
    const std::string key(figure.key);
    out << "\nset output " << gnuplot_quoted(key + ".png") << "\n";
    out << "set title " << gnuplot_quoted(std::string(figure.title) + ", " + std::to_string(report.options.endpoints) +
                                          " endpoints per service (median, min..max)")
        << " . \"\\n\" . " << gnuplot_quoted(subtitle) << "\n";
    out << "set ylabel " << gnuplot_quoted(std::string(figure.unit)) << "\n";
    out << (figure.log_y ? "set logscale y 10\n" : "unset logscale y\n");
    out << "plot ";
    for (std::size_t i = 0; i < shown.size(); ++i) {
      const int column = 2 + 3 * static_cast<int>(i);
      std::string title(backend_name(shown[i]));
      if (has_lower_bound(report, shown[i], figure.figure)) title += " (a timeout is drawn at its limit)";
      out << (i == 0 ? gnuplot_quoted(key + ".dat") : std::string("''")) << " using 1:" << column << ":"
          << column + 1 << ":" << column + 2 << " with yerrorlines linewidth 2 pointsize 1.5 title "
          << gnuplot_quoted(title) << (i + 1 < shown.size() ? ", \\\n     " : "\n");
    }
  }
  return out.str();
}

}  // namespace kubenat::bench
