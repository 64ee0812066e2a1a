// Static pod-CIDR route plans: which routes a node gets, which nodes are
// skipped and why, the diff between two sets of routes, and the text forms.

#include "rules/routes/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using namespace kubenat::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Node node(const std::string& name, std::vector<std::string> internal_ips, std::vector<std::string> pod_cidrs) {
  Node out;
  out.name = name;
  out.addresses.push_back({"Hostname", name});
  for (const std::string& address : internal_ips) out.addresses.push_back({"InternalIP", address});
  for (const std::string& text : pod_cidrs) out.pod_cidrs.push_back(cidr(text));
  return out;
}

std::map<std::string, Node> nodes(std::vector<Node> list) {
  std::map<std::string, Node> out;
  for (Node& n : list) out[n.name] = std::move(n);
  return out;
}

RouteConfig config(const std::string& self, std::vector<std::string> subnets = {"10.240.0.0/24", "fd00:240::/64"}) {
  RouteConfig c;
  c.node_name = self;
  for (const std::string& subnet : subnets) c.local_subnets.push_back(cidr(subnet));
  return c;
}

std::vector<std::string> rendered(const RoutePlan& plan) {
  std::vector<std::string> out;
  for (const Route& route : plan.routes) out.push_back(render_route(route));
  return out;
}

std::vector<std::string> messages(const RoutePlan& plan) {
  std::vector<std::string> out;
  for (const Diagnostic& d : plan.diagnostics) out.push_back(d.to_string());
  return out;
}

const std::map<std::string, Node> kThreeWorkers = nodes({
    node("worker-1", {"10.240.0.11"}, {"10.200.1.0/24"}),
    node("worker-2", {"10.240.0.12"}, {"10.200.2.0/24"}),
    node("worker-3", {"10.240.0.13"}, {"10.200.3.0/24"}),
});

TEST(RoutePlan, RoutesEveryOtherNodesPodCidrViaItsInternalIp) {
  const RoutePlan plan = plan_routes(kThreeWorkers, config("worker-1"));
  EXPECT_THAT(rendered(plan), ElementsAre("10.200.2.0/24 via 10.240.0.12 # node worker-2",
                                          "10.200.3.0/24 via 10.240.0.13 # node worker-3"));
  EXPECT_THAT(plan.diagnostics, IsEmpty());
  EXPECT_EQ(plan.skipped_nodes, 0u);
}

TEST(RoutePlan, SkipsItsOwnNodeWithoutADiagnostic) {
  const RoutePlan plan = plan_routes(kThreeWorkers, config("worker-2"));
  EXPECT_THAT(rendered(plan), ElementsAre("10.200.1.0/24 via 10.240.0.11 # node worker-1",
                                          "10.200.3.0/24 via 10.240.0.13 # node worker-3"));
  EXPECT_THAT(plan.diagnostics, IsEmpty());
}

TEST(RoutePlan, ANodeNotInTheClusterRoutesToEveryNode) {
  EXPECT_EQ(plan_routes(kThreeWorkers, config("elsewhere")).routes.size(), 3u);
}

TEST(RoutePlan, DualStackRoutesEachFamilyViaThatFamilysInternalIp) {
  const auto cluster = nodes({
      node("a", {"10.240.0.11", "fd00:240::11"}, {"10.200.1.0/24", "fd00:200:1::/64"}),
      node("b", {"fd00:240::12", "10.240.0.12"}, {"fd00:200:2::/64", "10.200.2.0/24"}),
  });
  const RoutePlan plan = plan_routes(cluster, config("a"));
  // IPv4 first, then IPv6, whatever order the Node lists them in.
  EXPECT_THAT(rendered(plan), ElementsAre("10.200.2.0/24 via 10.240.0.12 # node b",
                                          "fd00:200:2::/64 via fd00:240::12 # node b"));
  EXPECT_THAT(plan.diagnostics, IsEmpty());
}

TEST(RoutePlan, SkipsANodeNotOnADirectlyConnectedSubnetWithADiagnostic) {
  auto cluster = kThreeWorkers;
  cluster["worker-4"] = node("worker-4", {"10.9.0.5"}, {"10.200.4.0/24"});
  const RoutePlan plan = plan_routes(cluster, config("worker-1"));
  EXPECT_EQ(plan.routes.size(), 2u);
  EXPECT_THAT(messages(plan),
              ElementsAre("Node worker-4: InternalIP 10.9.0.5 is not on a directly connected subnet; no route to "
                          "its pod CIDR 10.200.4.0/24"));
  EXPECT_EQ(plan.skipped_nodes, 1u);
}

TEST(RoutePlan, PicksTheFirstInternalIpThatIsDirectlyConnected) {
  const auto cluster = nodes({node("a", {}, {}), node("b", {"192.168.9.9", "10.240.0.12"}, {"10.200.2.0/24"})});
  const RoutePlan plan = plan_routes(cluster, config("a"));
  EXPECT_THAT(rendered(plan), ElementsAre("10.200.2.0/24 via 10.240.0.12 # node b"));
  EXPECT_EQ(plan.skipped_nodes, 0u);
}

TEST(RoutePlan, ExternalIpsAreNeverGateways) {
  Node b = node("b", {}, {"10.200.2.0/24"});
  b.addresses.push_back({"ExternalIP", "10.240.0.12"});
  const RoutePlan plan = plan_routes(nodes({b}), config("a"));
  EXPECT_THAT(plan.routes, IsEmpty());
  EXPECT_THAT(messages(plan), ElementsAre("Node b: no InternalIP of family IPv4; no route to its pod CIDR 10.200.2.0/24"));
  EXPECT_EQ(plan.skipped_nodes, 1u);
}

TEST(RoutePlan, ANodeWithoutPodCidrsIsReportedButNotCounted) {
  auto cluster = kThreeWorkers;
  cluster["worker-5"] = node("worker-5", {"10.240.0.15"}, {});
  const RoutePlan plan = plan_routes(cluster, config("worker-1"));
  EXPECT_EQ(plan.routes.size(), 2u);
  EXPECT_THAT(messages(plan), ElementsAre("Node worker-5: no spec.podCIDRs; no route to its pods"));
  EXPECT_EQ(plan.skipped_nodes, 0u);
}

TEST(RoutePlan, ADualStackNodeWithOnlyAnIpv4InternalIpGetsItsIpv4RouteOnly) {
  const auto cluster = nodes({node("b", {"10.240.0.12"}, {"10.200.2.0/24", "fd00:200:2::/64"})});
  const RoutePlan plan = plan_routes(cluster, config("a"));
  EXPECT_THAT(rendered(plan), ElementsAre("10.200.2.0/24 via 10.240.0.12 # node b"));
  EXPECT_THAT(messages(plan),
              ElementsAre("Node b: no InternalIP of family IPv6; no route to its pod CIDR fd00:200:2::/64"));
  EXPECT_EQ(plan.skipped_nodes, 1u);
}

TEST(RoutePlan, OverlappingClaimsKeepTheNodeThatSortsFirst) {
  const auto cluster = nodes({
      node("a", {"10.240.0.11"}, {"10.200.1.0/24"}),
      node("c", {"10.240.0.13"}, {"10.200.2.0/25"}),
      node("b", {"10.240.0.12"}, {"10.200.2.0/24"}),
      node("d", {"10.240.0.14"}, {"10.200.2.0/24"}),
  });
  const RoutePlan plan = plan_routes(cluster, config("a"));
  EXPECT_THAT(rendered(plan), ElementsAre("10.200.2.0/24 via 10.240.0.12 # node b"));
  EXPECT_THAT(messages(plan),
              ElementsAre("Node c: pod CIDR 10.200.2.0/25 overlaps pod CIDR 10.200.2.0/24 of node b; no route to it",
                          "Node d: pod CIDR 10.200.2.0/24 overlaps pod CIDR 10.200.2.0/24 of node b; no route to it"));
  EXPECT_EQ(plan.skipped_nodes, 2u);
}

TEST(RoutePlan, NoOtherNodeGetsThisNodesOwnPodCidr) {
  const auto cluster = nodes({
      node("z-self", {"10.240.0.11"}, {"10.200.0.0/16"}),
      node("a", {"10.240.0.12"}, {"10.200.2.0/24"}),
  });
  const RoutePlan plan = plan_routes(cluster, config("z-self"));
  EXPECT_THAT(plan.routes, IsEmpty());
  EXPECT_THAT(messages(plan), ElementsAre("Node a: pod CIDR 10.200.2.0/24 overlaps pod CIDR 10.200.0.0/16 of this "
                                          "node (z-self); no route to it"));
}

TEST(RoutePlan, EveryNodeIsDirectlyConnectedWhenAssumed) {
  auto cluster = kThreeWorkers;
  cluster["worker-4"] = node("worker-4", {"10.9.0.5"}, {"10.200.4.0/24"});
  RouteConfig c = config("worker-1", {});
  EXPECT_EQ(plan_routes(cluster, c).routes.size(), 0u);
  c.assume_directly_connected = true;
  const RoutePlan plan = plan_routes(cluster, c);
  EXPECT_EQ(plan.routes.size(), 3u);
  EXPECT_THAT(plan.diagnostics, IsEmpty());
}

TEST(RoutePlan, IsDeterministic) {
  auto cluster = kThreeWorkers;
  cluster["worker-0"] = node("worker-0", {"10.240.0.10", "fd00:240::10"}, {"fd00:200::/64", "10.200.0.0/24"});
  cluster["x"] = node("x", {"10.9.0.1"}, {"10.200.9.0/24"});
  const RoutePlan first = plan_routes(cluster, config("worker-1"));
  for (int i = 0; i < 5; ++i) {
    const RoutePlan again = plan_routes(cluster, config("worker-1"));
    EXPECT_EQ(again.routes, first.routes);
    EXPECT_EQ(messages(again), messages(first));
  }
  EXPECT_THAT(messages(first), SizeIs(1));
  EXPECT_TRUE(std::is_sorted(first.routes.begin(), first.routes.end()));
  EXPECT_EQ(render_route_plan(first),
            "10.200.0.0/24 via 10.240.0.10 # node worker-0\n"
            "10.200.2.0/24 via 10.240.0.12 # node worker-2\n"
            "10.200.3.0/24 via 10.240.0.13 # node worker-3\n"
            "fd00:200::/64 via fd00:240::10 # node worker-0\n");
}

TEST(RouteDiff, AddsReplacesAndRemovesByDestination) {
  const std::vector<Route> from = {
      {cidr("10.200.1.0/24"), ip("10.240.0.11"), "worker-1"},
      {cidr("10.200.2.0/24"), ip("10.240.0.12"), "worker-2"},
      {cidr("10.200.3.0/24"), ip("10.240.0.13"), "worker-3"},
  };
  const std::vector<Route> to = {
      {cidr("10.200.4.0/24"), ip("10.240.0.14"), "worker-4"},
      {cidr("10.200.2.0/24"), ip("10.240.0.22"), "worker-2"},
      {cidr("10.200.3.0/24"), ip("10.240.0.13"), "renamed"},
  };
  const RouteDiff diff = diff_routes(from, to);
  EXPECT_THAT(diff.add, ElementsAre(Route{cidr("10.200.4.0/24"), ip("10.240.0.14"), "worker-4"}));
  EXPECT_THAT(diff.replace, ElementsAre(Route{cidr("10.200.2.0/24"), ip("10.240.0.22"), "worker-2"}));
  EXPECT_THAT(diff.remove, ElementsAre(Route{cidr("10.200.1.0/24"), ip("10.240.0.11"), "worker-1"}));
  EXPECT_FALSE(diff.empty());
}

TEST(RouteDiff, EqualPlansGiveAnEmptyDiff) {
  const RoutePlan plan = plan_routes(kThreeWorkers, config("worker-1"));
  EXPECT_TRUE(diff_routes(plan.routes, plan.routes).empty());
  EXPECT_EQ(diff_routes({}, plan.routes).add, plan.routes);
  EXPECT_EQ(diff_routes(plan.routes, {}).remove, plan.routes);
}

TEST(RouteDiff, FollowsTheClusterAsNodesComeAndGo) {
  auto cluster = kThreeWorkers;
  const RoutePlan before = plan_routes(cluster, config("worker-1"));
  cluster["worker-4"] = node("worker-4", {"10.240.0.14"}, {"10.200.4.0/24"});
  cluster.erase("worker-2");
  cluster["worker-3"].addresses = {{"InternalIP", "10.240.0.33"}};
  const RouteDiff diff = diff_routes(before.routes, plan_routes(cluster, config("worker-1")).routes);
  EXPECT_THAT(diff.add, ElementsAre(Route{cidr("10.200.4.0/24"), ip("10.240.0.14"), "worker-4"}));
  EXPECT_THAT(diff.replace, ElementsAre(Route{cidr("10.200.3.0/24"), ip("10.240.0.33"), "worker-3"}));
  EXPECT_THAT(diff.remove, ElementsAre(Route{cidr("10.200.2.0/24"), ip("10.240.0.12"), "worker-2"}));
}

TEST(RoutePlanComments, AreCommentLinesOnly) {
  auto cluster = kThreeWorkers;
  cluster["worker-4"] = node("worker-4", {"10.9.0.5"}, {"10.200.4.0/24"});
  const RouteConfig c = config("worker-1");
  const std::string text = render_route_plan_comments(plan_routes(cluster, c), cluster, c);
  EXPECT_EQ(text,
            "# Static pod-CIDR routes for node worker-1 (kubenat run --routes):\n"
            "# 10.200.2.0/24 via 10.240.0.12 # node worker-2\n"
            "# 10.200.3.0/24 via 10.240.0.13 # node worker-3\n"
            "# skipped: Node worker-4: InternalIP 10.9.0.5 is not on a directly connected subnet; no route to its "
            "pod CIDR 10.200.4.0/24\n");
}

TEST(RoutePlanComments, AreEmptyWhenNoNodeHasAPodCidr) {
  const auto cluster = nodes({node("a", {"10.240.0.11"}, {}), node("b", {"10.240.0.12"}, {})});
  const RouteConfig c = config("a");
  EXPECT_EQ(render_route_plan_comments(plan_routes(cluster, c), cluster, c), "");
}

TEST(RoutePlanComments, SayWhenNoRouteIsNeeded) {
  const auto cluster = nodes({node("a", {"10.240.0.11"}, {"10.200.1.0/24"})});
  RouteConfig c = config("a");
  c.assume_directly_connected = true;
  EXPECT_THAT(render_route_plan_comments(plan_routes(cluster, c), cluster, c),
              HasSubstr("# (every node taken as directly connected)\n# (none)\n"));
}

}  // namespace
}  // namespace kubenat
