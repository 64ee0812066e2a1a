// Self-tests of the network-namespace harness: the world is wired as
// netns_world.h says, the probe classifies what it gets, and worlds come and
// go without leaving anything behind.

#include "tests/e2e/netns_world.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace kubenat::e2e {
namespace {

// The namespaces `ip netns list` shows, by name.
std::vector<std::string> listed_namespaces() {
  std::vector<std::string> names;
  auto listed = run_process({"ip", "netns", "list"});
  if (!listed) return names;
  std::size_t start = 0;
  while (start < listed->out.size()) {
    std::size_t end = listed->out.find('\n', start);
    if (end == std::string::npos) end = listed->out.size();
    const std::string line = listed->out.substr(start, end - start);
    if (!line.empty()) names.push_back(line.substr(0, line.find(' ')));
    start = end + 1;
  }
  return names;
}

int namespaces_with_prefix(const std::string& prefix) {
  int count = 0;
  for (const std::string& name : listed_namespaces()) count += name.starts_with(prefix + "-") ? 1 : 0;
  return count;
}

class NetnsWorldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto created = NetnsWorld::create(3);
    ASSERT_TRUE(created) << created.error();
    world_ = std::move(*created);
  }

  // Runs `command` in the node namespace and fails the test when it fails.
  void on_node(std::vector<std::string> command) {
    auto done = world_->exec_checked(world_->node_ns(), std::move(command));
    ASSERT_TRUE(done) << done.error();
  }

  std::unique_ptr<NetnsWorld> world_;
};

TEST_F(NetnsWorldTest, EveryPodAnswersTcpOnItsOwnIpFromTheClient) {
  for (int i = 0; i < world_->pods(); ++i) ASSERT_TRUE(world_->start_echo(i));
  for (int i = 0; i < world_->pods(); ++i) {
    auto result = world_->tcp(world_->client_ns(), world_->pod_ip(i), 8080, {.count = 5});
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(result->answers, (std::map<std::string, int>{{world_->pod_name(i), 5}})) << *result;
  }
}

TEST_F(NetnsWorldTest, EveryPodAnswersUdpOnItsOwnIpFromTheClient) {
  for (int i = 0; i < world_->pods(); ++i) ASSERT_TRUE(world_->start_echo(i));
  for (int i = 0; i < world_->pods(); ++i) {
    auto result = world_->udp(world_->client_ns(), world_->pod_ip(i), 8080, {.count = 5});
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(result->answers, (std::map<std::string, int>{{world_->pod_name(i), 5}})) << *result;
  }
}

TEST_F(NetnsWorldTest, PodsReachEachOtherByPodIp) {
  ASSERT_TRUE(world_->start_echo(1));
  auto result = world_->tcp(world_->pod_ns(0), world_->pod_ip(1), 8080, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["pod-1"], 3) << *result;
}

TEST_F(NetnsWorldTest, PodToPodTrafficCrossesTheNodesForwardHook) {
  ASSERT_TRUE(world_->start_echo(1));
  on_node({"iptables", "-I", "FORWARD", "-d", world_->pod_ip(1), "-j", "DROP"});
  auto result = world_->tcp(world_->pod_ns(0), world_->pod_ip(1), 8080, {.count = 2, .timeout_ms = 200});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->timeouts, 2) << *result;
}

TEST_F(NetnsWorldTest, ClientReachesAServiceAddressThatTheNodeTranslates) {
  ASSERT_TRUE(world_->start_echo(2));
  on_node({"iptables", "-t", "nat", "-A", "PREROUTING", "-d", "10.96.0.10", "-p", "tcp", "--dport", "80", "-j", "DNAT",
           "--to-destination", world_->pod_ip(2) + ":8080"});
  auto result = world_->tcp(world_->client_ns(), "10.96.0.10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["pod-2"], 3) << *result;
}

TEST_F(NetnsWorldTest, NodeReachesAServiceAddressThatItsOutputHookTranslates) {
  ASSERT_TRUE(world_->start_echo(0));
  on_node({"iptables", "-t", "nat", "-A", "OUTPUT", "-d", "10.96.0.10", "-p", "tcp", "--dport", "80", "-j", "DNAT",
           "--to-destination", world_->pod_ip(0) + ":8080"});
  auto result = world_->tcp(world_->node_ns(), "10.96.0.10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["pod-0"], 3) << *result;
}

TEST_F(NetnsWorldTest, UntranslatedServiceTrafficFromTheClientIsUnreachableEveryTime) {
  auto result = world_->tcp(world_->client_ns(), "10.96.0.10", 80, {.count = 100});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 100) << *result;
}

TEST_F(NetnsWorldTest, UntranslatedLoadBalancerTrafficFromAPodIsUnreachable) {
  auto result = world_->udp(world_->pod_ns(0), "203.0.113.7", 53, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 3) << *result;
}

TEST_F(NetnsWorldTest, UntranslatedServiceTrafficFromTheNodeIsUnreachable) {
  auto result = world_->tcp(world_->node_ns(), "10.96.0.10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 3) << *result;
}

TEST_F(NetnsWorldTest, ForwardedServiceTrafficReachesTheNodesFilterRules) {
  // As kube-proxy rejects connections to a service without endpoints; 100
  // attempts, more than the default ICMP rate limit would let through.
  on_node({"iptables", "-A", "FORWARD", "-d", "10.96.0.10", "-j", "REJECT"});
  auto result = world_->tcp(world_->client_ns(), "10.96.0.10", 80, {.count = 100});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 100) << *result;
}

TEST_F(NetnsWorldTest, NodesOwnServiceTrafficReachesItsFilterRules) {
  on_node({"iptables", "-A", "OUTPUT", "-d", "10.96.0.10", "-j", "REJECT"});
  auto result = world_->tcp(world_->node_ns(), "10.96.0.10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 3) << *result;
}

TEST_F(NetnsWorldTest, UnreachableRouteOnTheNodeIsUnreachable) {
  // At most 5 attempts: see the ICMP error limit in netns_world.h.
  on_node({"ip", "route", "add", "unreachable", "10.96.7.7/32"});
  auto result = world_->tcp(world_->client_ns(), "10.96.7.7", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 3) << *result;
}

TEST_F(NetnsWorldTest, AddressWithoutARouteInTheProbesNamespaceIsUnreachable) {
  auto result = world_->tcp(world_->client_ns(), "198.51.100.1", 80, {.count = 2});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 2) << *result;
}

TEST_F(NetnsWorldTest, TcpToAPortNobodyListensOnIsRefused) {
  auto result = world_->tcp(world_->client_ns(), world_->pod_ip(0), 8080, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 3) << *result;
}

TEST_F(NetnsWorldTest, UdpToAPortNobodyListensOnIsRefusedEveryTime) {
  // 200 > the default ICMP rate limit's burst: the world lifts the limit.
  auto result = world_->udp(world_->client_ns(), world_->pod_ip(0), 8080, {.count = 200});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 200) << *result;
}

TEST_F(NetnsWorldTest, TrafficToABlackholedAddressTimesOut) {
  on_node({"ip", "route", "add", "blackhole", "10.96.5.5/32"});
  auto result = world_->tcp(world_->client_ns(), "10.96.5.5", 80, {.count = 2, .timeout_ms = 200});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->timeouts, 2) << *result;
}

TEST_F(NetnsWorldTest, StoppedEchoServerNoLongerAnswers) {
  ASSERT_TRUE(world_->start_echo(0));
  world_->stop_echo(0);
  auto result = world_->tcp(world_->client_ns(), world_->pod_ip(0), 8080);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 1) << *result;
}

TEST_F(NetnsWorldTest, EchoServersOnSeveralPortsOfOnePodAnswerWithTheirOwnNames) {
  ASSERT_TRUE(world_->start_echo(world_->pod_ns(0), "pod-0-http", 80));
  ASSERT_TRUE(world_->start_echo(world_->pod_ns(0), "pod-0-dns", 53));
  auto http = world_->tcp(world_->client_ns(), world_->pod_ip(0), 80);
  auto dns = world_->udp(world_->client_ns(), world_->pod_ip(0), 53);
  ASSERT_TRUE(http && dns);
  EXPECT_EQ(http->answers["pod-0-http"], 1) << *http;
  EXPECT_EQ(dns->answers["pod-0-dns"], 1) << *dns;
}

TEST_F(NetnsWorldTest, StartingASecondEchoServerOnTheSamePortFails) {
  ASSERT_TRUE(world_->start_echo(0));
  EXPECT_FALSE(world_->start_echo(0));
}

TEST_F(NetnsWorldTest, StartingAnEchoServerOnAPortSomeoneElseHoldsFails) {
  auto other = BackgroundProcess::start(
      {"ip", "netns", "exec", world_->pod_ns(0), KUBENAT_E2E_ECHO, "--name", "other", "--port", "9000"});
  ASSERT_TRUE(other) << other.error();
  for (int tries = 0; tries < 200; ++tries) {
    auto answer = world_->tcp(world_->pod_ns(0), "127.0.0.1", 9000, {.timeout_ms = 100});
    if (answer && answer->answered() == 1) break;
  }
  auto started = world_->start_echo(world_->pod_ns(0), "mine", 9000);
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("exited with status 1"), std::string::npos) << started.error();
}

TEST_F(NetnsWorldTest, EchoServerAnswersTwoThousandConnectionsInARow) {
  ASSERT_TRUE(world_->start_echo(0));
  const auto start = std::chrono::steady_clock::now();
  auto result = world_->tcp(world_->client_ns(), world_->pod_ip(0), 8080, {.count = 2000});
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["pod-0"], 2000) << *result;
  RecordProperty("milliseconds", static_cast<int>(took.count()));
}

TEST_F(NetnsWorldTest, UdpFromAFixedSourcePortIsOneConntrackFlow) {
  ASSERT_TRUE(world_->start_echo(0));
  // The DNAT rule makes the node track connections.
  on_node({"iptables", "-t", "nat", "-A", "PREROUTING", "-d", "10.96.0.53", "-p", "udp", "--dport", "53", "-j", "DNAT",
           "--to-destination", world_->pod_ip(0) + ":8080"});
  auto fixed = world_->udp(world_->client_ns(), "10.96.0.53", 53, {.count = 5, .source_port = 40053});
  ASSERT_TRUE(fixed) << fixed.error();
  EXPECT_EQ(fixed->answers["pod-0"], 5) << *fixed;
  auto flows = world_->exec_checked(world_->node_ns(), {"conntrack", "-L", "-p", "udp", "--orig-dst", "10.96.0.53"});
  ASSERT_TRUE(flows) << flows.error();
  EXPECT_EQ(std::count(flows->begin(), flows->end(), '\n'), 1) << *flows;
}

TEST_F(NetnsWorldTest, UdpFromEphemeralPortsIsOneConntrackFlowPerAttempt) {
  ASSERT_TRUE(world_->start_echo(0));
  on_node({"iptables", "-t", "nat", "-A", "PREROUTING", "-d", "10.96.0.53", "-p", "udp", "--dport", "53", "-j", "DNAT",
           "--to-destination", world_->pod_ip(0) + ":8080"});
  auto ephemeral = world_->udp(world_->client_ns(), "10.96.0.53", 53, {.count = 5});
  ASSERT_TRUE(ephemeral) << ephemeral.error();
  EXPECT_EQ(ephemeral->answers["pod-0"], 5) << *ephemeral;
  auto flows = world_->exec_checked(world_->node_ns(), {"conntrack", "-L", "-p", "udp", "--orig-dst", "10.96.0.53"});
  ASSERT_TRUE(flows) << flows.error();
  EXPECT_EQ(std::count(flows->begin(), flows->end(), '\n'), 5) << *flows;
}

TEST_F(NetnsWorldTest, EveryNamespaceNameCarriesTheWorldsPrefix) {
  EXPECT_TRUE(world_->node_ns().starts_with(world_->prefix() + "-"));
  EXPECT_TRUE(world_->client_ns().starts_with(world_->prefix() + "-"));
  for (int i = 0; i < world_->pods(); ++i) EXPECT_TRUE(world_->pod_ns(i).starts_with(world_->prefix() + "-"));
  EXPECT_EQ(namespaces_with_prefix(world_->prefix()), 2 + world_->pods());
}

TEST_F(NetnsWorldTest, NoLinkOfTheWorldAppearsInTheCallersNamespace) {
  auto links = run_process({"ip", "-o", "link", "show"});
  ASSERT_TRUE(links && links->ok());
  EXPECT_EQ(links->out.find("link-netns " + world_->prefix()), std::string::npos) << links->out;
}

// ---------------------------------------------------------------------------
// The same world in IPv6: every namespace is dual-stack.

TEST_F(NetnsWorldTest, PodIpv6AddressesEndInTheDigitsOfTheirIpv4Ones) {
  EXPECT_EQ(world_->pod_ip(2), "10.200.1.12");
  EXPECT_EQ(world_->pod_ip6(2), "fd00:200:0:1::12");
  EXPECT_EQ(world_->pod_ip(2, IpFamily::V6), world_->pod_ip6(2));
  EXPECT_EQ(world_->pod_ip(2, IpFamily::V4), world_->pod_ip(2));
  // As the kernel prints it: the same text tests compare with rule listings.
  auto addresses = world_->exec_checked(world_->pod_ns(2), {"ip", "-6", "-o", "addr", "show", "dev", "eth0"});
  ASSERT_TRUE(addresses) << addresses.error();
  EXPECT_NE(addresses->find(" " + world_->pod_ip6(2) + "/128 "), std::string::npos) << *addresses;
}

TEST_F(NetnsWorldTest, Ipv6CarriesTheFirstPacketsOnceTheWorldIsBuilt) {
  // Closed ports: the answers come from the far ends' kernels, through the
  // node, with no time to settle.
  auto to_pod = world_->tcp(world_->client_ns(), world_->pod_ip6(0), 8080, {.count = 1, .timeout_ms = 300});
  auto to_client = world_->tcp(world_->pod_ns(1), NetnsWorld::kClientIp6, 8080, {.count = 1, .timeout_ms = 300});
  ASSERT_TRUE(to_pod && to_client);
  EXPECT_EQ(to_pod->refused, 1) << *to_pod;
  EXPECT_EQ(to_client->refused, 1) << *to_client;
}

TEST_F(NetnsWorldTest, EveryPodAnswersTcpOnItsIpv6FromTheClient) {
  for (int i = 0; i < world_->pods(); ++i) ASSERT_TRUE(world_->start_echo(i));
  for (int i = 0; i < world_->pods(); ++i) {
    auto result = world_->tcp(world_->client_ns(), world_->pod_ip6(i), 8080, {.count = 5});
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(result->answers, (std::map<std::string, int>{{world_->pod_name(i), 5}})) << *result;
  }
}

TEST_F(NetnsWorldTest, EveryPodAnswersUdpOnItsIpv6FromTheClient) {
  for (int i = 0; i < world_->pods(); ++i) ASSERT_TRUE(world_->start_echo(i));
  for (int i = 0; i < world_->pods(); ++i) {
    auto result = world_->udp(world_->client_ns(), world_->pod_ip6(i), 8080, {.count = 5});
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(result->answers, (std::map<std::string, int>{{world_->pod_name(i), 5}})) << *result;
  }
}

TEST_F(NetnsWorldTest, PodsReachEachOtherByPodIpv6) {
  ASSERT_TRUE(world_->start_echo(1));
  auto result = world_->tcp(world_->pod_ns(0), world_->pod_ip6(1), 8080, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["pod-1"], 3) << *result;
}

TEST_F(NetnsWorldTest, PodReachesTheClientOverIpv6) {
  ASSERT_TRUE(world_->start_echo(world_->client_ns(), "client", 8080));
  auto result = world_->tcp(world_->pod_ns(0), NetnsWorld::kClientIp6, 8080, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["client"], 3) << *result;
}

TEST_F(NetnsWorldTest, NodeReachesEveryPodOverIpv6) {
  for (int i = 0; i < world_->pods(); ++i) ASSERT_TRUE(world_->start_echo(i));
  for (int i = 0; i < world_->pods(); ++i) {
    auto result = world_->tcp(world_->node_ns(), world_->pod_ip6(i), 8080, {.count = 2});
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(result->answers[world_->pod_name(i)], 2) << *result;
  }
}

TEST_F(NetnsWorldTest, Ipv6PodToPodTrafficCrossesTheNodesForwardHook) {
  ASSERT_TRUE(world_->start_echo(1));
  on_node({"ip6tables", "-I", "FORWARD", "-d", world_->pod_ip6(1), "-j", "DROP"});
  auto result = world_->tcp(world_->pod_ns(0), world_->pod_ip6(1), 8080, {.count = 2, .timeout_ms = 200});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->timeouts, 2) << *result;
}

TEST_F(NetnsWorldTest, ClientReachesAnIpv6ServiceAddressThatTheNodeTranslates) {
  ASSERT_TRUE(world_->start_echo(2));
  on_node({"ip6tables", "-t", "nat", "-A", "PREROUTING", "-d", "fd00:96::10", "-p", "tcp", "--dport", "80", "-j",
           "DNAT", "--to-destination", "[" + world_->pod_ip6(2) + "]:8080"});
  auto result = world_->tcp(world_->client_ns(), "fd00:96::10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["pod-2"], 3) << *result;
}

TEST_F(NetnsWorldTest, NodeReachesAnIpv6ServiceAddressThatItsOutputHookTranslates) {
  ASSERT_TRUE(world_->start_echo(0));
  on_node({"ip6tables", "-t", "nat", "-A", "OUTPUT", "-d", "fd00:96::10", "-p", "tcp", "--dport", "80", "-j", "DNAT",
           "--to-destination", "[" + world_->pod_ip6(0) + "]:8080"});
  auto result = world_->tcp(world_->node_ns(), "fd00:96::10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answers["pod-0"], 3) << *result;
}

TEST_F(NetnsWorldTest, UntranslatedIpv6ServiceTrafficFromTheClientIsUnreachableEveryTime) {
  auto result = world_->tcp(world_->client_ns(), "fd00:96::10", 80, {.count = 100});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 100) << *result;
}

TEST_F(NetnsWorldTest, UntranslatedIpv6ServiceTrafficFromAPodIsUnreachable) {
  auto result = world_->tcp(world_->pod_ns(0), "fd00:96::10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 3) << *result;
}

TEST_F(NetnsWorldTest, UntranslatedIpv6LoadBalancerTrafficFromAPodIsUnreachable) {
  auto result = world_->udp(world_->pod_ns(0), "fd00:203::7", 53, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 3) << *result;
}

TEST_F(NetnsWorldTest, UntranslatedIpv6ServiceTrafficFromTheNodeIsUnreachable) {
  auto result = world_->tcp(world_->node_ns(), "fd00:96::10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 3) << *result;
}

TEST_F(NetnsWorldTest, ForwardedIpv6ServiceTrafficReachesTheNodesFilterRules) {
  // 100 attempts: more than the default ICMPv6 rate limits would let through.
  on_node({"ip6tables", "-A", "FORWARD", "-d", "fd00:96::10", "-j", "REJECT"});
  auto result = world_->tcp(world_->client_ns(), "fd00:96::10", 80, {.count = 100});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 100) << *result;
}

TEST_F(NetnsWorldTest, NodesOwnIpv6ServiceTrafficReachesItsFilterRules) {
  on_node({"ip6tables", "-A", "OUTPUT", "-d", "fd00:96::10", "-j", "REJECT"});
  auto result = world_->tcp(world_->node_ns(), "fd00:96::10", 80, {.count = 3});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 3) << *result;
}

TEST_F(NetnsWorldTest, UnreachableIpv6RouteOnTheNodeIsUnreachableEveryTime) {
  // Unlike IPv4's (at most 5 at once), see netns_world.h.
  on_node({"ip", "-6", "route", "add", "unreachable", "fd00:96::7:7/128"});
  auto result = world_->tcp(world_->client_ns(), "fd00:96::7:7", 80, {.count = 100});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 100) << *result;
}

TEST_F(NetnsWorldTest, Ipv6AddressWithoutARouteInTheProbesNamespaceIsUnreachable) {
  auto result = world_->tcp(world_->client_ns(), "2001:db8::1", 80, {.count = 2});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->unreachable, 2) << *result;
}

TEST_F(NetnsWorldTest, UdpToAnIpv6PortNobodyListensOnIsRefusedEveryTime) {
  auto result = world_->udp(world_->client_ns(), world_->pod_ip6(0), 8080, {.count = 200});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->refused, 200) << *result;
}

TEST_F(NetnsWorldTest, Ipv6UdpFromAFixedSourcePortIsOneConntrackFlow) {
  ASSERT_TRUE(world_->start_echo(0));
  on_node({"ip6tables", "-t", "nat", "-A", "PREROUTING", "-d", "fd00:96::53", "-p", "udp", "--dport", "53", "-j",
           "DNAT", "--to-destination", "[" + world_->pod_ip6(0) + "]:8080"});
  auto fixed = world_->udp(world_->client_ns(), "fd00:96::53", 53, {.count = 5, .source_port = 40053});
  ASSERT_TRUE(fixed) << fixed.error();
  EXPECT_EQ(fixed->answers["pod-0"], 5) << *fixed;
  auto flows = world_->exec_checked(world_->node_ns(),
                                    {"conntrack", "-L", "-f", "ipv6", "-p", "udp", "--orig-dst", "fd00:96::53"});
  ASSERT_TRUE(flows) << flows.error();
  EXPECT_EQ(std::count(flows->begin(), flows->end(), '\n'), 1) << *flows;
}

TEST_F(NetnsWorldTest, NoAddressOfTheWorldAppearsInTheCallersNamespace) {
  auto addresses = run_process({"ip", "-o", "addr", "show"});
  ASSERT_TRUE(addresses && addresses->ok());
  for (const char* address : {NetnsWorld::kNodeIp, NetnsWorld::kNodeIp6, NetnsWorld::kPodGateway6}) {
    EXPECT_EQ(addresses->out.find(std::string(" ") + address + "/"), std::string::npos) << addresses->out;
  }
}

TEST(NetnsWorldLifetime, DestroyedWorldLeavesNoNamespaceBehind) {
  KUBENAT_REQUIRE_NETNS();
  auto world = NetnsWorld::create(2);
  ASSERT_TRUE(world) << world.error();
  const std::string prefix = (*world)->prefix();
  ASSERT_TRUE((*world)->start_echo(0));
  ASSERT_EQ(namespaces_with_prefix(prefix), 4);
  world->reset();
  EXPECT_EQ(namespaces_with_prefix(prefix), 0);
}

TEST(NetnsWorldLifetime, TwoWorldsCoexistWithTheirOwnNamesAndPods) {
  KUBENAT_REQUIRE_NETNS();
  auto first = NetnsWorld::create(1);
  auto second = NetnsWorld::create(1);
  ASSERT_TRUE(first) << first.error();
  ASSERT_TRUE(second) << second.error();
  EXPECT_NE((*first)->prefix(), (*second)->prefix());
  ASSERT_TRUE((*first)->start_echo((*first)->pod_ns(0), "first", 8080));
  ASSERT_TRUE((*second)->start_echo((*second)->pod_ns(0), "second", 8080));
  auto from_first = (*first)->tcp((*first)->client_ns(), (*first)->pod_ip(0), 8080);
  auto from_second = (*second)->tcp((*second)->client_ns(), (*second)->pod_ip(0), 8080);
  ASSERT_TRUE(from_first && from_second);
  EXPECT_EQ(from_first->answers["first"], 1) << *from_first;
  EXPECT_EQ(from_second->answers["second"], 1) << *from_second;
}

TEST(NetnsWorldLifetime, LeftoverOfADeadProcessWithOurPidIsReplaced) {
  KUBENAT_REQUIRE_NETNS();
  auto first = NetnsWorld::create(0);
  ASSERT_TRUE(first) << first.error();
  // The next world's prefix counts on from this one's: "kn<pid>w<k+1>".
  const std::string& prefix = (*first)->prefix();
  const std::size_t w = prefix.rfind('w');
  const std::string next = prefix.substr(0, w + 1) + std::to_string(std::stoi(prefix.substr(w + 1)) + 1);
  auto leftover = run_process({"ip", "netns", "add", next + "-node"});
  ASSERT_TRUE(leftover && leftover->ok());
  auto second = NetnsWorld::create(1);
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ((*second)->prefix(), next);
}

TEST(NetnsWorldLifetime, BuildsAFourPodWorld) {
  KUBENAT_REQUIRE_NETNS();
  const auto start = std::chrono::steady_clock::now();
  auto world = NetnsWorld::create(4);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(world) << world.error();
  RecordProperty("milliseconds", static_cast<int>(took.count()));
  std::printf("4-pod world built in %lld ms\n", static_cast<long long>(took.count()));
}

TEST(NetnsWorldLifetime, TooManyPodsIsAnError) {
  EXPECT_FALSE(NetnsWorld::create(NetnsWorld::kMaxPods + 1));
}

TEST(EchoServer, ExitsWithStatusZeroOnSigterm) {
  KUBENAT_REQUIRE_NETNS();
  auto world = NetnsWorld::create(1);
  ASSERT_TRUE(world) << world.error();
  auto server = BackgroundProcess::start(
      {"ip", "netns", "exec", (*world)->pod_ns(0), KUBENAT_E2E_ECHO, "--name", "x", "--port", "9000"});
  ASSERT_TRUE(server) << server.error();
  for (int tries = 0; tries < 200; ++tries) {
    auto answer = (*world)->tcp((*world)->pod_ns(0), "127.0.0.1", 9000, {.timeout_ms = 100});
    if (answer && answer->answered() == 1) break;
  }
  ASSERT_TRUE(server->running());
  EXPECT_EQ(server->stop(), 0);
}

TEST(Probe, RejectsAFixedTcpSourcePort) {
  auto ran = run_process({KUBENAT_E2E_PROBE, "tcp", "127.0.0.1", "80", "--source-port", "4000"});
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_EQ(ran->exit_status, 2);
  EXPECT_NE(ran->err.find("udp only"), std::string::npos) << ran->err;
}

TEST(Probe, RejectsABadAddress) {
  auto ran = run_process({KUBENAT_E2E_PROBE, "tcp", "10.0.0.300", "80"});
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_EQ(ran->exit_status, 2);
}

TEST(CleanupScript, RemovesNamespacesOfDeadProcessesOnly) {
  KUBENAT_REQUIRE_NETNS();
  auto live = NetnsWorld::create(0);
  ASSERT_TRUE(live) << live.error();
  // A pid that surely belonged to a process that is gone: one we reaped.
  const pid_t dead = [] {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
  }();
  const std::string stale = "kn" + std::to_string(dead) + "w0-node";
  auto added = run_process({"ip", "netns", "add", stale});
  ASSERT_TRUE(added && added->ok());
  auto cleaned = run_process({KUBENAT_E2E_CLEANUP_SCRIPT});
  ASSERT_TRUE(cleaned) << cleaned.error();
  EXPECT_EQ(cleaned->exit_status, 0) << cleaned->err;
  EXPECT_EQ(namespaces_with_prefix("kn" + std::to_string(dead) + "w0"), 0);
  EXPECT_EQ(namespaces_with_prefix((*live)->prefix()), 2);
  (void)run_process({"ip", "netns", "del", stale});
}

}  // namespace
}  // namespace kubenat::e2e
