// kubenat bench: synthetic clusters of the sizes asked for, applied by each
// backend into network namespaces of this machine, measured and reported
// side by side (the scenarios are bench/'s).

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "bench/bench_report.h"
#include "bench/bench_suite.h"
#include "bench/machine_info.h"
#include "bench/progress_bar.h"
#include "bench/report_files.h"
#include "tools/kubenat/bench_flags.h"
#include "tools/kubenat/commands.h"

namespace kubenat {
namespace {

volatile std::sig_atomic_t interrupted = 0;

void note_interrupt(int) { interrupted = 1; }

// Ctrl-C or a SIGTERM stops the bench but lets it remove its namespaces
// and report what it measured. No SA_RESTART: the wait for a cell must
// wake up.
void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = note_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

std::string cell_label(const bench::CellSpec& spec) {
  return std::string(bench::backend_name(spec.backend)) + ", " + std::to_string(spec.services) + " services";
}

}  // namespace

int bench_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  auto options = parse_bench_flags(args);
  if (!options) {
    err << options.error() << "\n";
    return 2;
  }
  if (options->help) {
    out << "usage: kubenat bench [flags]\n\n"
           "Measures kubenat's iptables and nftables backends and a kube-proxy baseline on synthetic\n"
           "clusters, in network namespaces of this machine (root needed). Writes a table to standard\n"
           "output and bench.json, table.md and PNG plots to --out.\n\n"
        << bench_usage();
    return 0;
  }
  if (::geteuid() != 0) {
    err << "kubenat bench: needs root: every cell makes network namespaces and writes rules into them\n";
    return 1;
  }

  bench::BenchReport report;
  report.options = *options;
  report.machine = bench::describe_machine();
  const int cells = static_cast<int>(options->sizes.size() * options->backends.size());
  bench::ProgressBar progress(err, ::isatty(STDERR_FILENO) == 1, cells);
  bench::SuiteObserver observer;
  observer.cell_started = [&](const bench::CellSpec& spec) { progress.start_cell(cell_label(spec)); };
  observer.phase = [&](std::string_view phase) { progress.phase(phase); };
  observer.idle = [&] { progress.tick(); };
  observer.cancelled = [] { return interrupted != 0; };
  observer.cell_finished = [&](const bench::CellResult& cell) {
    progress.finish_cell(cell.error ? "FAILED: " + *cell.error : "done");
  };
  catch_interrupts();
  report.cells = bench::run_bench_suite(*options, observer);
  progress.finish();
  if (interrupted) err << "kubenat bench: interrupted; reporting the cells measured so far\n";

  out << bench::render_table(report);
  out.flush();
  auto written = bench::write_report_files(report, options->out_dir, options->plots);
  if (!written) {
    err << "kubenat bench: " << written.error() << "\n";
    return 1;
  }
  out << "\nwritten:";
  for (const std::string& file : written->files) out << " " << file;
  out << "\n";
  if (!written->plot_error.empty()) err << "kubenat bench: no plots: " << written->plot_error << "\n";

  if (interrupted) return 130;
  bool failed = false;
  for (const bench::CellResult& cell : report.cells) failed = failed || cell.error.has_value();
  return failed ? 1 : 0;
}

}  // namespace kubenat
