// Static-route mode end to end: workers on one LAN (tests/e2e/lan_world.h),
// each with a pod in its own pod CIDR, and `kubenat run --routes` on every
// worker against the API server simulator. Real connections between pods
// prove the routes:
//
//                         lan ns: bridge br0 10.240.0.1/24, the simulator on 10.240.0.1:6443
//            ┌──────────────────────────┼──────────────────────────┐
//   worker ns N: eth0 10.240.0.(10+N)/24, ip_forward, kubenat run --routes --hostname-override worker-N
//                pod0 10.200.N.1/24 ── pod ns N: eth0 10.200.N.10/24, 10.200.0.0/16 via 10.200.N.1
//
// The only way from a pod to another worker's pod is a route on the worker
// for that worker's pod CIDR, through its InternalIP: what kubenat programs
// from the Node objects (spec.podCIDRs, status.addresses). There is no
// default route anywhere, so a missing route is "unreachable" at once.
//
// Workers 1 and 2 run routes alone (--proxy-mode none); worker 3 runs routes
// together with the iptables proxy in one daemon.
//
// Names: "kn<pid>r<k>-lan", "-w<N>", "-p<N>" (k counts worlds in this
// process), which cleanup_stale_namespaces.sh recognises; everything is
// removed by the world's destructor, also when a test fails.

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "tests/e2e/lan_world.h"
#include "tests/e2e/netns_world.h"

namespace kubenat::e2e {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

const std::vector<std::string> kRoutesOnly = {"--routes", "--proxy-mode", "none"};
const std::vector<std::string> kRoutesAndProxy = {"--routes", "--cluster-cidr", "10.200.0.0/16"};

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto world = LanWorld::create();
    ASSERT_TRUE(world) << world.error();
    w_ = std::move(*world);
    for (int n = 1; n <= 3; ++n) {
      auto added = w_->add_worker(n, n == 3 ? kRoutesAndProxy : kRoutesOnly);
      ASSERT_TRUE(added) << added.error() << "\n" << w_->all_logs();
    }
  }
  void TearDown() override {
    if (w_ && HasFailure()) std::cerr << w_->all_logs();
  }

  // Every pod of `workers` reaches every other one, within `limit`.
  void expect_full_mesh(const std::vector<int>& workers, steady::duration limit = 5s) {
    for (int from : workers) {
      for (int to : workers) {
        if (from == to) continue;
        EXPECT_TRUE(wait_until([&] { return w_->reaches(from, to); }, limit))
            << "pod on worker-" << from << " cannot reach the pod on worker-" << to << ": " << w_->probe(from, to)
            << "\nworker-" << from << "'s route: " << w_->route_to(from, pod_cidr(to));
      }
    }
  }

  std::unique_ptr<LanWorld> w_;
};

TEST_F(RoutesTest, APodReachesPodsOnEveryOtherWorkerByTheirPodIps) {
  expect_full_mesh({1, 2, 3});
  EXPECT_EQ(w_->route_to(1, pod_cidr(2)), "10.200.2.0/24 via 10.240.0.12 dev eth0 proto 214");
  EXPECT_EQ(w_->route_to(1, pod_cidr(3)), "10.200.3.0/24 via 10.240.0.13 dev eth0 proto 214");
  EXPECT_EQ(w_->route_to(1, pod_cidr(1)), "10.200.1.0/24 dev pod0 proto kernel scope link src 10.200.1.1");
  EXPECT_TRUE(wait_until([&] { return w_->metric(1, "kubenat_routes") == 2.0; }, 5s));
  EXPECT_EQ(w_->metric(1, "kubenat_route_skipped_nodes"), 0.0);
}

TEST_F(RoutesTest, AFourthWorkerBecomesReachableWithoutTouchingTheOthers) {
  expect_full_mesh({1, 2, 3});
  auto added = w_->add_worker(4, kRoutesOnly);
  ASSERT_TRUE(added) << added.error();
  expect_full_mesh({1, 2, 3, 4});
  EXPECT_TRUE(wait_until([&] { return w_->metric(2, "kubenat_routes") == 3.0; }, 5s));
}

TEST_F(RoutesTest, DeletingANodeRemovesItsRoute) {
  expect_full_mesh({1, 2, 3});
  ASSERT_TRUE(w_->delete_node(worker_name(3)));
  for (int n : {1, 2}) {
    EXPECT_TRUE(wait_until([&] { return w_->route_to(n, pod_cidr(3)).empty(); }, 5s))
        << "worker-" << n << " still routes worker-3's pods: " << w_->route_to(n, pod_cidr(3));
  }
  EXPECT_EQ(w_->probe(1, 3), "unreachable");
  // The others are not disturbed.
  EXPECT_TRUE(w_->reaches(1, 2));
  EXPECT_TRUE(w_->reaches(2, 1));
}

TEST_F(RoutesTest, ARouteDeletedByHandComesBackAtTheNextSync) {
  expect_full_mesh({1, 2, 3});
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "del", pod_cidr(2)}));
  ASSERT_TRUE(w_->route_to(1, pod_cidr(2)).empty());
  // The sync period is 2 s: the periodic sync finds it missing.
  EXPECT_TRUE(wait_until([&] { return !w_->route_to(1, pod_cidr(2)).empty(); }, 5s));
  EXPECT_TRUE(wait_until([&] { return w_->reaches(1, 2); }, 2s)) << w_->probe(1, 2);
}

TEST_F(RoutesTest, StaleRoutesOfOursGoWhileOtherRoutesStayAndConflictsAreReported) {
  expect_full_mesh({1, 2, 3});
  // A route of our protocol for a node long gone (as an earlier run would
  // leave it), another daemon's route, and another protocol's route to a
  // pod CIDR kubenat is about to plan.
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "add", "10.200.99.0/24", "via", "10.240.0.12", "proto", "214"}));
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "add", "10.200.98.0/24", "via", "10.240.0.12", "proto", "bird"}));
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "add", pod_cidr(5), "via", "10.240.0.13", "proto", "static"}));
  // worker-5 has a Node but no namespace; worker-6 is on another network.
  ASSERT_TRUE(w_->create_node(worker_name(5), worker_ip(5), pod_cidr(5)));
  ASSERT_TRUE(w_->create_node(worker_name(6), "10.9.0.6", pod_cidr(6)));

  EXPECT_TRUE(wait_until([&] { return w_->route_to(1, "10.200.99.0/24").empty(); }, 5s));
  EXPECT_EQ(w_->route_to(1, "10.200.98.0/24"), "10.200.98.0/24 via 10.240.0.12 dev eth0 proto bird");
  // worker-1 leaves the static route alone and says so; worker-2 routes it.
  EXPECT_TRUE(wait_until([&] { return !w_->route_to(2, pod_cidr(5)).empty(); }, 5s));
  EXPECT_EQ(w_->route_to(2, pod_cidr(5)), "10.200.5.0/24 via 10.240.0.15 dev eth0 proto 214");
  EXPECT_EQ(w_->route_to(1, pod_cidr(5)), "10.200.5.0/24 via 10.240.0.13 dev eth0 proto static");
  EXPECT_TRUE(wait_until(
      [&] { return w_->daemon_log(1).find("route 10.200.5.0/24 via 10.240.0.15 (node worker-5) not programmed") !=
                   std::string::npos; },
      5s));
  // worker-6 cannot be reached directly: no route, a warning and the metric.
  EXPECT_TRUE(wait_until([&] { return w_->metric(1, "kubenat_route_skipped_nodes") == 1.0; }, 5s));
  EXPECT_NE(w_->daemon_log(1).find("Node worker-6: InternalIP 10.9.0.6 is not on a directly connected subnet; no "
                                   "route to its pod CIDR 10.200.6.0/24"),
            std::string::npos);
  EXPECT_TRUE(w_->route_to(1, pod_cidr(6)).empty());
  EXPECT_TRUE(wait_until([&] { return w_->metric(2, "kubenat_routes") == 3.0; }, 5s));
}

TEST_F(RoutesTest, ARestartedDaemonAdoptsItsRoutes) {
  expect_full_mesh({1, 2, 3});
  const std::size_t before = w_->daemon_log(1).size();
  ASSERT_TRUE(w_->start_daemon(1));
  // The restarted daemon's first route sync finds every route in place.
  std::string first_sync;
  EXPECT_TRUE(wait_until(
      [&] {
        const std::string log = w_->daemon_log(1).substr(before);
        const std::size_t at = log.find("routes: ");
        if (at == std::string::npos) return false;
        first_sync = log.substr(at, log.find('\n', at) - at);
        return true;
      },
      5s));
  EXPECT_EQ(first_sync, "routes: 0 added, 0 replaced, 0 deleted; 2 programmed, 0 in conflict, 0 nodes skipped");
  EXPECT_TRUE(w_->reaches(1, 2));
  EXPECT_TRUE(w_->reaches(2, 1));
}

}  // namespace
}  // namespace kubenat::e2e
