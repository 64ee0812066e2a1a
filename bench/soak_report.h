#pragma once

// What the churn soak measured (bench/soak_scenario.h) and how it is
// reported: the daemon's memory and counters over time, the summary that
// says whether memory stayed flat after the warm-up, the changes made, and
// whether the final rules equal a fresh daemon's. Pure formatting: the
// table (Markdown, as `kubenat bench` prints), the JSON document, and the
// memory plot's data and gnuplot script.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/bench_options.h"
#include "bench/cluster_churn.h"
#include "bench/daemon_metrics.h"
#include "bench/machine_info.h"
#include "bench/process_memory.h"

namespace kubenat::bench {

struct SoakSample {
  double seconds = 0;  // since the changes started
  ProcessMemory daemon;
  DaemonCounters counters;
  std::uint64_t changes = 0;  // made so far
  double bench_rss_mib = 0;   // the bench's own process: the API server simulator
  double load_average = 0;    // the machine's, over one minute
};

struct FinalStateCheck {
  bool compared = false;
  bool equal = false;
  // Not equal: what differs; not compared: why.
  std::string detail;
  std::size_t lines = 0;  // of the soaked daemon's normalised rules
  int attempts = 0;       // dumps of the soaked daemon's rules until they matched (or the last)
};

struct SoakResult {
  BenchBackend backend = BenchBackend::Nftables;
  int services = 0;
  int endpoints = 0;
  double changes_per_second = 0;          // asked for
  std::chrono::milliseconds duration{0};  // asked for
  double churn_seconds = 0;               // how long changes were made
  double first_sync_seconds = 0;          // from the daemon's start to the end of its first full sync
  double fresh_sync_seconds = 0;          // the same for the fresh daemon of the final check
  std::vector<SoakSample> samples;        // every sample interval, and one at the end of the changes
  ChurnCounts changes;
  DaemonCounters final_counters;  // once the daemon applied the last change
  FinalStateCheck final_state;
  std::optional<int> daemon_exit_status;  // after SIGTERM at the end; nullopt: not stopped by the bench
  bool interrupted = false;               // stopped early (Ctrl-C, SIGTERM)
  std::optional<std::string> error;       // what failed; the figures before it are kept
};

struct SoakSummary {
  // The first sample at or after the warm-up; nullopt when the run was
  // shorter.
  std::optional<SoakSample> after_warm_up;
  std::optional<SoakSample> last;
  // (last - after warm-up) / after warm-up, of RSS.
  std::optional<double> drift_percent;
  // RSS's least-squares slope over the samples after the warm-up (three at
  // least), in MiB per hour: less sensitive to one sample's noise.
  std::optional<double> trend_mib_per_hour;
  double max_rss_after_warm_up_mib = 0;
  double changes_per_second = 0;  // made, over the time they were made in
};

SoakSummary summarize_soak(const SoakResult& result, std::chrono::milliseconds warm_up);

struct SoakReport {
  BenchOptions options;
  MachineInfo machine;
  std::vector<SoakResult> soaks;  // one per backend
};

// The summary table (a column per backend), each backend's memory series
// (at most about 30 rows: every n-th sample and the last), then errors.
std::string render_soak_table(const SoakReport& report);

// Every sample of every soak, the summaries, the options and the machine.
nlohmann::json soak_report_to_json(const SoakReport& report);

// soak_memory.dat: a block per backend (gnuplot's `index`), a row per
// sample: minutes, RSS, VmHWM, RssAnon (MiB).
std::string render_soak_plot_data(const SoakReport& report);
// Draws soak_memory.png from soak_memory.dat, in the directory gnuplot
// runs in.
std::string render_soak_gnuplot_script(const SoakReport& report);

}  // namespace kubenat::bench
