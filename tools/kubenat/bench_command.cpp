// kubenat bench: synthetic clusters of the sizes asked for, applied by each
// backend into network namespaces of this machine, measured and reported
// side by side; or, with --scenario soak, kubenat run under continuous
// changes; or, with --scenario daemon, kubenat run timed at each size (the
// scenarios are bench/'s).

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <expected>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "bench/bench_report.h"
#include "bench/bench_suite.h"
#include "bench/daemon_scenario.h"
#include "bench/machine_info.h"
#include "bench/progress_bar.h"
#include "bench/report_files.h"
#include "bench/soak_scenario.h"
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

std::string mib(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", value);
  return text;
}

std::string minutes_seconds(double seconds) {
  char text[32];
  const long total = static_cast<long>(seconds);
  std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  return text;
}

// One soak per backend asked for, one after the other; a line per phase and
// per sample on standard error, the report at the end.
// Names the report files written, or says why they were not; false when
// they were not.
bool say_written(const std::expected<bench::WrittenReport, std::string>& written, std::ostream& out,
                 std::ostream& err) {
  if (!written) {
    err << "kubenat bench: " << written.error() << "\n";
    return false;
  }
  out << "\nwritten:";
  for (const std::string& file : written->files) out << " " << file;
  out << "\n";
  if (!written->plot_error.empty()) err << "kubenat bench: no plots: " << written->plot_error << "\n";
  return true;
}

int soak_command(const bench::BenchOptions& options, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    err << "kubenat bench: cannot find this program (/proc/self/exe): " << ec.message() << "\n";
    return 1;
  }
  bench::SoakReport report;
  report.options = options;
  report.machine = bench::describe_machine();
  catch_interrupts();
  // "kn<pid>b<i>-<role>" as the suite's cells, so that a killed bench's
  // namespaces are swept like theirs (tests/e2e/cleanup_stale_namespaces.sh).
  const std::string prefix = "kn" + std::to_string(::getpid()) + "b";
  const double total = std::chrono::duration<double>(options.soak.duration).count();
  for (std::size_t i = 0; i < options.backends.size() && !interrupted; ++i) {
    const std::string backend(bench::backend_name(options.backends[i]));
    bench::SoakSettings settings;
    settings.kubenat_binary = self.string();
    settings.namespace_prefix = prefix + std::to_string(i);
    settings.work_dir = (std::filesystem::path(options.out_dir) / ("soak-" + backend)).string();
    bench::SoakObserver observer;
    observer.phase = [&](std::string_view phase) { err << "soak " << backend << ": " << phase << "\n"; };
    observer.sampled = [&](const bench::SoakSample& s) {
      err << "soak " << backend << " " << minutes_seconds(s.seconds) << "/" << minutes_seconds(total) << ": RSS "
          << mib(s.daemon.rss_mib) << ", VmHWM " << mib(s.daemon.hwm_mib) << ", " << s.changes << " changes, "
          << s.counters.syncs << " syncs, " << s.counters.failed_syncs << " failed\n";
    };
    observer.cancelled = [] { return interrupted != 0; };
    bench::SoakResult result = bench::run_soak(options, options.backends[i], settings, observer);
    err << "soak " << backend << ": " << (result.error ? "FAILED: " + *result.error : "done") << "\n";
    report.soaks.push_back(std::move(result));
  }
  if (interrupted) err << "kubenat bench: interrupted; reporting what was measured\n";

  out << bench::render_soak_table(report);
  out.flush();
  if (!say_written(bench::write_soak_report_files(report, options.out_dir, options.plots), out, err)) return 1;

  if (interrupted) return 130;
  for (const bench::SoakResult& soak : report.soaks) {
    if (soak.error || (soak.final_state.compared && !soak.final_state.equal)) return 1;
  }
  return 0;
}

// One run per backend and size, one after the other; a line per phase on
// standard error, the report at the end.
int daemon_command(const bench::BenchOptions& options, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    err << "kubenat bench: cannot find this program (/proc/self/exe): " << ec.message() << "\n";
    return 1;
  }
  bench::DaemonReport report;
  report.options = options;
  report.machine = bench::describe_machine();
  catch_interrupts();
  // "kn<pid>b<i>-<role>" as the suite's cells, so that a killed bench's
  // namespaces are swept like theirs (tests/e2e/cleanup_stale_namespaces.sh).
  const std::string prefix = "kn" + std::to_string(::getpid()) + "b";
  int index = 0;
  for (bench::BenchBackend backend : options.backends) {
    for (int services : options.sizes) {
      if (interrupted) break;
      const std::string label = std::string(bench::backend_name(backend)) + " " + std::to_string(services);
      bench::DaemonSettings settings;
      settings.kubenat_binary = self.string();
      settings.namespace_prefix = prefix + std::to_string(index++);
      settings.work_dir = (std::filesystem::path(options.out_dir) /
                           ("daemon-" + std::string(bench::backend_name(backend)) + "-" + std::to_string(services)))
                              .string();
      bench::DaemonObserver observer;
      observer.phase = [&](std::string_view phase) { err << "daemon " << label << ": " << phase << "\n"; };
      observer.cancelled = [] { return interrupted != 0; };
      bench::DaemonRun run = bench::run_daemon_scenario(options, backend, services, settings, observer);
      err << "daemon " << label << ": " << (run.error ? "FAILED: " + *run.error : "done") << "\n";
      report.runs.push_back(std::move(run));
    }
  }
  if (interrupted) err << "kubenat bench: interrupted; reporting what was measured\n";

  out << bench::render_daemon_table(report);
  out.flush();
  if (!say_written(bench::write_daemon_report_files(report, options.out_dir, options.plots), out, err)) return 1;

  if (interrupted) return 130;
  for (const bench::DaemonRun& run : report.runs) {
    if (run.error) return 1;
  }
  return 0;
}

}  // namespace

int bench_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  auto options = parse_bench_flags(args);
  if (!options) {
    err << options.error() << "\n";
    return 2;
  }
  if (options->help) {
    out << "usage: kubenat bench [flags]\n"
           "       kubenat bench --scenario soak [--services N] [--soak-duration D] [--soak-rate R] [flags]\n"
           "       kubenat bench --scenario daemon [--sizes N,...] [--daemon-rate R] [--daemon-burst N] [flags]\n\n"
           "Measures kubenat's iptables and nftables backends beside kube-proxy's iptables and nftables\n"
           "modes, the no-rules floor and the NAT floor (one DNAT and one masquerade rule) on synthetic\n"
           "clusters, in network namespaces of this machine (root needed). Writes a table to standard\n"
           "output and bench.json, table.md and PNG plots to --out.\n\n"
           "--scenario soak runs `kubenat run` (this program) in a network namespace against the API\n"
           "server simulator holding a synthetic cluster of --services, and changes Services,\n"
           "EndpointSlices and Nodes at random, --soak-rate per second for --soak-duration. It samples\n"
           "the daemon's memory (VmRSS, VmHWM) and /metrics (syncs, failed syncs) every\n"
           "--soak-sample-interval, reports the memory's drift after --soak-warm-up, and at the end\n"
           "compares the daemon's rules with those a fresh `kubenat run` writes for the same final\n"
           "objects. Writes a table to standard output and soak.json, soak.md and soak_memory.png to\n"
           "--out (the daemons' logs in --out/soak-<backend>/). Exit status 1 when a soak failed or the\n"
           "final rules differ.\n\n"
           "--scenario daemon runs `kubenat run` the same way at each of --sizes, per backend: its cold\n"
           "start (process start to first full sync, and the parts its log shows), its memory after the\n"
           "first sync and after the changes, the latency from each API write to the end of the sync that\n"
           "applied it (from its -v 2 log) under --daemon-rate changes per second for --daemon-duration\n"
           "and under a burst of --daemon-burst new Services within --daemon-burst-window, and its CPU\n"
           "seconds per change. Writes a table to standard output and daemon.json, table.md and PNG plots\n"
           "to --out (the daemons' logs in --out/daemon-<backend>-<services>/).\n\n"
        << bench_usage();
    return 0;
  }
  if (::geteuid() != 0) {
    err << "kubenat bench: needs root: every cell makes network namespaces and writes rules into them\n";
    return 1;
  }
  if (options->scenario == bench::BenchScenario::Soak) return soak_command(*options, out, err);
  if (options->scenario == bench::BenchScenario::Daemon) return daemon_command(*options, out, err);

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
  if (!say_written(bench::write_report_files(report, options->out_dir, options->plots), out, err)) return 1;

  if (interrupted) return 130;
  bool failed = false;
  for (const bench::CellResult& cell : report.cells) failed = failed || cell.error.has_value();
  return failed ? 1 : 0;
}

}  // namespace kubenat
