// `kubenat cleanup` on a node holding what every mode writes, in both
// families and both iptables flavours, beside rules of other owners: ours
// go, theirs stay.

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/network_namespace.h"
#include "engine/process.h"
#include "rules/encode.h"
#include "tests/e2e/netns_world.h"
#include "tests/support/cluster_builder.h"

namespace kubenat::e2e {
namespace {

using namespace kubenat::testing;

class CleanupCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    static int counter = 0;
    auto node =
        ScopedNetworkNamespace::create("kn" + std::to_string(::getpid()) + "c" + std::to_string(counter++) + "-node");
    ASSERT_TRUE(node) << node.error();
    node_.emplace(std::move(*node));
    // A link for the routes: a veth pair within the namespace (no dummy
    // module on every kernel).
    auto made =
        ip_batch(ns(), {"link set lo up", "link add eth0 type veth peer name eth1", "addr add 10.240.0.1/24 dev eth0",
                        "addr add fd00:240::1/64 dev eth0 nodad", "link set eth1 up", "link set eth0 up"});
    ASSERT_TRUE(made) << made.error();
  }
  const std::string& ns() const { return node_->name(); }

  // ARGV in the node namespace; its output, or a failure.
  std::expected<std::string, std::string> in_node(std::vector<std::string> argv, const std::string& input = "") {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns()});
    auto result = run_process(argv, {.input = input});
    if (!result) return std::unexpected(result.error());
    if (!result->ok()) return std::unexpected(describe_command(argv) + ": " + result->err);
    return result->out;
  }
  // `kubenat apply` of `state` with `flags`, as a node running that mode holds it.
  void apply(const ClusterState& state, std::vector<std::string> flags) {
    std::vector<std::string> argv = {KUBENAT_BINARY, "apply", "--snapshot", "/dev/stdin", "--node", "test-node"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto done = in_node(argv, encode_cluster(state).dump());
    ASSERT_TRUE(done) << done.error();
  }
  std::string all_rules() {
    std::string out;
    for (const char* tool :
         {"iptables-nft-save", "ip6tables-nft-save", "iptables-legacy-save", "ip6tables-legacy-save"}) {
      out += in_node({tool}).value_or(std::string(tool) + " failed\n");
    }
    return out + in_node({"nft", "list", "ruleset"}).value_or("nft failed\n");
  }

  std::optional<ScopedNetworkNamespace> node_;
};

ClusterState web(bool v6) {
  return ClusterBuilder()
      .add(ServiceBuilder("shop", "web")
               .type(ServiceType::NodePort)
               .cluster_ip(v6 ? "fd00:96::10" : "10.96.0.10")
               .port("http", 80, Protocol::Tcp, 30080))
      .add(SliceBuilder("shop", "web").port("http", 8080).endpoint(v6 ? "fd00:200::10" : "10.200.1.10"))
      .build();
}

TEST_F(CleanupCommandTest, RemovesWhatEveryModeAndFamilyWroteAndNothingElse) {
  const std::vector<std::string> v4 = {"--cluster-cidr", "10.200.0.0/16"};
  const std::vector<std::string> v6 = {"--cluster-cidr", "fd00:200::/56", "--ip-family", "ipv6"};
  const auto with = [](std::vector<std::string> flags, std::vector<std::string> more) {
    flags.insert(flags.end(), more.begin(), more.end());
    return flags;
  };
  apply(web(false), with(v4, {"--iptables-mode", "nft"}));
  apply(web(false), with(v4, {"--iptables-mode", "legacy"}));
  apply(web(true), with(v6, {"--iptables-mode", "nft"}));
  apply(web(false), with(v4, {"--proxy-mode", "nftables"}));
  apply(web(true), with(v6, {"--proxy-mode", "nftables"}));
  // kube-proxy's nftables mode's table, and other owners' rules and routes.
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"nft", "add table ip kube-proxy; add chain ip kube-proxy services"},
           {"nft", "add table inet mine; add chain inet mine input { type filter hook input priority 0; }"},
           {"iptables-nft", "-A", "INPUT", "-s", "198.51.100.7", "-j", "DROP"},
           {"iptables-legacy", "-A", "INPUT", "-s", "198.51.100.8", "-j", "DROP"},
           {"ip6tables-nft", "-A", "INPUT", "-s", "2001:db8::7", "-j", "DROP"},
           {"iptables-nft", "-t", "nat", "-N", "DOCKER"},
           {"ip", "route", "add", "10.200.2.0/24", "via", "10.240.0.12", "proto", "214"},
           {"ip", "route", "add", "fd00:200:0:2::/64", "via", "fd00:240::12", "proto", "214"},
           {"ip", "route", "add", "10.201.0.0/24", "via", "10.240.0.12", "proto", "static"}}) {
    auto done = in_node(argv);
    ASSERT_TRUE(done) << done.error();
  }
  ASSERT_NE(all_rules().find("KUBE-SERVICES"), std::string::npos);

  auto cleaned = in_node({KUBENAT_BINARY, "cleanup"});
  ASSERT_TRUE(cleaned) << cleaned.error();
  for (const char* line : {"removed iptables-nft: ", "removed iptables-legacy: ", "removed ip6tables-nft: ",
                           "removed nftables table ip kube-proxy\n", "removed nftables table ip kubenat\n",
                           "removed nftables table ip6 kubenat\n", "removed 2 routes of protocol 214\n"}) {
    EXPECT_NE(cleaned->find(line), std::string::npos) << line << " in:\n" << *cleaned;
  }

  const std::string rules = all_rules();
  EXPECT_EQ(rules.find("KUBE-"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("kube-proxy"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("table ip kubenat"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("table ip6 kubenat"), std::string::npos) << rules;
  for (const char* theirs : {"-A INPUT -s 198.51.100.7/32 -j DROP", "-A INPUT -s 198.51.100.8/32 -j DROP",
                             "-A INPUT -s 2001:db8::7/128 -j DROP", ":DOCKER - [0:0]", "table inet mine"}) {
    EXPECT_NE(rules.find(theirs), std::string::npos) << theirs << " in:\n" << rules;
  }
  const std::string routes =
      in_node({"ip", "-4", "route", "show"}).value_or("") + in_node({"ip", "-6", "route", "show"}).value_or("");
  EXPECT_EQ(routes.find("proto 214"), std::string::npos) << routes;
  EXPECT_NE(routes.find("10.201.0.0/24 via 10.240.0.12 dev eth0 proto static"), std::string::npos) << routes;
}

TEST_F(CleanupCommandTest, ACleanNodeHasNothingToRemoveAndGetsNoLegacyTables) {
  auto cleaned = in_node({KUBENAT_BINARY, "cleanup"});
  ASSERT_TRUE(cleaned) << cleaned.error();
  EXPECT_EQ(*cleaned, "nothing of kube-proxy's or kubenat's here\n");
  // Asking iptables-legacy about a table loads it; cleanup only reads the
  // legacy tables the kernel already has.
  EXPECT_EQ(in_node({"cat", "/proc/net/ip_tables_names"}).value_or("?"), "");
  EXPECT_EQ(in_node({"cat", "/proc/net/ip6_tables_names"}).value_or("?"), "");
}

}  // namespace
}  // namespace kubenat::e2e
