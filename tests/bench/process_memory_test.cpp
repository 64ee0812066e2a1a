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

}  // namespace
}  // namespace kubenat::bench
