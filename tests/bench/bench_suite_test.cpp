#include "bench/bench_suite.h"

#include <gtest/gtest.h>

namespace kubenat::bench {
namespace {

TEST(PlanCells, RunsEveryBackendAtEachSizeSmallestSizeFirst) {
  BenchOptions options;
  options.sizes = {1000, 10000};
  options.backends = {BenchBackend::Nftables, BenchBackend::KubeProxy};
  const std::vector<CellSpec> cells = plan_cells(options, "kn42b");
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[0].services, 1000);
  EXPECT_EQ(cells[0].backend, BenchBackend::Nftables);
  EXPECT_EQ(cells[1].backend, BenchBackend::KubeProxy);
  EXPECT_EQ(cells[3].services, 10000);
  EXPECT_EQ(cells[3].backend, BenchBackend::KubeProxy);
}

TEST(PlanCells, GivesEachCellItsOwnNamespacePrefix) {
  BenchOptions options;
  options.sizes = {10, 20};
  const std::vector<CellSpec> cells = plan_cells(options, "kn42b");
  EXPECT_EQ(cells[0].namespace_prefix, "kn42b0");
  EXPECT_EQ(cells[5].namespace_prefix, "kn42b5");
}

TEST(CellNamespaceNames, CoverEveryFullSyncSampleAndTheKeptAndDataPlaneNamespaces) {
  BenchOptions options;
  options.runs = 5;  // full syncs: 3
  const std::vector<std::string> names = cell_namespace_names(options, CellSpec{10, BenchBackend::Iptables, "kn42b0"});
  const std::vector<std::string> expected = {"kn42b0-fs0",  "kn42b0-fs1",    "kn42b0-fs2", "kn42b0-rules",
                                             "kn42b0-node", "kn42b0-client", "kn42b0-pod"};
  EXPECT_EQ(names, expected);
}

}  // namespace
}  // namespace kubenat::bench
