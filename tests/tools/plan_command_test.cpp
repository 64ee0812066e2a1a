// `kubenat plan` as a user runs it: flags, output, and what bad input does.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "tools/kubenat/commands.h"

namespace kubenat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

const std::string kExampleJson = std::string(KUBENAT_SOURCE_DIR) + "/tools/examples/cluster.json";
const std::string kExampleYaml = std::string(KUBENAT_SOURCE_DIR) + "/tools/examples/cluster.yaml";

struct PlanRun {
  int status;
  std::string out;
  std::string err;
};

PlanRun plan(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int status = plan_command(args, out, err);
  return {status, out.str(), err.str()};
}

// A snapshot file of the test's own, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    path_ = fs::temp_directory_path() /
            ("kubenat-plan-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".json");
    std::ofstream(path_) << content;
  }
  ~TempFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

const char* kMixedSnapshot = R"({
  "apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "good", "namespace": "shop"},
     "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad", "namespace": "shop"},
     "spec": {"clusterIP": "10.96.0.999", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ports", "namespace": "shop"},
     "spec": {"clusterIP": "10.96.0.21", "ports": [{"name": "ok", "port": 81, "protocol": "TCP"},
                                                     {"name": "icmp", "port": 82, "protocol": "ICMP"},
                                                     {"name": "big", "port": 70000, "protocol": "TCP"}]}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "good-abcde", "namespace": "shop", "labels": {"kubernetes.io/service-name": "good"}},
     "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["10.200.1.5"], "conditions": {"ready": true}, "nodeName": "worker-1"}]},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "ghost-fghij", "namespace": "shop", "labels": {"kubernetes.io/service-name": "ghost"}},
     "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["10.200.1.6"]}]}
  ]})";

TEST(PlanCommand, PrintsIptablesRestoreInputForTheExampleCluster) {
  PlanRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--cluster-cidr", "10.200.0.0/16"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(run.out.starts_with("*filter\n"));
  EXPECT_THAT(run.out, HasSubstr("\nCOMMIT\n*nat\n"));
  EXPECT_THAT(run.out, HasSubstr("-A KUBE-SERVICES -m comment --comment \"kube-system/kube-dns:dns cluster IP\" "
                                 "-m udp -p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-"));
  // The last table is committed; only comment lines (the static routes) follow.
  EXPECT_THAT(run.out, HasSubstr("\nCOMMIT\n# Static pod-CIDR routes for node worker-1"));
}

TEST(PlanCommand, NftFormatPrintsKubenatsTableForTheExampleCluster) {
  PlanRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--format", "nft"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_TRUE(run.out.starts_with("table ip kubenat {\n")) << run.out.substr(0, 200);
  EXPECT_THAT(run.out, HasSubstr("10.96.0.10 . udp . 53"));
  EXPECT_THAT(run.out, Not(HasSubstr("*nat")));
}

TEST(PlanCommand, NftablesTableFlagNamesTheTable) {
  PlanRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--format", "nft", "--nftables-table",
                      "kubenat-test"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_TRUE(run.out.starts_with("table ip kubenat-test {\n")) << run.out.substr(0, 200);
}

TEST(PlanCommand, AnNftablesTableNameNftCannotParseIsRefused) {
  PlanRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--format", "nft", "--nftables-table",
                      "my table;"});
  EXPECT_EQ(run.status, 2);
  EXPECT_THAT(run.err, HasSubstr("--nftables-table: expects a letter"));
  EXPECT_EQ(run.out, "");
}

TEST(PlanCommand, SameInputGivesTheSameBytes) {
  const std::vector<std::string> args = {"--snapshot", kExampleJson, "--node", "worker-2"};
  EXPECT_EQ(plan(args).out, plan(args).out);
}

TEST(PlanCommand, JsonAndYamlSnapshotsGiveTheSamePlan) {
  EXPECT_EQ(plan({"--snapshot", kExampleJson, "--node", "worker-3"}).out,
            plan({"--snapshot", kExampleYaml, "--node", "worker-3"}).out);
}

TEST(PlanCommand, JsonFormatDescribesTablesChainsAndServicePorts) {
  PlanRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--format", "json"});
  ASSERT_EQ(run.status, 0) << run.err;
  auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["family"], "IPv4");
  EXPECT_TRUE(json["tables"].contains("filter"));
  EXPECT_TRUE(json["tables"].contains("nat"));
  EXPECT_FALSE(json["servicePorts"].empty());
  EXPECT_EQ(json["servicePorts"][0]["name"], "default/kubernetes:https");
}

TEST(PlanCommand, BrokenObjectsAreSkippedAndNamedWhileTheRestIsPlanned) {
  TempFile file(kMixedSnapshot);
  PlanRun run = plan({"--snapshot", file.path(), "--node", "worker-1"});
  ASSERT_EQ(run.status, 0);
  EXPECT_THAT(run.err, HasSubstr("Service shop/bad: spec.clusterIP"));
  EXPECT_THAT(run.err, HasSubstr("Service shop/ports: spec.ports[1].protocol"));
  EXPECT_THAT(run.err, HasSubstr("Service shop/ports: spec.ports[2].port"));
  EXPECT_THAT(run.err, HasSubstr("EndpointSlice shop/ghost-fghij"));
  EXPECT_THAT(run.out, HasSubstr("\"shop/good:http cluster IP\""));
  EXPECT_THAT(run.out, HasSubstr("\"shop/ports:ok has no endpoints\""));
  EXPECT_THAT(run.out, Not(HasSubstr("shop/bad")));
  EXPECT_THAT(run.out, Not(HasSubstr("shop/ports:icmp")));
}

TEST(PlanCommand, NamesCannotInjectRuleText) {
  TempFile file(R"({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "x\" -j ACCEPT -m comment --comment \"", "namespace": "shop"},
    "spec": {"clusterIP": "10.96.0.30", "ports": [{"name": "http", "port": 80}]}})");
  PlanRun run = plan({"--snapshot", file.path(), "--node", "worker-1"});
  ASSERT_EQ(run.status, 0);
  EXPECT_THAT(run.err, HasSubstr("metadata.name"));
  EXPECT_THAT(run.out, Not(HasSubstr("-j ACCEPT -m comment")));
  EXPECT_THAT(run.out, Not(HasSubstr("10.96.0.30")));
}

TEST(PlanCommand, TextThatIsNotJsonOrYamlFailsWithOneLine) {
  TempFile file("{\"kind\": \"List\", \"items\": [");
  PlanRun run = plan({"--snapshot", file.path(), "--node", "worker-1"});
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST(PlanCommand, MissingFileFailsWithOneLineNamingIt) {
  PlanRun run = plan({"--snapshot", "/nonexistent/cluster.json", "--node", "worker-1"});
  EXPECT_EQ(run.status, 1);
  EXPECT_THAT(run.err, HasSubstr("/nonexistent/cluster.json"));
}

TEST(PlanCommand, MissingRequiredFlagsAreUsageErrors) {
  EXPECT_EQ(plan({"--node", "worker-1"}).status, 2);
  EXPECT_EQ(plan({"--snapshot", kExampleJson}).status, 2);
  EXPECT_EQ(plan({"--snapshot", kExampleJson, "--node", "w", "--format", "xml"}).status, 2);
  EXPECT_EQ(plan({"--snapshot", kExampleJson, "--node", "w", "--cluster-cidr", "10.0.0.0/33"}).status, 2);
  EXPECT_EQ(plan({"--snapshot", kExampleJson, "--node", "w", "--no-such-flag"}).status, 2);
}

TEST(PlanCommand, NodeIpDefaultsToTheNodesInternalIp) {
  // shop/frontend's source range 198.51.100.0/24 does not hold worker-1's
  // InternalIP, so there is no rule letting the node reach its own VIP; with
  // --node-ip inside the range there is.
  PlanRun by_default = plan({"--snapshot", kExampleJson, "--node", "worker-1"});
  PlanRun inside = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--node-ip", "198.51.100.7"});
  EXPECT_THAT(by_default.out, Not(HasSubstr("-s 203.0.113.10 -j KUBE-EXT")));
  EXPECT_THAT(inside.out, HasSubstr("-s 203.0.113.10 -j KUBE-EXT"));
}

TEST(PlanCommand, Ipv6FamilyPlansOnlyIpv6Services) {
  PlanRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--ip-family", "ipv6"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_THAT(run.out, Not(HasSubstr("cluster IP")));
  EXPECT_THAT(run.out, HasSubstr("! -d ::1/128 -j KUBE-NODEPORTS"));
}

}  // namespace
}  // namespace kubenat

namespace kubenat {
namespace {

TEST(PlanDiff, IdenticalSnapshotsGiveNoChange) {
  std::ostringstream out, err;
  const std::vector<std::string> args = {"--diff", kExampleJson, kExampleYaml, "--node", "worker-1"};
  ASSERT_EQ(plan_command(args, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "");
}

TEST(PlanDiff, OneMoreEndpointRewritesThatServicesChainsOnly) {
  std::ifstream in(kExampleJson);
  nlohmann::json cluster = nlohmann::json::parse(in);
  for (auto& item : cluster["items"]) {
    if (item["kind"] == "EndpointSlice" && item["metadata"]["labels"]["kubernetes.io/service-name"] == "web") {
      item["endpoints"].push_back({{"addresses", {"10.200.3.99"}}, {"conditions", {{"ready", true}}}});
    }
  }
  TempFile changed(cluster.dump());
  std::ostringstream out, err;
  const std::vector<std::string> args = {"--diff", kExampleJson, changed.path(), "--node", "worker-1"};
  ASSERT_EQ(plan_command(args, out, err), 0) << err.str();
  const std::string diff = out.str();
  EXPECT_THAT(diff, HasSubstr("*nat\n"));
  EXPECT_THAT(diff, HasSubstr("10.200.3.99"));
  EXPECT_THAT(diff, Not(HasSubstr(":KUBE-SERVICES ")));
  EXPECT_THAT(diff, Not(HasSubstr("*filter")));
  EXPECT_LT(diff.size(), 2048u);
}

TEST(PlanDiff, NeedsExactlyTwoSnapshots) {
  std::ostringstream out, err;
  const std::vector<std::string> args = {"--diff", kExampleJson, "--node", "worker-1"};
  EXPECT_EQ(plan_command(args, out, err), 2);
}

}  // namespace
}  // namespace kubenat
