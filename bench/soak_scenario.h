#pragma once

// The churn soak: `kubenat run` as a child process in a network namespace of
// its own, against the API server simulator (in this process, listening in
// that namespace) seeded with a synthetic cluster; then random changes at a
// steady rate for a while (bench/cluster_churn.h), the daemon's memory and
// /metrics sampled at intervals. At the end, once the daemon has applied the
// last change, its kernel rules are compared with those a fresh `kubenat run`
// writes in a second namespace for the same final objects (the simulator's,
// copied into a second simulator): a daemon that leaked or lost rules on the
// way differs.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_options.h"
#include "bench/soak_report.h"

namespace kubenat::bench {

struct SoakSettings {
  std::string kubenat_binary;    // the program to run as `kubenat run`
  std::string namespace_prefix;  // the namespaces are "<prefix>-soak" and "<prefix>-fresh"
  // Made if missing; holds the kubeconfigs, the daemons' logs, and the two
  // rule dumps when they differ.
  std::string work_dir;
};

struct SoakObserver {
  std::function<void(std::string_view phase)> phase;
  std::function<void(const SoakSample& sample)> sampled;
  // True stops the changes early; the run then reports what it measured,
  // without the final comparison.
  std::function<bool()> cancelled;
};

// The namespaces a soak with this prefix makes, for removing what a killed
// one left behind.
std::vector<std::string> soak_namespace_names(std::string_view namespace_prefix);

// Runs one soak of `backend` (iptables or nftables) as options.soak says.
// Whatever fails ends it with the error in the result and the figures
// measured before; the daemons are stopped and the namespaces removed in
// every case.
SoakResult run_soak(const BenchOptions& options, BenchBackend backend, const SoakSettings& settings,
                    const SoakObserver& observer);

}  // namespace kubenat::bench
