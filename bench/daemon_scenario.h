#pragma once

// The daemon scenario: `kubenat run` as a child process in a network
// namespace of its own, against the API server simulator (in this process,
// listening in that namespace) seeded with a synthetic cluster, timed as an
// operator would see it:
// - cold start: from the process's start to the end of its first full sync,
//   and the parts its log shows (start-up, lists, the first sync);
// - memory (VmRSS, VmHWM) after the first sync and after the changes;
// - network programming latency under a steady rate of changes to
//   EndpointSlices and Services, and under a burst of new Services, from
//   each API write to the end of the sync that applied it
//   (bench/change_latency.h), with the daemon at -v 2 so that its log times
//   every sync;
// - the daemon's CPU seconds per change (its own and its waited-for
//   children's, iptables-restore), from /proc/<pid>/stat.

#include <functional>
#include <string>
#include <string_view>

#include "bench/bench_options.h"
#include "bench/daemon_report.h"

namespace kubenat::bench {

struct DaemonSettings {
  std::string kubenat_binary;    // the program to run as `kubenat run`
  std::string namespace_prefix;  // the namespace is "<prefix>-daemon"
  std::string work_dir;          // made if missing; holds the kubeconfig and the daemon's log
};

struct DaemonObserver {
  std::function<void(std::string_view phase)> phase;
  // True stops the run; it then reports what it measured.
  std::function<bool()> cancelled;
};

// The namespace a run with this prefix makes, for removing what a killed one
// left behind.
std::string daemon_namespace_name(std::string_view namespace_prefix);

// One run of `backend` (iptables or nftables) on a cluster of `services`, as
// options.daemon says. Whatever fails ends it with the error in the result
// and the figures measured before; the daemon is stopped and the namespace
// removed in every case.
DaemonRun run_daemon_scenario(const BenchOptions& options, BenchBackend backend, int services,
                              const DaemonSettings& settings, const DaemonObserver& observer);

}  // namespace kubenat::bench
