#pragma once

// One cell of a bench: one cluster size on one backend, measured from
// scratch (cluster, namespaces, rules) so that its peak memory is its own.
// Meant to run in a child process of its own (bench/isolated_run.h).

#include <string>

#include "bench/bench_options.h"
#include "bench/bench_results.h"
#include "bench/control_plane_scenario.h"

namespace kubenat::bench {

struct CellSpec {
  int services = 0;
  BenchBackend backend = BenchBackend::Iptables;
  // Every namespace the cell makes is named "<prefix>-<role>".
  std::string namespace_prefix;
};

// The roles of the namespaces a cell may make, for removing what a cell
// that died left behind.
std::vector<std::string> cell_namespace_names(const BenchOptions& options, const CellSpec& spec);

// Measures the cell: the control plane, then (for kubenat's backends and the
// nftables baseline, unless --no-dataplane) the data plane over the same
// rules, then (for kubenat's backends) the peak memory of this process. The
// floor's cell measures the data plane alone, to the pod's own address with
// no rules. A failure ends the cell: it is in the result's error, with the
// figures measured before it. Removes every namespace it made.
CellResult run_cell(const BenchOptions& options, const CellSpec& spec, const PhaseReporter& phase);

}  // namespace kubenat::bench
