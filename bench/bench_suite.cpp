#include "bench/bench_suite.h"

#include <unistd.h>

#include <filesystem>

#include "bench/isolated_run.h"
#include "engine/process.h"

namespace kubenat::bench {
namespace {

// A cell that died leaves its namespaces (and the rules in them) behind.
void remove_leftover_namespaces(const BenchOptions& options, const CellSpec& spec) {
  for (const std::string& name : cell_namespace_names(options, spec)) {
    if (!std::filesystem::exists("/run/netns/" + name)) continue;
    (void)run_process({"ip", "netns", "del", name});
  }
}

}  // namespace

std::vector<CellSpec> plan_cells(const BenchOptions& options, std::string_view namespace_prefix) {
  std::vector<CellSpec> cells;
  for (int services : options.sizes) {
    for (BenchBackend backend : options.backends) {
      // The floor has nothing to measure but the data plane.
      if ((backend == BenchBackend::Floor || backend == BenchBackend::NatFloor) && !options.dataplane) continue;
      const std::string prefix = std::string(namespace_prefix) + std::to_string(cells.size());
      cells.push_back(CellSpec{services, backend, prefix});
    }
  }
  return cells;
}

std::vector<CellResult> run_bench_suite(const BenchOptions& options, const SuiteObserver& observer) {
  // Unique per process, so that two benches (or a bench and the tests) can
  // run side by side; "kn<pid>b<cell>-<role>" is the tests' naming
  // (tests/e2e/cleanup_stale_namespaces.sh), so a killed bench's namespaces
  // are swept like a killed test's.
  const std::string prefix = "kn" + std::to_string(::getpid()) + "b";
  std::vector<CellResult> results;
  for (const CellSpec& spec : plan_cells(options, prefix)) {
    if (observer.cancelled && observer.cancelled()) break;
    if (observer.cell_started) observer.cell_started(spec);
    IsolatedRunHooks hooks;
    hooks.on_message = [&](const nlohmann::json& message) {
      if (observer.phase && message.contains("phase") && message["phase"].is_string()) {
        observer.phase(message["phase"].get<std::string>());
      }
    };
    hooks.on_idle = observer.idle;
    hooks.cancelled = observer.cancelled;
    auto outcome = run_isolated(
        [&](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
          const CellResult cell = run_cell(options, spec, [&](std::string_view phase) {
            channel.send({{"phase", std::string(phase)}});
          });
          return cell_to_json(cell);
        },
        hooks);
    remove_leftover_namespaces(options, spec);

    CellResult cell;
    cell.services = spec.services;
    cell.backend = spec.backend;
    if (!outcome) {
      cell.error = "the cell's process failed: " + outcome.error();
    } else if (auto parsed = cell_from_json(*outcome); !parsed) {
      cell.error = parsed.error();
    } else {
      cell = std::move(*parsed);
    }
    if (observer.cell_finished) observer.cell_finished(cell);
    results.push_back(std::move(cell));
  }
  return results;
}

}  // namespace kubenat::bench
