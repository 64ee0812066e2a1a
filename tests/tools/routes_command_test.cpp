// `kubenat routes`, and the route comments of `kubenat plan`, as a user runs
// them on the example cluster.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tools/kubenat/commands.h"

namespace kubenat {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kExampleJson = std::string(KUBENAT_SOURCE_DIR) + "/tools/examples/cluster.json";
const std::string kExampleYaml = std::string(KUBENAT_SOURCE_DIR) + "/tools/examples/cluster.yaml";

struct CommandRun {
  int status;
  std::string out;
  std::string err;
};

CommandRun routes(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int status = routes_command(args, out, err);
  return {status, out.str(), err.str()};
}

CommandRun plan(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int status = plan_command(args, out, err);
  return {status, out.str(), err.str()};
}

TEST(RoutesCommand, PrintsARouteToEveryOtherWorker) {
  const CommandRun run = routes({"--snapshot", kExampleJson, "--node", "worker-1", "--local-subnet", "10.240.0.0/24"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out,
            "10.200.2.0/24 via 10.240.0.12 # node worker-2\n"
            "10.200.3.0/24 via 10.240.0.13 # node worker-3\n");
  EXPECT_EQ(run.err, "");
}

TEST(RoutesCommand, ReadsYamlAndTheHostnameOverrideSpelling) {
  const CommandRun run = routes({"--snapshot", kExampleYaml, "--hostname-override=worker-2", "--local-subnet=10.240.0.0/24"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out,
            "10.200.1.0/24 via 10.240.0.11 # node worker-1\n"
            "10.200.3.0/24 via 10.240.0.13 # node worker-3\n");
}

TEST(RoutesCommand, NamesTheNodesItCannotReachDirectly) {
  const CommandRun run = routes({"--snapshot", kExampleJson, "--node", "worker-1", "--local-subnet", "10.240.0.12/32"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, "10.200.2.0/24 via 10.240.0.12 # node worker-2\n");
  EXPECT_EQ(run.err,
            "kubenat routes: warning: Node worker-3: InternalIP 10.240.0.13 is not on a directly connected subnet; "
            "no route to its pod CIDR 10.200.3.0/24\n");
}

TEST(RoutesCommand, WithoutLocalSubnetsTakesEveryNodeAsDirectlyConnectedAndSaysSo) {
  const CommandRun run = routes({"--snapshot", kExampleJson, "--node", "worker-3"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out,
            "10.200.1.0/24 via 10.240.0.11 # node worker-1\n"
            "10.200.2.0/24 via 10.240.0.12 # node worker-2\n");
  EXPECT_THAT(run.err, HasSubstr("note: no --local-subnet given; every node is taken as directly connected"));
}

TEST(RoutesCommand, RejectsBadUsage) {
  EXPECT_EQ(routes({"--snapshot", kExampleJson}).status, 2);
  EXPECT_EQ(routes({"--node", "worker-1"}).status, 2);
  const CommandRun bad = routes({"--snapshot", kExampleJson, "--node", "worker-1", "--local-subnet", "10.240.0.0/33"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "kubenat routes: --local-subnet: invalid CIDR \"10.240.0.0/33\"\n");
  EXPECT_EQ(routes({"--snapshot", "/nonexistent.json", "--node", "worker-1"}).status, 1);
}

TEST(RoutesCommand, HelpNamesItsFlags) {
  const CommandRun run = routes({"--help"});
  EXPECT_EQ(run.status, 0);
  EXPECT_THAT(run.out, HasSubstr("--local-subnet"));
}

TEST(PlanCommand, EndsWithTheRoutesAsComments) {
  const CommandRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--cluster-cidr", "10.200.0.0/16",
                        "--local-subnet", "10.240.0.0/24"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_THAT(run.out, EndsWith("COMMIT\n"
                                "# Static pod-CIDR routes for node worker-1 (kubenat run --routes):\n"
                                "# 10.200.2.0/24 via 10.240.0.12 # node worker-2\n"
                                "# 10.200.3.0/24 via 10.240.0.13 # node worker-3\n"));
  EXPECT_EQ(run.err, "");
}

TEST(PlanCommand, RouteDiagnosticsStayInTheComments) {
  const CommandRun run = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--local-subnet", "10.240.0.12/32"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\n# skipped: Node worker-3: InternalIP 10.240.0.13 is not on a directly connected "
                                 "subnet; no route to its pod CIDR 10.200.3.0/24\n"));
  EXPECT_EQ(run.err, "");
}

TEST(PlanCommand, JsonAndDiffOutputsCarryNoRouteComments) {
  const CommandRun json = plan({"--snapshot", kExampleJson, "--node", "worker-1", "--format", "json"});
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_THAT(json.out, Not(HasSubstr("# Static pod-CIDR routes")));
  const CommandRun diff = plan({"--diff", kExampleJson, kExampleYaml, "--node", "worker-1"});
  ASSERT_EQ(diff.status, 0) << diff.err;
  EXPECT_THAT(diff.out, Not(HasSubstr("# Static pod-CIDR routes")));
}

}  // namespace
}  // namespace kubenat
