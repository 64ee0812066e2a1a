// run_isolated forks: the work runs in a child, whose messages, result and
// manner of death come back to the parent. Nothing here asserts in the child
// (a failed expectation there would not reach the test); the child only
// does or reports things, and the parent checks what came back.

#include "bench/isolated_run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kubenat::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A crashing child should not leave a core file behind or take long
// writing one.
void no_core_dump() {
  const rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

TEST(IsolatedRun, ResultComesBack) {
  auto result = run_isolated([](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
    return nlohmann::json{{"answer", 42}, {"pid", ::getpid()}};
  });
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->at("answer"), 42);
}

TEST(IsolatedRun, WorkRunsInAnotherProcess) {
  auto result = run_isolated(
      [](ChildChannel&) -> std::expected<nlohmann::json, std::string> { return nlohmann::json(::getpid()); });
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_NE(result->get<int>(), ::getpid());
}

TEST(IsolatedRun, WorkDoesNotChangeTheParentsMemory) {
  int counter = 0;
  auto result = run_isolated([&counter](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
    counter = 99;
    return nlohmann::json(counter);
  });
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(*result, 99);
  EXPECT_EQ(counter, 0);
}

TEST(IsolatedRun, MessagesArriveInOrderBeforeTheResult) {
  std::vector<std::string> seen;
  IsolatedRunHooks hooks;
  hooks.on_message = [&seen](const nlohmann::json& message) { seen.push_back(message.at("step").get<std::string>()); };
  auto result = run_isolated(
      [](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
        for (const char* step : {"compile", "full sync", "endpoint change"}) channel.send({{"step", step}});
        return nlohmann::json("done");
      },
      hooks);
  ASSERT_TRUE(result.has_value()) << result.error();
  // The result is returned after the loop that delivers messages: every one
  // of them was seen by then.
  EXPECT_THAT(seen, ElementsAre("compile", "full sync", "endpoint change"));
  EXPECT_EQ(*result, "done");
}

TEST(IsolatedRun, ManyMessagesArriveAllAndInOrder) {
  // More than one pipe read's worth, so lines are split across reads.
  constexpr int kMessages = 5000;
  std::vector<int> seen;
  IsolatedRunHooks hooks;
  hooks.on_message = [&seen](const nlohmann::json& message) { seen.push_back(message.at("i").get<int>()); };
  auto result = run_isolated(
      [](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
        const std::string padding(100, 'x');
        for (int i = 0; i < kMessages; ++i) channel.send({{"i", i}, {"padding", padding}});
        return nlohmann::json(true);
      },
      hooks);
  ASSERT_TRUE(result.has_value()) << result.error();
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)], i);
}

TEST(IsolatedRun, MessagesWithNewlinesInStringsArriveWhole) {
  std::vector<std::string> seen;
  IsolatedRunHooks hooks;
  hooks.on_message = [&seen](const nlohmann::json& message) { seen.push_back(message.at("text").get<std::string>()); };
  auto result = run_isolated(
      [](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
        channel.send({{"text", "line one\nline two"}});
        return nlohmann::json("multi\nline");
      },
      hooks);
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_THAT(seen, ElementsAre("line one\nline two"));
  EXPECT_EQ(*result, "multi\nline");
}

TEST(IsolatedRun, AMessageWithAnErrorFieldStillReachesOnMessage) {
  std::vector<nlohmann::json> seen;
  IsolatedRunHooks hooks;
  hooks.on_message = [&seen](const nlohmann::json& message) { seen.push_back(message); };
  auto result = run_isolated(
      [](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
        channel.send({{"step", "connect"}, {"error", "one connect timed out, retrying"}});
        return nlohmann::json("done");
      },
      hooks);
  ASSERT_TRUE(result.has_value()) << result.error();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].at("error"), "one connect timed out, retrying");
}

TEST(IsolatedRun, ErrorReturnedByWorkComesBackAsTheError) {
  auto result = run_isolated([](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
    return std::unexpected("iptables-restore failed: line 3");
  });
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), "iptables-restore failed: line 3");
}

TEST(IsolatedRun, MessagesBeforeAnErrorStillArrive) {
  int messages = 0;
  IsolatedRunHooks hooks;
  hooks.on_message = [&messages](const nlohmann::json&) { ++messages; };
  auto result = run_isolated(
      [](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
        channel.send({{"step", "compile"}});
        channel.send({{"step", "apply"}});
        return std::unexpected("apply failed");
      },
      hooks);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), "apply failed");
  EXPECT_EQ(messages, 2);
}

TEST(IsolatedRun, ExceptionThrownByWorkIsReported) {
  auto result = run_isolated(
      [](ChildChannel&) -> std::expected<nlohmann::json, std::string> { throw std::runtime_error("vector too long"); });
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("exception"));
  EXPECT_THAT(result.error(), HasSubstr("vector too long"));
}

TEST(IsolatedRun, ExceptionOfUnknownTypeIsReported) {
  auto result = run_isolated([](ChildChannel&) -> std::expected<nlohmann::json, std::string> { throw 17; });
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("exception"));
}

TEST(IsolatedRun, ChildKilledBySegfaultIsReportedWithTheSignal) {
  auto result = run_isolated([](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
    no_core_dump();
    // The default action, not a sanitizer's handler that reports and exits.
    std::signal(SIGSEGV, SIG_DFL);
    std::raise(SIGSEGV);
    return nlohmann::json("unreachable");
  });
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("killed by signal 11"));
  EXPECT_THAT(result.error(), HasSubstr("Segmentation fault"));
}

TEST(IsolatedRun, ChildThatAbortsIsReportedAsKilledBySigabrt) {
  auto result = run_isolated([](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
    no_core_dump();
    std::abort();
  });
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("killed by signal " + std::to_string(SIGABRT)));
}

TEST(IsolatedRun, ChildThatCrashesAfterMessagesIsStillReportedAsKilled) {
  int messages = 0;
  IsolatedRunHooks hooks;
  hooks.on_message = [&messages](const nlohmann::json&) { ++messages; };
  auto result = run_isolated(
      [](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
        channel.send({{"step", "compile"}});
        no_core_dump();
        std::raise(SIGKILL);
        return nlohmann::json("unreachable");
      },
      hooks);
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("killed by signal " + std::to_string(SIGKILL)));
  EXPECT_EQ(messages, 1);
}

TEST(IsolatedRun, ChildThatExitsWithoutAResultReportsItsStatus) {
  auto result = run_isolated([](ChildChannel&) -> std::expected<nlohmann::json, std::string> { ::_exit(3); });
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("exited with status 3"));
  EXPECT_THAT(result.error(), HasSubstr("before sending a result"));
}

TEST(IsolatedRun, ChildThatExitsCleanlyWithoutAResultIsAnError) {
  auto result = run_isolated([](ChildChannel&) -> std::expected<nlohmann::json, std::string> { ::_exit(0); });
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("exited with status 0"));
}

TEST(IsolatedRun, AMessageNeedNotBeAnObject) {
  std::vector<nlohmann::json> seen;
  IsolatedRunHooks hooks;
  hooks.on_message = [&seen](const nlohmann::json& message) { seen.push_back(message); };
  auto result = run_isolated(
      [](ChildChannel& channel) -> std::expected<nlohmann::json, std::string> {
        channel.send(nlohmann::json(42));
        return nlohmann::json("done");
      },
      hooks);
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(seen, std::vector<nlohmann::json>{nlohmann::json(42)});
}

TEST(IsolatedRun, OnIdleIsCalledWhileTheChildSleeps) {
  int idles = 0;
  IsolatedRunHooks hooks;
  hooks.on_idle = [&idles] { ++idles; };
  hooks.idle_interval = 10ms;
  auto result = run_isolated(
      [](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
        std::this_thread::sleep_for(300ms);
        return nlohmann::json("awake");
      },
      hooks);
  ASSERT_TRUE(result.has_value()) << result.error();
  // 300 ms of silence in 10 ms intervals: well over a handful, even on a
  // loaded machine.
  EXPECT_GE(idles, 5);
}

TEST(IsolatedRun, OnIdleIsNotNeededForTheResult) {
  IsolatedRunHooks hooks;
  hooks.idle_interval = 10ms;  // no on_idle set: silence must not crash the parent
  auto result = run_isolated(
      [](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
        std::this_thread::sleep_for(50ms);
        return nlohmann::json(1);
      },
      hooks);
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(*result, 1);
}

TEST(IsolatedRun, ACancelledRunKillsTheChildAndReportsItsDeath) {
  IsolatedRunHooks hooks;
  hooks.idle_interval = 10ms;
  hooks.cancelled = [] { return true; };
  auto result = run_isolated(
      [](ChildChannel&) -> std::expected<nlohmann::json, std::string> {
        std::this_thread::sleep_for(30s);
        return nlohmann::json("too late");
      },
      hooks);
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), HasSubstr("killed by signal 9"));
}

}  // namespace
}  // namespace kubenat::bench
