// The route proxier against an in-memory routing table: what it adds,
// replaces and deletes as nodes come and go, what it adopts at start, what
// it leaves alone, and what it reports.

#include "engine/routes/proxier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/sync_loop.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_route_backend.h"

namespace kubenat {
namespace {

using namespace kubenat::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int kProto = 214;

Node node(const std::string& name, std::vector<std::string> internal_ips, std::vector<std::string> pod_cidrs) {
  Node out;
  out.name = name;
  for (const std::string& address : internal_ips) out.addresses.push_back({"InternalIP", address});
  for (const std::string& text : pod_cidrs) out.pod_cidrs.push_back(cidr(text));
  return out;
}

KernelRoute kernel_route(const std::string& destination, std::optional<std::string> gateway, int protocol,
                         std::uint32_t priority = 0) {
  KernelRoute route;
  route.destination = cidr(destination);
  if (gateway) route.gateway = ip(*gateway);
  route.protocol = protocol;
  route.priority = priority;
  return route;
}

class RouteProxierTest : public ::testing::Test {
 protected:
  RouteProxierTest() : proxier_(backend_, RouteProxier::Options{"worker-1", kProto}) {
    backend_.set_subnets({cidr("10.240.0.0/24"), cidr("fd00:240::/64")});
    put(node("worker-1", {"10.240.0.11"}, {"10.200.1.0/24"}));
    put(node("worker-2", {"10.240.0.12"}, {"10.200.2.0/24"}));
    put(node("worker-3", {"10.240.0.13"}, {"10.200.3.0/24"}));
  }

  void put(Node n) { state_.nodes[n.name] = std::move(n); }
  SyncResult sync() { return proxier_.sync(state_, nullptr); }
  std::vector<std::string> ours() const { return backend_.routes_of(kProto); }

  FakeRouteBackend backend_;
  RouteProxier proxier_;
  ClusterState state_;
};

TEST_F(RouteProxierTest, AddsARouteToEveryOtherNodesPodCidr) {
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13"));
  ASSERT_TRUE(result.routes);
  EXPECT_EQ(result.routes->added, 2u);
  EXPECT_EQ(result.routes->programmed, 2u);
  EXPECT_EQ(result.stats.objects_written, 2u);
  EXPECT_THAT(result.warnings, IsEmpty());
}

TEST_F(RouteProxierTest, ASecondSyncChangesNothingAndDumpsOnce) {
  ASSERT_TRUE(sync().ok);
  backend_.clear_log();
  const int dumps = backend_.dumps();
  const SyncResult result = sync();
  EXPECT_TRUE(result.ok);
  EXPECT_THAT(backend_.log(), IsEmpty());
  EXPECT_EQ(backend_.dumps(), dumps + 1);
  EXPECT_EQ(result.routes->programmed, 2u);
  EXPECT_EQ(result.routes->added + result.routes->replaced + result.routes->deleted, 0u);
}

TEST_F(RouteProxierTest, ReplacesTheRouteWhenANodesIpChanges) {
  ASSERT_TRUE(sync().ok);
  backend_.clear_log();
  put(node("worker-2", {"10.240.0.22"}, {"10.200.2.0/24"}));
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.22", "10.200.3.0/24 via 10.240.0.13"));
  EXPECT_THAT(backend_.log(), ElementsAre("replace 10.200.2.0/24 via 10.240.0.22 proto 214"));
  EXPECT_EQ(result.routes->replaced, 1u);
}

TEST_F(RouteProxierTest, MovesTheRouteWhenANodesPodCidrChanges) {
  ASSERT_TRUE(sync().ok);
  put(node("worker-2", {"10.240.0.12"}, {"10.200.22.0/24"}));
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.22.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13"));
  EXPECT_EQ(result.routes->added, 1u);
  EXPECT_EQ(result.routes->deleted, 1u);
}

TEST_F(RouteProxierTest, DeletesTheRouteOfARemovedNode) {
  ASSERT_TRUE(sync().ok);
  state_.nodes.erase("worker-3");
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12"));
  EXPECT_EQ(result.routes->deleted, 1u);
  EXPECT_EQ(result.stats.objects_deleted, 1u);
}

TEST_F(RouteProxierTest, RestartAdoptsItsRoutesAndRemovesStaleOnesOnly) {
  // An earlier run left: a route still planned, one with an old gateway, and
  // one for a node that is gone. Others' routes sit beside them.
  backend_.put(kernel_route("10.200.2.0/24", "10.240.0.12", kProto));
  backend_.put(kernel_route("10.200.3.0/24", "10.240.0.99", kProto));
  backend_.put(kernel_route("10.200.9.0/24", "10.240.0.19", kProto));
  backend_.put(kernel_route("10.240.0.0/24", std::nullopt, 2));
  backend_.put(kernel_route("192.168.0.0/16", "10.240.0.1", 4));
  backend_.put(kernel_route("10.201.0.0/16", "10.240.0.1", 12));
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13"));
  EXPECT_THAT(backend_.log(), ElementsAre("remove 10.200.9.0/24 via 10.240.0.19 proto 214",
                                          "replace 10.200.3.0/24 via 10.240.0.13 proto 214"));
  EXPECT_THAT(backend_.routes_of(2), ElementsAre("10.240.0.0/24 via -"));
  EXPECT_THAT(backend_.routes_of(4), ElementsAre("192.168.0.0/16 via 10.240.0.1"));
  EXPECT_THAT(backend_.routes_of(12), ElementsAre("10.201.0.0/16 via 10.240.0.1"));
}

TEST_F(RouteProxierTest, StrayRoutesOfOurProtocolAreDeleted) {
  // Nothing kubenat writes: a device route, and a second route to a planned
  // destination with another metric.
  backend_.put(kernel_route("10.200.7.0/24", std::nullopt, kProto));
  backend_.put(kernel_route("10.200.2.0/24", "10.240.0.12", kProto));
  backend_.put(kernel_route("10.200.2.0/24", "10.240.0.77", kProto, 50));
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13"));
  EXPECT_EQ(result.routes->deleted, 2u);
}

TEST_F(RouteProxierTest, AConflictingRouteOfAnotherProtocolIsReportedAndNotReplaced) {
  backend_.put(kernel_route("10.200.3.0/24", "10.240.0.1", 4));
  const SyncResult result = sync();
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12"));
  EXPECT_THAT(backend_.routes_of(4), ElementsAre("10.200.3.0/24 via 10.240.0.1"));
  ASSERT_THAT(result.warnings, SizeIs(1));
  EXPECT_EQ(result.warnings[0],
            "route 10.200.3.0/24 via 10.240.0.13 (node worker-3) not programmed: the main table has 10.200.3.0/24 via "
            "10.240.0.1 proto 4 (static), not kubenat's (proto 214); it is left alone");
  EXPECT_EQ(result.routes->conflicts, 1u);
  EXPECT_EQ(result.routes->programmed, 1u);
  // Said once; counted every time.
  const SyncResult again = sync();
  EXPECT_THAT(again.warnings, IsEmpty());
  EXPECT_EQ(again.routes->conflicts, 1u);
  // Once the other route is gone, ours goes in.
  backend_.erase(cidr("10.200.3.0/24"));
  EXPECT_TRUE(sync().ok);
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13"));
}

TEST_F(RouteProxierTest, ARouteDeletedByHandIsRestoredAtTheNextSync) {
  ASSERT_TRUE(sync().ok);
  backend_.erase(cidr("10.200.2.0/24"));
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13"));
  EXPECT_EQ(result.routes->added, 1u);
}

TEST_F(RouteProxierTest, ANodeNotDirectlyConnectedIsSkippedWithAWarningAndCounted) {
  put(node("worker-4", {"10.9.0.5"}, {"10.200.4.0/24"}));
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), SizeIs(2));
  EXPECT_THAT(result.warnings,
              ElementsAre("Node worker-4: InternalIP 10.9.0.5 is not on a directly connected subnet; no route to its "
                          "pod CIDR 10.200.4.0/24"));
  EXPECT_EQ(result.routes->skipped_nodes, 1u);
  EXPECT_THAT(sync().warnings, IsEmpty());
}

TEST_F(RouteProxierTest, ANewConnectedSubnetMakesANodeReachable) {
  put(node("worker-4", {"10.9.0.5"}, {"10.200.4.0/24"}));
  ASSERT_TRUE(sync().ok);
  backend_.set_subnets({cidr("10.240.0.0/24"), cidr("10.9.0.0/24")});
  const SyncResult result = sync();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13",
                                  "10.200.4.0/24 via 10.9.0.5"));
  EXPECT_EQ(result.routes->skipped_nodes, 0u);
}

TEST_F(RouteProxierTest, DualStackRoutesBothFamilies) {
  put(node("worker-2", {"10.240.0.12", "fd00:240::12"}, {"10.200.2.0/24", "fd00:200:2::/64"}));
  ASSERT_TRUE(sync().ok);
  EXPECT_THAT(ours(), ElementsAre("10.200.2.0/24 via 10.240.0.12", "10.200.3.0/24 via 10.240.0.13",
                                  "fd00:200:2::/64 via fd00:240::12"));
  // The kernel keeps IPv6 routes at metric 1024; the next sync still finds
  // them equal, and a changed gateway replaces that very route.
  backend_.clear_log();
  EXPECT_TRUE(sync().ok);
  EXPECT_THAT(backend_.log(), IsEmpty());
  put(node("worker-2", {"10.240.0.12", "fd00:240::22"}, {"10.200.2.0/24", "fd00:200:2::/64"}));
  ASSERT_TRUE(sync().ok);
  EXPECT_THAT(backend_.log(), ElementsAre("replace fd00:200:2::/64 via fd00:240::22 proto 214 metric 1024"));
  EXPECT_THAT(ours(), SizeIs(3));
}

TEST_F(RouteProxierTest, AFailedAddFailsTheSyncNamingTheRouteAndTheNextSyncRetries) {
  backend_.fail("add", ENOMEM);
  const SyncResult failed = sync();
  EXPECT_FALSE(failed.ok);
  EXPECT_THAT(failed.error, HasSubstr("add failed: Cannot allocate memory (ENOMEM)"));
  EXPECT_EQ(failed.routes->programmed, 0u);
  backend_.fail("add", std::nullopt);
  const SyncResult retried = sync();
  EXPECT_TRUE(retried.ok) << retried.error;
  EXPECT_THAT(ours(), SizeIs(2));
}

TEST_F(RouteProxierTest, AFailedDumpChangesNothing) {
  ASSERT_TRUE(sync().ok);
  backend_.clear_log();
  state_.nodes.erase("worker-2");
  backend_.fail("list", EBUSY);
  const SyncResult result = sync();
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.error, HasSubstr("list failed: Device or resource busy (EBUSY)"));
  EXPECT_FALSE(result.routes) << "counts of a table that could not be read";
  EXPECT_THAT(backend_.log(), IsEmpty());
  EXPECT_THAT(ours(), SizeIs(2));
}

TEST_F(RouteProxierTest, ARouteAlreadyGoneCountsAsDeleted) {
  ASSERT_TRUE(sync().ok);
  state_.nodes.erase("worker-2");
  backend_.fail("remove", ESRCH);
  const SyncResult result = sync();
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.routes->deleted, 1u);
}

TEST_F(RouteProxierTest, ARaceLostToAnotherRouteIsAConflict) {
  // The other route appears after the dump: the EXCL add refuses to
  // overwrite it.
  backend_.fail("add", EEXIST);
  const SyncResult result = sync();
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.routes->conflicts, 2u);
  EXPECT_THAT(result.warnings, SizeIs(2));
}

// The proxier in the sync loop, without a service proxier: routes only.
TEST(RouteProxierInSyncLoop, RoutesOnlyFollowEveryNodesChanges) {
  FakeClock clock;
  FakeRouteBackend backend;
  backend.set_subnets({cidr("10.240.0.0/24")});
  RouteProxier routes(backend, RouteProxier::Options{"worker-1", kProto});
  SyncLoop::Options options{std::chrono::seconds(1), std::chrono::seconds(30), {WatchedResource::Nodes}, "worker-1",
                            true};
  SyncLoop loop(nullptr, clock, options);
  loop.add_proxier(routes);
  loop.node_changed("worker-2", node("worker-2", {"10.240.0.12"}, {"10.200.2.0/24"}));
  EXPECT_FALSE(loop.sync_now());
  loop.synced(WatchedResource::Nodes);
  auto report = loop.sync_now();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->result.ok);
  ASSERT_THAT(report->other_results, SizeIs(1));
  EXPECT_TRUE(report->other_results[0].ok);
  EXPECT_THAT(backend.routes_of(kProto), ElementsAre("10.200.2.0/24 via 10.240.0.12"));
  loop.node_changed("worker-2", std::nullopt);
  ASSERT_TRUE(loop.sync_now());
  EXPECT_THAT(backend.routes_of(kProto), IsEmpty());
}

TEST(RouteProtocolName, NamesWellKnownProtocols) {
  EXPECT_EQ(route_protocol_name(2), "kernel");
  EXPECT_EQ(route_protocol_name(12), "bird");
  EXPECT_EQ(route_protocol_name(214), "214");
}

}  // namespace
}  // namespace kubenat
