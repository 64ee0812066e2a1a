// Reading `kubenat run`'s log: when its watches started, and each sync with
// its end, duration and kind.

#include "bench/daemon_log.h"

#include <gtest/gtest.h>

namespace kubenat::bench {
namespace {

using namespace std::chrono_literals;

WallClock::time_point at(int hours, int minutes, int seconds, int micros) {
  return WallClock::time_point(std::chrono::sys_days(std::chrono::year(2026) / 12 / 5).time_since_epoch()) +
         std::chrono::hours(hours) + std::chrono::minutes(minutes) + std::chrono::seconds(seconds) +
         std::chrono::microseconds(micros);
}

constexpr std::string_view kLog =
    "I1205 06:41:05.494532 serving /metrics, /proxyMode, /configz, /healthz on 127.0.0.1:10249 (port 10249)\n"
    "I1205 06:41:05.496915 kubenat run: node node-0, nftables table ip kubenat, API server http://127.0.0.1:1\n"
    "I1205 06:41:05.730836 full sync (first sync): 24066 elements added, 0 removed, 26 chains and 84 sets "
    "written, 0 deleted, 835612 netlink bytes in 1 transaction, compiled in 15.5 ms, 115.518676 ms\n"
    "I1205 06:41:06.000500 partial sync: 1 elements added, 0 removed, 0 chains and 0 sets written, 0 deleted, "
    "300 netlink bytes in 1 transaction, 0.500000 ms\n"
    "E1205 06:41:07.100000 sync failed after 100.000000 ms: nftables: table busy (service ns1/svc1 port http)\n"
    "W1205 06:41:07.200000 watch services: skipped an event: bad\n"
    "I1205 06:41:07.300000 partial sync: cut short\n";

TEST(DaemonLog, ReadsWhenTheWatchesStarted) {
  const DaemonLog log = parse_daemon_log(kLog, 2026);
  ASSERT_TRUE(log.watch_started);
  EXPECT_EQ(*log.watch_started, at(6, 41, 5, 496915));
}

TEST(DaemonLog, ReadsEachSyncWithItsEndDurationAndKindAndSkipsOtherLines) {
  const DaemonLog log = parse_daemon_log(kLog, 2026);
  ASSERT_EQ(log.syncs.size(), 3u);
  EXPECT_TRUE(log.syncs[0].full);
  EXPECT_TRUE(log.syncs[0].ok);
  EXPECT_EQ(log.syncs[0].reason, "first sync");
  EXPECT_EQ(log.syncs[0].end, at(6, 41, 5, 730836));
  EXPECT_EQ(log.syncs[0].duration, 115518676ns);
  EXPECT_FALSE(log.syncs[1].full);
  EXPECT_EQ(log.syncs[1].start(), at(6, 41, 6, 0));
  EXPECT_FALSE(log.syncs[2].ok);
  EXPECT_EQ(log.syncs[2].start(), at(6, 41, 7, 0));
}

TEST(DaemonLog, ReadsTheCompilesShareOfASyncWhereTheLineHasIt) {
  const DaemonLog log = parse_daemon_log(kLog, 2026);
  ASSERT_EQ(log.syncs.size(), 3u);
  EXPECT_EQ(log.syncs[0].compile_duration, 15500000ns);
  EXPECT_EQ(log.syncs[1].compile_duration, std::nullopt);
}

TEST(DaemonLog, ALineWithoutAKlogTimeIsNotRead) {
  EXPECT_FALSE(parse_log_time("kubenat run: bad flag", 2026));
  EXPECT_FALSE(parse_log_time("I1305 06:41:05.496915 month 13", 2026));
  EXPECT_TRUE(parse_daemon_log("partial sync: 1 ms\n", 2026).syncs.empty());
}

}  // namespace
}  // namespace kubenat::bench
