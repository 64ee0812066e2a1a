// `kubenat bench --scenario soak` end to end, short and small: kubenat run
// in a namespace against the simulator, changes for a few seconds on both
// backends, the report written, the final rules equal to a fresh daemon's,
// and nothing left behind. It asserts what was measured, never how much
// memory or time anything took.

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/process.h"

namespace kubenat {
namespace {

class BenchSoakCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    out_dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                         ("kubenat-bench-soak-test-" + std::to_string(::getpid())));
    result_ = new std::expected<ProcessResult, std::string>(run_process(
        {KUBENAT_BINARY, "bench", "--scenario", "soak", "--backends", "iptables,nftables", "--services", "200",
         "--soak-duration", "10s", "--soak-rate", "20", "--soak-sample-interval", "5s", "--out", out_dir_->string()},
        ProcessOptions{.input = {}, .timeout = std::chrono::minutes(5)}));
    std::ifstream file(*out_dir_ / "soak.json");
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
    ASSERT_FALSE(report_->is_discarded()) << (*result_)->out << (*result_)->err;
  }

  static inline std::filesystem::path* out_dir_ = nullptr;
  static inline std::expected<ProcessResult, std::string>* result_ = nullptr;
  static inline nlohmann::json* report_ = nullptr;
};

// ctest runs each test in a process of its own, each running the bench
// once: few tests, each asserting a group of things.

TEST_F(BenchSoakCommand, SoaksEachBackendWithoutFailuresEndingWithTheRulesOfAFreshDaemon) {
  EXPECT_EQ((*result_)->exit_status, 0) << (*result_)->err;
  EXPECT_NE((*result_)->out.find("| final rules equal to a fresh daemon's | yes"), std::string::npos)
      << (*result_)->out;
  ASSERT_EQ((*report_)["soaks"].size(), 2u);
  for (const nlohmann::json& soak : (*report_)["soaks"]) {
    const std::string backend = soak["backend"];
    EXPECT_TRUE(soak["error"].is_null()) << backend << ": " << soak["error"];
    EXPECT_EQ(soak["final_counters"]["failed_syncs"], 0) << backend;
    EXPECT_GT(soak["final_counters"]["syncs"].get<int>(), 1) << backend;
    EXPECT_EQ(soak["daemon_exit_status"], 0) << backend;
    EXPECT_TRUE(soak["final_state"]["compared"].get<bool>()) << backend << ": " << soak["final_state"]["detail"];
    EXPECT_TRUE(soak["final_state"]["equal"].get<bool>()) << backend << ": " << soak["final_state"]["detail"];
    EXPECT_GT(soak["final_state"]["lines"].get<int>(), 0) << backend;
  }
}

TEST_F(BenchSoakCommand, ReportsTheChangesTheDaemonsMemoryOverTimeAndItsLogs) {
  for (const nlohmann::json& soak : (*report_)["soaks"]) {
    const std::string backend = soak["backend"];
    EXPECT_GT(soak["changes"]["endpoints"].get<int>(), 0) << backend;
    EXPECT_GT(soak["changes"]["services"].get<int>(), 0) << backend;
    EXPECT_EQ(soak["changes"]["refused"], 0) << backend << ": " << soak["changes"]["first_refusal"];
    ASSERT_GE(soak["samples"].size(), 3u) << backend;
    EXPECT_GT(soak["samples"].back()["rss_mib"].get<double>(), 0) << backend;
    EXPECT_GT(soak["samples"].back()["hwm_mib"].get<double>(), 0) << backend;
  }
  for (const char* file :
       {"soak.md", "soak_memory.dat", "soak-nftables/daemon.log", "soak-iptables/fresh-daemon.log"}) {
    EXPECT_TRUE(std::filesystem::exists(*out_dir_ / file)) << file;
  }
}

TEST_F(BenchSoakCommand, LeavesNoNamespaceOrDaemonBehind) {
  auto listed = run_process({"ip", "netns", "list"});
  ASSERT_TRUE(listed.has_value()) << listed.error();
  // A soak's namespaces are kn<the bench's pid>b<i>-soak and -fresh; those of
  // a bench that still runs (in another process) are not leftovers.
  const std::regex soak_namespace("^kn([0-9]+)b[0-9]+-(soak|fresh).*");
  std::istringstream names(listed->out);
  for (std::string line; std::getline(names, line);) {
    std::smatch match;
    if (!std::regex_match(line, match, soak_namespace)) continue;
    EXPECT_EQ(::kill(std::stoi(match[1].str()), 0), 0) << "left behind: " << line;
  }
  // The daemons ran with kubeconfigs in the output directory.
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find(out_dir_->string() + "/soak-"), std::string::npos) << "still running: " << entry.path();
  }
}

}  // namespace
}  // namespace kubenat
