// The sync loop with an in-memory kernel: what it syncs, and when.

#include "engine/sync_loop.h"

#include <algorithm>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/iptables/backend.h"
#include "engine/iptables/proxier.h"
#include "engine/iptables/syncer.h"
#include "rules/iptables/chain_names.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_iptables.h"

namespace kubenat {
namespace {

using namespace std::chrono_literals;
using namespace kubenat::testing;
using ::testing::HasSubstr;
using ::testing::Not;

class SyncLoopTest : public ::testing::Test {
 protected:
  SyncLoopTest()
      : backend_(iptables_, IpFamily::V4),
        syncer_(backend_, nullptr, clock_, IptablesSyncer::Options{1h, 1h}),
        proxier_(syncer_, config()),
        loop_(&proxier_, clock_, SyncLoop::Options{1s, 30s, {WatchedResource::Services, WatchedResource::EndpointSlices}, "node-a"}) {}

  static ProxyConfig config() {
    ProxyConfig c;
    c.node_name = "node-a";
    c.cluster_cidrs = {cidr("10.0.0.0/8")};
    return c;
  }

  void add(const std::string& name, const std::vector<std::string>& endpoints) {
    loop_.service_changed({"ns", name}, ServiceBuilder("ns", name).cluster_ip(ip_of(name)).port("http", 80).build());
    SliceBuilder slice("ns", name);
    slice.port("http", 8080);
    for (const std::string& ep : endpoints) slice.endpoint(ep, "node-a");
    loop_.slice_changed({"ns", name}, name + "-1", slice.build());
  }
  static std::string ip_of(const std::string& name) { return "10.96.0." + std::to_string(name.size() + name.back() % 50); }
  void list_everything() {
    loop_.synced(WatchedResource::Services);
    loop_.synced(WatchedResource::EndpointSlices);
  }
  static std::string svc(const std::string& name) { return svc_chain(ServicePortName{{"ns", name}, "http", Protocol::Tcp}); }

  FakeClock clock_;
  FakeIptables iptables_;
  IptablesBackend backend_;
  IptablesSyncer syncer_;
  IptablesProxier proxier_;
  SyncLoop loop_;
};

TEST_F(SyncLoopTest, NothingIsSyncedBeforeEveryResourceIsListed) {
  add("web", {"10.1.0.1"});
  EXPECT_FALSE(loop_.sync_now());
  loop_.synced(WatchedResource::Services);
  EXPECT_FALSE(loop_.sync_now());
  loop_.synced(WatchedResource::EndpointSlices);
  auto report = loop_.sync_now();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->result.ok);
  EXPECT_TRUE(iptables_.has_chain("nat", svc("web")));
}

TEST(SyncLoopListingTest, EachResourcesFirstListIsToldToTheObserverWithItsObjectCount) {
  struct Listed : SyncObserver {
    std::vector<std::pair<WatchedResource, std::size_t>> seen;
    void resource_listed(WatchedResource resource, std::size_t objects) override { seen.emplace_back(resource, objects); }
  } observer;
  FakeClock clock;
  SyncLoop loop(nullptr, clock, SyncLoop::Options{}, &observer);
  loop.service_changed({"ns", "a"}, ServiceBuilder("ns", "a").cluster_ip("10.96.0.1").port("http", 80).build());
  SliceBuilder slice("ns", "a");
  slice.port("http", 8080).endpoint("10.0.0.1", "node-a");
  loop.slice_changed({"ns", "a"}, "a-1", slice.build());
  loop.slice_changed({"ns", "a"}, "a-2", slice.build());
  loop.synced(WatchedResource::Services);
  loop.synced(WatchedResource::EndpointSlices);
  loop.synced(WatchedResource::Services);  // a relist: told as a watch incident, not again here
  EXPECT_THAT(observer.seen, ::testing::ElementsAre(std::pair{WatchedResource::Services, std::size_t{1}},
                                                    std::pair{WatchedResource::EndpointSlices, std::size_t{2}}));
}

TEST_F(SyncLoopTest, FirstSyncIsFull) {
  add("web", {"10.1.0.1"});
  list_everything();
  EXPECT_TRUE(loop_.sync_now()->result.full);
}

TEST_F(SyncLoopTest, AChangedServiceIsTheOnlyOneWritten) {
  add("web", {"10.1.0.1"});
  add("api", {"10.1.0.2"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now()->result.ok);
  iptables_.clear_restores();

  add("web", {"10.1.0.1", "10.1.0.3"});
  auto report = loop_.sync_now();
  ASSERT_TRUE(report && report->result.ok) << report->result.error;
  EXPECT_FALSE(report->result.full);
  EXPECT_EQ(report->endpoints_changed, 1u);
  ASSERT_EQ(iptables_.restores().size(), 1u);
  const std::string& payload = iptables_.restores()[0].payload;
  EXPECT_THAT(payload, HasSubstr(svc("web")));
  EXPECT_THAT(payload, Not(HasSubstr(svc("api"))));
  EXPECT_THAT(payload, Not(HasSubstr(":KUBE-SERVICES ")));
}

TEST_F(SyncLoopTest, AnUpdateThatChangesNothingIsNotAChange) {
  add("web", {"10.1.0.1"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now());
  iptables_.clear_restores();
  add("web", {"10.1.0.1"});
  auto report = loop_.sync_now();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->services_changed + report->endpoints_changed, 0u);
  EXPECT_TRUE(iptables_.restores().empty());
}

TEST_F(SyncLoopTest, DeletedServiceLosesItsChains) {
  add("web", {"10.1.0.1"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now());
  loop_.service_changed({"ns", "web"}, std::nullopt);
  loop_.slice_changed({"ns", "web"}, "web-1", std::nullopt);
  ASSERT_TRUE(loop_.sync_now()->result.ok);
  EXPECT_FALSE(iptables_.has_chain("nat", svc("web")));
}

TEST_F(SyncLoopTest, LatencyIsReportedForEachChangedServiceFromItsFirstChange) {
  add("web", {"10.1.0.1"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now());
  add("web", {"10.1.0.1", "10.1.0.2"});
  clock_.advance(300ms);
  add("web", {"10.1.0.1", "10.1.0.2", "10.1.0.3"});
  clock_.advance(200ms);
  auto report = loop_.sync_now();
  ASSERT_TRUE(report);
  ASSERT_EQ(report->programming_latencies.size(), 1u);
  EXPECT_EQ(report->programming_latencies[0], 500ms);
}

TEST_F(SyncLoopTest, LatencyIsReportedOnceForEachChangedServiceWhateverChangedInIt) {
  add("web", {"10.1.0.1"});
  add("db", {"10.1.0.9"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now());
  loop_.service_changed({"ns", "web"}, std::nullopt);
  clock_.advance(100ms);
  add("db", {"10.1.0.9", "10.1.0.10"});
  clock_.advance(50ms);
  loop_.slice_changed({"ns", "web"}, "web-1", std::nullopt);
  auto report = loop_.sync_now();
  ASSERT_TRUE(report);
  std::vector<std::chrono::steady_clock::duration> latencies = report->programming_latencies;
  std::sort(latencies.begin(), latencies.end());
  EXPECT_EQ(latencies, (std::vector<std::chrono::steady_clock::duration>{50ms, 150ms}));
}

TEST_F(SyncLoopTest, TheFirstSyncReportsAllServicesRatherThanEachName) {
  add("web", {"10.1.0.1"});
  list_everything();
  auto first = loop_.sync_now();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->all_services);
  EXPECT_TRUE(first->changed_services.empty());
  add("web", {"10.1.0.1", "10.1.0.2"});
  auto second = loop_.sync_now();
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->all_services);
  EXPECT_EQ(second->changed_services, (std::set<ObjectName>{{"ns", "web"}}));
}

TEST_F(SyncLoopTest, ASyncReportsTheTriggerTimesOfWhatItApplied) {
  add("web", {"10.1.0.1"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now());
  const auto trigger = std::chrono::system_clock::time_point(1'700'000'000s);
  SliceBuilder slice("ns", "web");
  slice.port("http", 8080).endpoint("10.1.0.1", "node-a").endpoint("10.1.0.2", "node-a");
  EndpointSlice changed = slice.build();
  changed.last_change_trigger_time = trigger;
  loop_.slice_changed({"ns", "web"}, "web-1", changed);
  loop_.slice_changed({"ns", "web"}, "web-1", changed);  // the same again: no change, no second time
  auto report = loop_.sync_now();
  ASSERT_TRUE(report && report->result.ok);
  EXPECT_EQ(report->trigger_times, (std::vector<std::chrono::system_clock::time_point>{trigger}));
  EXPECT_TRUE(loop_.sync_now()->trigger_times.empty()) << "reported once";
}

TEST_F(SyncLoopTest, AFailedSyncDropsItsTriggerTimes) {
  add("web", {"10.1.0.1"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now());
  Service service = ServiceBuilder("ns", "web").cluster_ip(ip_of("web")).port("http", 81).build();
  service.last_change_trigger_time = std::chrono::system_clock::time_point(1'700'000'000s);
  loop_.service_changed({"ns", "web"}, service);
  iptables_.fail_next_restore("iptables-restore: line 1 failed");
  auto report = loop_.sync_now();
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->result.ok);
  EXPECT_TRUE(report->trigger_times.empty());
}

TEST_F(SyncLoopTest, ThisNodesChangeRecompilesEverythingOtherNodesNothing) {
  add("web", {"10.1.0.1"});
  list_everything();
  ASSERT_TRUE(loop_.sync_now());
  Node other;
  other.name = "node-b";
  loop_.node_changed("node-b", other);
  iptables_.clear_restores();
  ASSERT_TRUE(loop_.sync_now());
  EXPECT_TRUE(iptables_.restores().empty());

  Node self;
  self.name = "node-a";
  self.addresses = {{"InternalIP", "192.168.0.9"}};
  loop_.node_changed("node-a", self);
  ASSERT_TRUE(loop_.sync_now()->result.ok);
  ASSERT_TRUE(proxier_.plan());
  EXPECT_EQ(loop_.state().nodes.size(), 2u);
}

// Records what the loop tells about this node.
class NodeObserver final : public SyncObserver {
 public:
  void own_node_changed(const std::optional<Node>& node) override { seen.push_back(node); }
  std::vector<std::optional<Node>> seen;
};

TEST_F(SyncLoopTest, ThisNodesTaintsAreToldToTheObserverAndRecompileNothing) {
  NodeObserver observer;
  SyncLoop loop(&proxier_, clock_, SyncLoop::Options{1s, 30s, {WatchedResource::Services}, "node-a"}, &observer);
  loop.service_changed({"ns", "web"}, ServiceBuilder("ns", "web").cluster_ip("10.96.0.9").port("http", 80).build());
  loop.synced(WatchedResource::Services);
  Node self;
  self.name = "node-a";
  loop.node_changed("node-a", self);
  ASSERT_TRUE(loop.sync_now()->result.ok);

  self.taint_keys = {std::string(kToBeDeletedTaint)};
  loop.node_changed("node-a", self);
  Node other;
  other.name = "node-b";
  other.being_deleted = true;
  loop.node_changed("node-b", other);
  ASSERT_EQ(observer.seen.size(), 2u);
  EXPECT_EQ(observer.seen.back(), self);
  iptables_.clear_restores();
  ASSERT_TRUE(loop.sync_now()->result.ok);
  EXPECT_TRUE(iptables_.restores().empty()) << "a taint changes no rule";

  loop.node_changed("node-a", std::nullopt);
  ASSERT_EQ(observer.seen.size(), 3u);
  EXPECT_FALSE(observer.seen.back());
}

TEST_F(SyncLoopTest, RunSyncsOnceListedAndStopsWhenAsked) {
  add("web", {"10.1.0.1"});
  list_everything();
  std::thread runner([&] { loop_.run(); });
  for (int i = 0; i < 200 && loop_.syncs() == 0; ++i) std::this_thread::sleep_for(5ms);
  loop_.stop();
  runner.join();
  EXPECT_EQ(loop_.syncs(), 1u);
  EXPECT_TRUE(iptables_.has_chain("nat", svc("web")));
}

TEST_F(SyncLoopTest, RunCoalescesABurstIntoOneSync) {
  add("first", {"10.1.0.1"});
  list_everything();
  std::thread runner([&] { loop_.run(); });
  for (int i = 0; i < 200 && loop_.syncs() == 0; ++i) std::this_thread::sleep_for(5ms);
  // A burst within the min-sync period: nothing is due until the clock moves.
  for (int i = 0; i < 100; ++i) add("svc" + std::to_string(i), {"10.2.0." + std::to_string(i + 1)});
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(loop_.syncs(), 1u);
  clock_.advance(1s);
  for (int i = 0; i < 200 && loop_.syncs() < 2; ++i) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(150ms);
  loop_.stop();
  runner.join();
  EXPECT_EQ(loop_.syncs(), 2u);
  EXPECT_TRUE(iptables_.has_chain("nat", svc("svc99")));
}

}  // namespace
}  // namespace kubenat
