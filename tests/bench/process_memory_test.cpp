// A process's memory from /proc/<pid>/status.

#include "bench/process_memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace kubenat::bench {
namespace {

constexpr std::string_view kStatus =
    "Name:\tkubenat\nVmPeak:\t  400000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
    "RssAnon:\t   81920 kB\nRssFile:\t   20480 kB\nThreads:\t9\n";

TEST(ProcessMemory, ReadsResidentPeakAnonymousAndThreadsInMiB) {
  auto memory = parse_process_status(kStatus);
  ASSERT_TRUE(memory) << memory.error();
  EXPECT_DOUBLE_EQ(memory->rss_mib, 100);
  EXPECT_DOUBLE_EQ(memory->hwm_mib, 200);
  EXPECT_DOUBLE_EQ(memory->rss_anon_mib, 80);
  EXPECT_EQ(memory->threads, 9);
  EXPECT_EQ(memory->open_fds, -1);
}

TEST(ProcessMemory, AMissingFieldIsNamed) {
  auto memory = parse_process_status("Name:\tx\nVmRSS:\t1 kB\n");
  ASSERT_FALSE(memory);
  EXPECT_NE(memory.error().find("VmHWM"), std::string::npos) << memory.error();
}

TEST(ProcessMemory, ReadsThisProcessWithItsOpenFiles) {
  auto memory = read_process_memory(static_cast<int>(::getpid()));
  ASSERT_TRUE(memory) << memory.error();
  EXPECT_GT(memory->rss_mib, 0);
  EXPECT_GE(memory->hwm_mib, memory->rss_mib);
  EXPECT_GE(memory->open_fds, 3);  // standard input, output and error at least
}

TEST(ProcessMemory, AProcessThatIsGoneIsAnError) { EXPECT_FALSE(read_process_memory(-1)); }

TEST(ProcessCpu, ReadsOwnAndWaitedForChildrensTicksAfterACommandNameWithSpacesAndParentheses) {
  // Fields 14 to 17: utime 250, stime 50, cutime 30, cstime 20 ticks.
  const std::string stat =
      "4242 (kube nat (run)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 30 20 20 0 12 0 100 1000000 500";
  auto cpu = parse_process_stat_cpu(stat, 100);
  ASSERT_TRUE(cpu) << cpu.error();
  EXPECT_DOUBLE_EQ(cpu->own_seconds, 3.0);
  EXPECT_DOUBLE_EQ(cpu->children_seconds, 0.5);
  EXPECT_DOUBLE_EQ(cpu->total(), 3.5);
}

TEST(ProcessCpu, AShortStatIsAnError) {
  auto cpu = parse_process_stat_cpu("4242 (kubenat) S 1 4242", 100);
  ASSERT_FALSE(cpu);
  EXPECT_NE(cpu.error().find("cstime"), std::string::npos) << cpu.error();
}

TEST(ProcessCpu, ReadsThisProcess) {
  auto cpu = read_process_cpu(static_cast<int>(::getpid()));
  ASSERT_TRUE(cpu) << cpu.error();
  EXPECT_GE(cpu->own_seconds, 0);
}

}  // namespace
}  // namespace kubenat::bench
