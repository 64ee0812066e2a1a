// Which kernel settings kubenat makes at start-up, as kube-proxy makes them,
// and that a setting it cannot make costs nothing else.

#include "engine/daemon/node_sysctls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_sysctl_files.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

constexpr const char* kMax = "/proc/sys/net/netfilter/nf_conntrack_max";
constexpr const char* kHashsize = "/sys/module/nf_conntrack/parameters/hashsize";
constexpr const char* kEstablished = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established";
constexpr const char* kCloseWait = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close_wait";
constexpr const char* kLiberal = "/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal";
constexpr const char* kUdp = "/proc/sys/net/netfilter/nf_conntrack_udp_timeout";
constexpr const char* kUdpStream = "/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream";
constexpr const char* kRouteLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet";

std::vector<std::string> paths(const std::vector<SysctlSetting>& settings) {
  std::vector<std::string> out;
  for (const SysctlSetting& setting : settings) out.push_back(setting.path);
  return out;
}

long value_of(const std::vector<SysctlSetting>& settings, const std::string& path) {
  for (const SysctlSetting& setting : settings) {
    if (setting.path == path) return setting.value;
  }
  ADD_FAILURE() << "no setting " << path;
  return -1;
}

TEST(NodeSysctls, KubeProxysDefaultsSetTheTableAndBothTcpTimeouts) {
  const auto settings = node_sysctls(ConntrackSettings{}, 2, false);
  EXPECT_THAT(paths(settings), ElementsAre(kMax, kHashsize, kEstablished, kCloseWait));
  EXPECT_EQ(value_of(settings, kEstablished), 86400);
  EXPECT_EQ(value_of(settings, kCloseWait), 3600);
}

TEST(NodeSysctls, TheTableIsMaxPerCoreTimesCoresWhenThatIsAboveMin) {
  const auto settings = node_sysctls(ConntrackSettings{}, 8, false);
  EXPECT_EQ(value_of(settings, kMax), 8 * 32768);
  EXPECT_EQ(value_of(settings, kHashsize), 8 * 32768 / 4);
}

TEST(NodeSysctls, TheTableIsMinWhenCoresGiveLess) {
  EXPECT_EQ(value_of(node_sysctls(ConntrackSettings{}, 2, false), kMax), 131072);
}

TEST(NodeSysctls, ZeroMaxPerCoreLeavesTheTableAloneWhateverMinSays) {
  ConntrackSettings conntrack;
  conntrack.max_per_core = 0;
  conntrack.min = 1'000'000;
  EXPECT_THAT(paths(node_sysctls(conntrack, 2, false)), ElementsAre(kEstablished, kCloseWait));
}

TEST(NodeSysctls, ZeroTimeoutsAreLeftAlone) {
  ConntrackSettings conntrack;
  conntrack.max_per_core = 0;
  conntrack.tcp_established_timeout = 0s;
  conntrack.tcp_close_wait_timeout = 0s;
  EXPECT_THAT(node_sysctls(conntrack, 2, false), IsEmpty());
}

TEST(NodeSysctls, LiberalModeAndUdpTimeoutsOnlyWhenConfigured) {
  ConntrackSettings conntrack;
  conntrack.tcp_be_liberal = true;
  conntrack.udp_timeout = 45s;
  conntrack.udp_stream_timeout = 150s;
  const auto settings = node_sysctls(conntrack, 2, false);
  EXPECT_THAT(paths(settings), ElementsAre(kMax, kHashsize, kEstablished, kCloseWait, kLiberal, kUdp, kUdpStream));
  EXPECT_EQ(value_of(settings, kLiberal), 1);
  EXPECT_EQ(value_of(settings, kUdp), 45);
  EXPECT_EQ(value_of(settings, kUdpStream), 150);
}

TEST(NodeSysctls, LocalhostNodePortsNeedRouteLocalnet) {
  const auto settings = node_sysctls(ConntrackSettings{}, 2, true);
  EXPECT_EQ(paths(settings).back(), kRouteLocalnet);
  EXPECT_EQ(value_of(settings, kRouteLocalnet), 1);
}

TEST(ApplyNodeSysctls, WritesWhatDiffersAndSaysWhatItWas) {
  FakeSysctlFiles files;
  files.values = {{kCloseWait, 60}};
  const auto outcomes = apply_node_sysctls({{kCloseWait, 3600, false}}, files);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].result, SysctlOutcome::Result::Set);
  EXPECT_EQ(files.values[kCloseWait], 3600);
  EXPECT_EQ(outcomes[0].to_string(), "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 3600 (was 60)");
}

TEST(ApplyNodeSysctls, LowersATimeoutAsKubeProxyDoes) {
  FakeSysctlFiles files;
  files.values = {{kEstablished, 432000}};
  apply_node_sysctls({{kEstablished, 86400, false}}, files);
  EXPECT_EQ(files.values[kEstablished], 86400);
}

TEST(ApplyNodeSysctls, NeverLowersTheConntrackTable) {
  FakeSysctlFiles files;
  files.values = {{kMax, 262144}, {kHashsize, 65536}};
  const auto outcomes = apply_node_sysctls(node_sysctls(ConntrackSettings{}, 2, false), files);
  EXPECT_EQ(files.values[kMax], 262144);
  EXPECT_EQ(files.values[kHashsize], 65536);
  EXPECT_EQ(outcomes[0].result, SysctlOutcome::Result::Unchanged);
  EXPECT_EQ(outcomes[0].to_string(), "net.netfilter.nf_conntrack_max = 262144, at least 131072 wanted: left as it is");
}

TEST(ApplyNodeSysctls, RaisesASmallerTableAndItsHashSize) {
  FakeSysctlFiles files;
  files.values = {{kMax, 65536}, {kHashsize, 16384}};
  apply_node_sysctls(node_sysctls(ConntrackSettings{}, 2, false), files);
  EXPECT_EQ(files.values[kMax], 131072);
  EXPECT_EQ(files.values[kHashsize], 32768);
}

TEST(ApplyNodeSysctls, WritesNothingThatIsAlreadySet) {
  FakeSysctlFiles files;
  files.values = {{kCloseWait, 3600}, {kRouteLocalnet, 1}};
  const auto outcomes = apply_node_sysctls({{kCloseWait, 3600, false}, {kRouteLocalnet, 1, false}}, files);
  EXPECT_THAT(files.writes, IsEmpty());
  EXPECT_EQ(outcomes[1].to_string(), "net.ipv4.conf.all.route_localnet = 1 already");
}

TEST(ApplyNodeSysctls, AReadOnlySettingFailsAloneAndTheRestAreStillMade) {
  FakeSysctlFiles files;
  files.values = {{kMax, 65536}, {kCloseWait, 60}};
  files.read_only = {kMax};
  const auto outcomes = apply_node_sysctls({{kMax, 131072, true}, {kCloseWait, 3600, false}}, files);
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].result, SysctlOutcome::Result::Failed);
  EXPECT_EQ(outcomes[0].to_string(), "cannot set net.netfilter.nf_conntrack_max to 131072: cannot open " +
                                         std::string(kMax) + ": Read-only file system");
  EXPECT_EQ(outcomes[1].result, SysctlOutcome::Result::Set);
  EXPECT_EQ(files.values[kCloseWait], 3600);
}

TEST(ApplyNodeSysctls, AnUnreadableSettingIsStillWritten) {
  FakeSysctlFiles files;
  const auto outcomes = apply_node_sysctls({{kUdp, 45, false}}, files);
  EXPECT_EQ(outcomes[0].result, SysctlOutcome::Result::Set);
  EXPECT_EQ(outcomes[0].to_string(), "net.netfilter.nf_conntrack_udp_timeout = 45");
}

}  // namespace
}  // namespace kubenat
