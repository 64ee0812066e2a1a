// `kubenat bench --scenario daemon` end to end, short and small: kubenat run
// in a namespace against the simulator at 100 Services on both backends, a
// few seconds of changes and a small burst, the report written and nothing
// left behind. It asserts what was measured, never how long anything took.

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/process.h"

namespace kubenat {
namespace {

TEST(BenchDaemonCommand, TimesEachBackendsColdStartChangesAndBurstFromTheDaemonsLog) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / ("kubenat-bench-daemon-test-" + std::to_string(::getpid()));
  auto result = run_process({KUBENAT_BINARY, "bench", "--scenario", "daemon", "--sizes", "100", "--daemon-duration",
                             "3s", "--daemon-burst", "50", "--out", out.string()},
                            ProcessOptions{.input = {}, .timeout = std::chrono::minutes(3)});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->exit_status, 0) << result->err;
  std::ifstream file(out / "daemon.json");
  const nlohmann::json report = nlohmann::json::parse(file, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << result->out << result->err;
  ASSERT_EQ(report["runs"].size(), 2u);
  for (const nlohmann::json& run : report["runs"]) {
    const std::string backend = run["backend"];
    EXPECT_TRUE(run["error"].is_null()) << backend << ": " << run["error"];
    EXPECT_GT(run["cold_start_seconds"].get<double>(), 0) << backend;
    EXPECT_FALSE(run["list_seconds"].is_null()) << backend;
    EXPECT_GT(run["after_first_sync"]["hwm_mib"].get<double>(), 0) << backend;
    for (const char* phase : {"steady", "burst"}) {
      const nlohmann::json& latency = run[phase]["latency"];
      EXPECT_GT(latency["changes"].get<int>(), 0) << backend << " " << phase;
      EXPECT_EQ(latency["applied"], latency["changes"]) << backend << " " << phase;
      EXPECT_GE(latency["syncs"].get<int>(), 1) << backend << " " << phase;
    }
    EXPECT_EQ(run["burst"]["changes"]["service_created"], 50) << backend;
    EXPECT_EQ(run["daemon_exit_status"], 0) << backend;
  }
  EXPECT_TRUE(std::filesystem::exists(out / "table.md"));
  EXPECT_TRUE(std::filesystem::exists(out / "daemon-nftables-100" / "daemon.log"));
  // Its namespaces are kn<the bench's pid>b<i>-daemon; those of a bench that
  // still runs (in another process) are not leftovers.
  auto namespaces = run_process({"ip", "netns", "list"});
  ASSERT_TRUE(namespaces) << namespaces.error();
  const std::regex daemon_namespace("^kn([0-9]+)b[0-9]+-daemon.*");
  std::istringstream names(namespaces->out);
  for (std::string line; std::getline(names, line);) {
    std::smatch match;
    if (std::regex_match(line, match, daemon_namespace)) {
      EXPECT_EQ(::kill(std::stoi(match[1].str()), 0), 0) << "left behind: " << line;
    }
  }
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace kubenat
