#pragma once

// A whole `kubenat bench`: every size on every backend, each cell in a
// child process of its own (bench/isolated_run.h) so that its peak memory
// is its own and a crash costs that cell only. Sizes ascend and backends
// follow the flags' order, so the cheap cells come first.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_cell.h"
#include "bench/bench_options.h"
#include "bench/bench_results.h"

namespace kubenat::bench {

struct SuiteObserver {
  std::function<void(const CellSpec& cell)> cell_started;
  std::function<void(std::string_view phase)> phase;
  std::function<void()> idle;  // about once a second while a cell sends nothing
  std::function<void(const CellResult& cell)> cell_finished;
  // True stops the bench: the running cell's process is killed and no
  // other cell starts.
  std::function<bool()> cancelled;
};

// The cells in the order they run; cell i's namespaces are named
// "<namespace_prefix><i>-<role>".
std::vector<CellSpec> plan_cells(const BenchOptions& options, std::string_view namespace_prefix);

// Runs every cell, until cancelled. A cell that fails, crashes or cannot
// start comes back with its error (and the figures it measured before); the
// others still run. Removes any namespace a cell left behind.
std::vector<CellResult> run_bench_suite(const BenchOptions& options, const SuiteObserver& observer);

}  // namespace kubenat::bench
