#pragma once

// Writes a bench report into its output directory: bench.json (every
// sample), table.md (the terminal's table), and unless plots are off, a
// <figure>.dat file per plotted figure, plots.gp, and the PNGs gnuplot draws
// from them.

#include <expected>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/daemon_report.h"
#include "bench/soak_report.h"

namespace kubenat::bench {

struct WrittenReport {
  std::vector<std::string> files;  // paths, in the order written
  // Why there are no PNGs although plots were asked for (gnuplot missing or
  // failing); the data and the script are written anyway.
  std::string plot_error;
};

// Creates `dir` if needed. The error names the file that could not be
// written.
[[nodiscard]] std::expected<WrittenReport, std::string> write_report_files(const BenchReport& report,
                                                                           const std::string& dir, bool plots);

// The churn soak's report: soak.json, soak.md, and unless plots are off
// soak_memory.dat, soak.gp and the soak_memory.png gnuplot draws.
[[nodiscard]] std::expected<WrittenReport, std::string> write_soak_report_files(const SoakReport& report,
                                                                                const std::string& dir, bool plots);

// The daemon scenario's report: daemon.json, table.md, and unless plots are
// off (or nothing was measured) daemon.dat, daemon.gp and the
// daemon_{cold_start,memory,latency}.png gnuplot draws.
[[nodiscard]] std::expected<WrittenReport, std::string> write_daemon_report_files(const DaemonReport& report,
                                                                                  const std::string& dir, bool plots);

}  // namespace kubenat::bench
