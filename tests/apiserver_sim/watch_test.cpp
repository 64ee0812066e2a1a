// WATCH: resumption from a resourceVersion, synthetic ADDED events,
// bookmarks, selections, timeouts and 410 for a resourceVersion older than
// the event window.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/apiserver_sim/sim_fixture.h"

namespace kubenat::apiserver_sim::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

std::vector<std::string> summary(const std::vector<json>& events) {
  std::vector<std::string> out;
  for (const json& event : events) {
    out.push_back(event["type"].get<std::string>() + " " + event["object"]["metadata"].value("name", std::string("-")));
  }
  return out;
}

TEST_F(SimTest, WatchFromAResourceVersionGetsExactlyTheLaterEventsInOrder) {
  json first = create_service("a");
  create_service("b");
  ASSERT_EQ(call("PATCH", "/api/v1/namespaces/default/services/a", R"({"metadata":{"labels":{"x":"1"}}})",
                 "application/merge-patch+json")
                .status,
            200);
  ASSERT_EQ(call("DELETE", "/api/v1/namespaces/default/services/b").status, 200);

  auto watch = this->watch("/api/v1/services?watch=1&timeoutSeconds=1&resourceVersion=" + rv_of(first));
  ASSERT_TRUE(watch);
  EXPECT_EQ(watch->status(), 200);
  std::vector<json> events = watch->rest();
  EXPECT_THAT(summary(events), ElementsAre("ADDED b", "MODIFIED a", "DELETED b"));
  std::uint64_t previous = rv_number(first);
  for (const json& event : events) {
    EXPECT_GT(rv_number(event["object"]), previous);
    previous = rv_number(event["object"]);
  }
  EXPECT_EQ(previous, sim_->resource_version());
}

TEST_F(SimTest, WatchSeesWritesMadeWhileItIsOpen) {
  auto watch = this->watch("/api/v1/namespaces/default/services?watch=true&resourceVersion=" +
                           std::to_string(sim_->resource_version()));
  ASSERT_TRUE(watch);
  json created = create_service("live");
  json event = watch->event();
  EXPECT_EQ(event["type"], "ADDED");
  EXPECT_EQ(event["object"], created);
  create_service("elsewhere", "other");  // another namespace: not this watch's
  ASSERT_EQ(call("DELETE", "/api/v1/namespaces/default/services/live").status, 200);
  json deleted = watch->event();
  EXPECT_EQ(deleted["type"], "DELETED");
  EXPECT_EQ(deleted["object"]["metadata"]["name"], "live");
}

TEST_F(SimTest, WatchWithoutResourceVersionStartsWithSyntheticAdds) {
  create_service("a");
  create_service("b");
  auto watch = this->watch("/api/v1/services?watch=1&timeoutSeconds=1");
  ASSERT_TRUE(watch);
  EXPECT_THAT(summary(watch->rest()), ElementsAre("ADDED a", "ADDED b"));
  auto quiet = this->watch("/api/v1/services?watch=1&timeoutSeconds=1&sendInitialEvents=false");
  ASSERT_TRUE(quiet);
  EXPECT_THAT(quiet->rest(), SizeIs(0));
}

TEST_F(SimTest, BookmarksArriveWithTheCurrentResourceVersion) {
  Options options;
  options.bookmark_interval = std::chrono::milliseconds(100);
  start(options);
  create_service("a");
  auto watch = this->watch("/api/v1/services?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=" +
                           std::to_string(sim_->resource_version()));
  ASSERT_TRUE(watch);
  std::vector<json> events = watch->rest();
  ASSERT_GE(events.size(), 3u);
  for (const json& event : events) {
    EXPECT_EQ(event["type"], "BOOKMARK");
    EXPECT_EQ(event["object"]["kind"], "Service");
    EXPECT_EQ(event["object"]["apiVersion"], "v1");
    EXPECT_EQ(rv_number(event["object"]), sim_->resource_version());
  }
}

TEST_F(SimTest, BookmarksFollowWritesToOtherResources) {
  Options options;
  options.bookmark_interval = std::chrono::milliseconds(50);
  start(options);
  auto watch = this->watch("/apis/discovery.k8s.io/v1/endpointslices?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                           std::to_string(sim_->resource_version()));
  ASSERT_TRUE(watch);
  create_service("a");  // not a slice: only the bookmark moves
  const std::string wanted = std::to_string(sim_->resource_version());
  for (int i = 0; i < 20; ++i) {
    json event = watch->event();
    ASSERT_EQ(event["type"], "BOOKMARK");
    if (rv_of(event["object"]) == wanted) return;
  }
  FAIL() << "no bookmark at " << wanted;
}

TEST_F(SimTest, InitialEventsEndWithAnAnnotatedBookmark) {
  create_service("a");
  auto watch = this->watch("/api/v1/services?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&"
                           "resourceVersionMatch=NotOlderThan&timeoutSeconds=1");
  ASSERT_TRUE(watch);
  json added = watch->event();
  EXPECT_EQ(added["type"], "ADDED");
  json end = watch->event();
  EXPECT_EQ(end["type"], "BOOKMARK");
  EXPECT_EQ(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

TEST_F(SimTest, SelectionsTurnChangesIntoAddsAndDeletes) {
  create_service("a", "default", {{"team", "blue"}});
  auto watch = this->watch("/api/v1/services?watch=1&labelSelector=team%3Dred&resourceVersion=" +
                           std::to_string(sim_->resource_version()));
  ASSERT_TRUE(watch);
  const std::string path = "/api/v1/namespaces/default/services/a";
  ASSERT_EQ(call("PATCH", path, R"({"metadata":{"labels":{"team":"red"}}})", "application/merge-patch+json").status, 200);
  EXPECT_EQ(watch->event()["type"], "ADDED");
  ASSERT_EQ(call("PATCH", path, R"({"metadata":{"annotations":{"n":"1"}}})", "application/merge-patch+json").status, 200);
  EXPECT_EQ(watch->event()["type"], "MODIFIED");
  ASSERT_EQ(call("PATCH", path, R"({"metadata":{"labels":{"team":"blue"}}})", "application/merge-patch+json").status, 200);
  EXPECT_EQ(watch->event()["type"], "DELETED");
}

TEST_F(SimTest, WatchByFieldSelectorAndByName) {
  auto by_field = this->watch("/api/v1/namespaces/default/services?watch=1&fieldSelector=metadata.name%3Db&"
                              "resourceVersion=" + std::to_string(sim_->resource_version()));
  auto by_path = this->watch("/api/v1/watch/namespaces/default/services/b?resourceVersion=" +
                             std::to_string(sim_->resource_version()));
  ASSERT_TRUE(by_field);
  ASSERT_TRUE(by_path);
  create_service("a");
  create_service("b");
  for (WatchReader* watch : {&*by_field, &*by_path}) {
    json event = watch->event();
    EXPECT_EQ(event["type"], "ADDED");
    EXPECT_EQ(event["object"]["metadata"]["name"], "b");
  }
}

TEST_F(SimTest, TimeoutSecondsEndsTheStreamCleanly) {
  const auto started = std::chrono::steady_clock::now();
  auto watch = this->watch("/api/v1/services?watch=1&timeoutSeconds=1&resourceVersion=" +
                           std::to_string(sim_->resource_version()));
  ASSERT_TRUE(watch);
  auto end = watch->line(std::chrono::seconds(5));
  ASSERT_TRUE(end) << end.error();
  EXPECT_FALSE(*end);  // the final chunk, not a reset
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  // Unregistered right after the final chunk went out.
  for (int i = 0; i < 100 && sim_->stats().open_watches > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(sim_->stats().open_watches, 0u);
}

TEST_F(SimTest, AResourceVersionOlderThanTheWindowGetsA410ErrorEvent) {
  Options options;
  options.history_limit = 3;
  start(options);
  json first = create_service("a");
  for (int i = 0; i < 5; ++i) create_service("b" + std::to_string(i));
  auto watch = this->watch("/api/v1/services?watch=1&resourceVersion=" + rv_of(first));
  ASSERT_TRUE(watch);
  EXPECT_EQ(watch->status(), 200);
  json error = watch->event();
  EXPECT_EQ(error["type"], "ERROR");
  EXPECT_EQ(error["object"]["kind"], "Status");
  EXPECT_EQ(error["object"]["code"], 410);
  EXPECT_EQ(error["object"]["reason"], "Expired");
  auto end = watch->line();
  ASSERT_TRUE(end) << end.error();
  EXPECT_FALSE(*end);
  EXPECT_EQ(sim_->stats().expired, 1u);

  // The newest resourceVersion is still fine.
  auto fresh = this->watch("/api/v1/services?watch=1&timeoutSeconds=1&resourceVersion=" +
                           std::to_string(sim_->resource_version()));
  ASSERT_TRUE(fresh);
  EXPECT_THAT(fresh->rest(), SizeIs(0));
}

TEST_F(SimTest, TheEventWindowCanBeATimeWindow) {
  Options options;
  options.history_age = std::chrono::milliseconds(200);
  start(options);
  json old = create_service("old");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json recent = create_service("recent");
  // The event that made "old" is forgotten: resuming from before it fails.
  auto expired = this->watch("/api/v1/services?watch=1&resourceVersion=" + std::to_string(rv_number(old) - 1));
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->event()["object"]["code"], 410);
  auto fine = this->watch("/api/v1/services?watch=1&timeoutSeconds=1&resourceVersion=" +
                          std::to_string(rv_number(recent) - 1));
  ASSERT_TRUE(fine);
  EXPECT_THAT(summary(fine->rest()), ElementsAre("ADDED recent"));
}

TEST_F(SimTest, ManyWatchersAllSeeEveryEvent) {
  std::vector<WatchReader> watches;
  const std::string from = std::to_string(sim_->resource_version());
  for (int i = 0; i < 8; ++i) {
    auto watch = this->watch("/api/v1/services?watch=1&resourceVersion=" + from);
    ASSERT_TRUE(watch);
    watches.push_back(std::move(*watch));
  }
  for (int i = 0; i < 50; ++i) create_service("svc-" + std::to_string(i));
  for (WatchReader& watch : watches) {
    for (int i = 0; i < 50; ++i) {
      json event = watch.event();
      ASSERT_EQ(event["object"]["metadata"]["name"], "svc-" + std::to_string(i));
    }
  }
  EXPECT_EQ(sim_->stats().watches.at("services"), 8u);
}

}  // namespace
}  // namespace kubenat::apiserver_sim::testing
