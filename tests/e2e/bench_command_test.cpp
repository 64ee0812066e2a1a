// `kubenat bench` end to end at a tiny size: every cell of every backend
// measures every figure into network namespaces of its own, the report files
// are written, and nothing is left behind. It asserts what was measured,
// never how long anything took.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/process.h"

namespace kubenat {
namespace {

class BenchCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    out_dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                         ("kubenat-bench-test-" + std::to_string(::getpid())));
    result_ = new std::expected<ProcessResult, std::string>(
        run_process({KUBENAT_BINARY, "bench", "--sizes", "50,100", "--runs", "2", "--connections", "50", "--out",
                     out_dir_->string()},
                    ProcessOptions{.input = {}, .timeout = std::chrono::minutes(5)}));
    std::ifstream file(*out_dir_ / "bench.json");
    report_ = new nlohmann::json(nlohmann::json::parse(file, nullptr, false));
  }
  static void TearDownTestSuite() {
    if (out_dir_ != nullptr) std::filesystem::remove_all(*out_dir_);
    delete out_dir_;
    delete result_;
    delete report_;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(result_->has_value()) << result_->error();
  }

  static const nlohmann::json* cell(int services, const std::string& backend) {
    for (const nlohmann::json& c : (*report_)["cells"]) {
      if (c["services"] == services && c["backend"] == backend) return &c;
    }
    return nullptr;
  }

  static std::size_t sample_count(const nlohmann::json& c, const std::string& figure) {
    if (!c["figures"].contains(figure)) return 0;
    return c["figures"][figure]["samples"].size();
  }

  // A floor's cell at 100 Services: both runs' data-plane figures, no
  // control-plane figure, and no connection that failed.
  static void expect_data_plane_figures_alone(const std::string& backend) {
    const nlohmann::json* c = cell(100, backend);
    ASSERT_NE(c, nullptr) << backend;
    EXPECT_EQ(sample_count(*c, "connect_latency_us"), 2u) << backend;
    EXPECT_EQ(sample_count(*c, "connections_per_second"), 2u) << backend;
    EXPECT_EQ(sample_count(*c, "full_sync_ms"), 0u) << backend;
    EXPECT_EQ((*c)["connection_failures"], 0) << backend;
  }

  static inline std::filesystem::path* out_dir_ = nullptr;
  static inline std::expected<ProcessResult, std::string>* result_ = nullptr;
  static inline nlohmann::json* report_ = nullptr;
};

TEST_F(BenchCommand, SucceedsAndPrintsATablePerFigure) {
  EXPECT_EQ((*result_)->exit_status, 0) << (*result_)->err;
  EXPECT_NE((*result_)->out.find("one-endpoint change (ms)"), std::string::npos) << (*result_)->out;
  EXPECT_NE((*result_)->out.find("| services | iptables | nftables | kube-proxy |"), std::string::npos);
}

TEST_F(BenchCommand, MeasuresEverySizeOnEveryBackendWithoutErrors) {
  ASSERT_FALSE(report_->is_discarded());
  EXPECT_EQ((*report_)["cells"].size(), 12u);
  for (int services : {50, 100}) {
    for (const char* backend : {"iptables", "nftables", "kube-proxy", "kube-proxy-nftables", "floor", "nat-floor"}) {
      const nlohmann::json* c = cell(services, backend);
      ASSERT_NE(c, nullptr) << backend << " " << services;
      EXPECT_TRUE((*c)["error"].is_null()) << backend << " " << services << ": " << (*c)["error"];
    }
  }
}

TEST_F(BenchCommand, KubenatBackendsHaveEveryControlAndDataPlaneFigure) {
  for (const char* backend : {"iptables", "nftables"}) {
    const nlohmann::json* c = cell(100, backend);
    ASSERT_NE(c, nullptr);
    for (const char* figure : {"compile_ms", "endpoint_change_ms", "endpoint_change_bytes", "service_add_ms",
                               "service_add_bytes", "connect_latency_us", "connect_latency_p99_us",
                               "connections_per_second"}) {
      EXPECT_EQ(sample_count(*c, figure), 2u) << backend << " " << figure;
    }
    EXPECT_EQ(sample_count(*c, "full_sync_ms"), 2u) << backend;
    EXPECT_EQ(sample_count(*c, "peak_memory_mib"), 1u) << backend;
    EXPECT_EQ((*c)["connection_failures"], 0) << backend;
  }
}

TEST_F(BenchCommand, NftablesBaselineHasControlAndDataPlaneFigures) {
  const nlohmann::json* c = cell(100, "kube-proxy-nftables");
  ASSERT_NE(c, nullptr);
  for (const char* figure : {"full_sync_ms", "endpoint_change_ms", "service_add_ms", "connect_latency_us"}) {
    EXPECT_EQ(sample_count(*c, figure), 2u) << figure;
  }
}

TEST_F(BenchCommand, FloorHasTheDataPlaneFiguresAlone) { expect_data_plane_figures_alone("floor"); }

// Its connections go to a Service address and reach the pod only through
// its DNAT rule: none failing means the rules were loaded and work.
TEST_F(BenchCommand, NatFloorHasTheDataPlaneFiguresAlone) { expect_data_plane_figures_alone("nat-floor"); }

TEST_F(BenchCommand, BaselineHasFullAndPartialSyncFiguresButNoDataPlane) {
  const nlohmann::json* c = cell(100, "kube-proxy");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(sample_count(*c, "full_sync_ms"), 2u);
  EXPECT_EQ(sample_count(*c, "endpoint_change_ms"), 2u);
  EXPECT_EQ(sample_count(*c, "service_add_ms"), 2u);
  EXPECT_EQ(sample_count(*c, "connect_latency_us"), 0u);
}

TEST_F(BenchCommand, ReportsTheBaselineRatioOfEachKubenatBackend) {
  int found = 0;
  for (const nlohmann::json& ratio : (*report_)["ratios"]) {
    if (ratio["figure"] == "endpoint_change_ms" && ratio["numerator"] == "kube-proxy" && ratio["services"] == 100) {
      EXPECT_GT(ratio["median"].get<double>(), 0);
      ++found;
    }
  }
  EXPECT_EQ(found, 2);  // over iptables and over nftables
}

TEST_F(BenchCommand, WritesTheTableAndAPlotPerPlottedFigure) {
  EXPECT_TRUE(std::filesystem::exists(*out_dir_ / "table.md"));
  for (const char* figure : {"full_sync_ms", "endpoint_change_ms", "connect_latency_us"}) {
    EXPECT_TRUE(std::filesystem::exists(*out_dir_ / (std::string(figure) + ".dat"))) << figure;
    EXPECT_GT(std::filesystem::file_size(*out_dir_ / (std::string(figure) + ".png")), 0u) << figure;
  }
}

TEST_F(BenchCommand, LeavesNoNamespaceBehind) {
  auto listed = run_process({"ip", "netns", "list"});
  ASSERT_TRUE(listed.has_value()) << listed.error();
  // A bench's namespaces are kn<its pid>b<cell>-<role>; those of a bench
  // that still runs (this test's twin in another process) are not leftovers.
  const std::regex bench_namespace("^kn([0-9]+)b[0-9]+-.*");
  std::istringstream names(listed->out);
  for (std::string line; std::getline(names, line);) {
    std::smatch match;
    if (!std::regex_match(line, match, bench_namespace)) continue;
    const bool running = ::kill(std::stoi(match[1].str()), 0) == 0;
    EXPECT_TRUE(running) << "left behind: " << line;
  }
}

}  // namespace
}  // namespace kubenat
