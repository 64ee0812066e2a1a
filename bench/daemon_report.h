#pragma once

// What the daemon scenario measured (bench/daemon_scenario.h) and how it is
// reported: per backend and size, the cold start and its parts, memory after
// the first sync and after the changes, network programming latency under
// steady changes and under a burst of new Services, CPU per change. Pure
// formatting: the table (Markdown, as `kubenat bench` prints), the JSON
// document, the plots' data and gnuplot script.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/bench_options.h"
#include "bench/change_latency.h"
#include "bench/cluster_churn.h"
#include "bench/machine_info.h"
#include "bench/process_memory.h"

namespace kubenat::bench {

// One phase of changes: the steady rate, or the burst.
struct DaemonPhase {
  bool ran = false;
  ChurnCounts changes;
  double seconds = 0;      // the time the changes were made in
  LatencySummary latency;  // from the daemon's log (bench/change_latency.h)
  // The same, of the EndpointSlice changes and of the Service changes alone.
  LatencySummary endpoint_latency;
  LatencySummary service_latency;
  std::uint64_t syncs = 0;  // the daemon's sync count went up by so much, until it settled
  double cpu_seconds = 0;   // the daemon's, its waited-for children's included, until it settled
  // The daemon's own kubeproxy_network_programming_duration_seconds over the
  // phase (EndpointSlice writes only, as the trigger time is theirs): a
  // cross-check of the mean from the log.
  std::uint64_t daemon_programming_count = 0;
  double daemon_programming_mean = 0;  // seconds
  ProcessMemory memory_after;          // once it settled

  double cpu_ms_per_change() const;
};

struct DaemonRun {
  BenchBackend backend = BenchBackend::Nftables;
  int services = 0;
  int endpoints = 0;
  // Cold start, from the bench's start of the process to the end of the
  // first full sync as the log times it; its parts where the log shows them.
  double cold_start_seconds = 0;
  std::optional<double> startup_seconds;  // to "kubenat run: node ...": flags, Node, servers, watches started
  std::optional<double> list_seconds;     // from there to the first sync's start: lists decoded, waiting for all
  double first_sync_seconds = 0;          // the first full sync: compile and apply
  std::optional<double> first_sync_compile_seconds;  // of it, the compile, where the log says
  double cold_start_cpu_seconds = 0;
  ProcessMemory after_first_sync;
  DaemonPhase steady;
  DaemonPhase burst;
  double load_before = 0, load_after = 0;  // the machine's one-minute load average
  std::optional<int> daemon_exit_status;   // after SIGTERM at the end
  bool interrupted = false;
  std::optional<std::string> error;  // what failed; the figures before it are kept
};

struct DaemonReport {
  BenchOptions options;
  MachineInfo machine;
  std::vector<DaemonRun> runs;  // per backend, per size
};

// A column per run ("nftables 10,000"), a row per figure, then notes.
std::string render_daemon_table(const DaemonReport& report);

nlohmann::json daemon_report_to_json(const DaemonReport& report);

// The plotted figures: a block per backend (gnuplot's `index`), a row per
// size: services, cold start (s), RSS and VmHWM after the first sync (MiB),
// steady p50, p90, p99 (ms), burst p99 (ms), burst syncs.
std::string render_daemon_plot_data(const DaemonReport& report);
// Draws daemon_cold_start.png, daemon_memory.png and daemon_latency.png from
// daemon.dat, in the directory gnuplot runs in.
std::string render_daemon_gnuplot_script(const DaemonReport& report);

}  // namespace kubenat::bench
