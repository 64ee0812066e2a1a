// LIST: selectors, limit/continue pagination over a consistent snapshot, and
// 410 Expired for a continue token older than the event window.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/apiserver_sim/sim_fixture.h"

namespace kubenat::apiserver_sim::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<std::string> names(const json& list) {
  std::vector<std::string> out;
  for (const json& item : list["items"]) out.push_back(item["metadata"]["name"]);
  return out;
}

TEST_F(SimTest, LabelSelectorsPickServiceSlices) {
  create_service("a");
  create_service("b");
  const std::string slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
  create(slice_object("a-1", "a"), slices);
  create(slice_object("a-2", "a"), slices);
  create(slice_object("b-1", "b"), slices);
  EXPECT_THAT(names(get_json(slices + "?labelSelector=kubernetes.io%2Fservice-name%3Da")), ElementsAre("a-1", "a-2"));
  EXPECT_THAT(names(get_json("/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io/service-name=b")),
              ElementsAre("b-1"));
  EXPECT_THAT(names(get_json(slices + "?labelSelector=kubernetes.io/service-name!=a")), ElementsAre("b-1"));
  EXPECT_THAT(names(get_json(slices + "?labelSelector=kubernetes.io/service-name%20in%20(a,b),!missing")),
              ElementsAre("a-1", "a-2", "b-1"));
  EXPECT_EQ(call("GET", slices + "?labelSelector=a%20in%20b").status, 400);
}

TEST_F(SimTest, FieldSelectorsPickByName) {
  create_service("a");
  create_service("b");
  create_service("b", "other");
  EXPECT_THAT(names(get_json("/api/v1/namespaces/default/services?fieldSelector=metadata.name%3Db")), ElementsAre("b"));
  EXPECT_THAT(get_json("/api/v1/services?fieldSelector=metadata.name%3Db")["items"], SizeIs(2));
  EXPECT_THAT(names(get_json("/api/v1/services?fieldSelector=metadata.namespace%3Dother")), ElementsAre("b"));
  EXPECT_THAT(names(get_json("/api/v1/namespaces/default/services?fieldSelector=metadata.name!%3Da")), ElementsAre("b"));
  EXPECT_THAT(get_json("/api/v1/namespaces/default/services?fieldSelector=metadata.name%3Dnone")["items"], IsEmpty());
}

TEST_F(SimTest, PagesFollowEachOtherAndShareTheSnapshotsResourceVersion) {
  for (int i = 0; i < 25; ++i) create_service("svc-" + std::to_string(100 + i));
  std::vector<std::string> seen;
  std::string token;
  std::string snapshot_rv;
  int pages = 0;
  do {
    json page = get_json("/api/v1/services?limit=10" + (token.empty() ? "" : "&continue=" + token));
    ++pages;
    if (snapshot_rv.empty()) snapshot_rv = page["metadata"]["resourceVersion"];
    EXPECT_EQ(page["metadata"]["resourceVersion"], snapshot_rv);
    for (const std::string& name : names(page)) seen.push_back(name);
    token = page["metadata"].value("continue", "");
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_THAT(seen, SizeIs(25));
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(SimTest, LaterPagesShowTheSnapshotNotLaterWrites) {
  for (int i = 0; i < 6; ++i) create_service("svc-" + std::to_string(i));
  json first = get_json("/api/v1/namespaces/default/services?limit=3");
  ASSERT_THAT(names(first), ElementsAre("svc-0", "svc-1", "svc-2"));
  const std::string token = first["metadata"]["continue"];

  // After the first page: one object of the second page goes, one is
  // changed, one is added.
  ASSERT_EQ(call("DELETE", "/api/v1/namespaces/default/services/svc-4").status, 200);
  ASSERT_EQ(call("PATCH", "/api/v1/namespaces/default/services/svc-5", R"({"metadata":{"labels":{"late":"yes"}}})",
                 "application/merge-patch+json")
                .status,
            200);
  create_service("svc-6");

  json second = get_json("/api/v1/namespaces/default/services?limit=10&continue=" + token);
  EXPECT_THAT(names(second), ElementsAre("svc-3", "svc-4", "svc-5"));
  EXPECT_FALSE(second["items"][2]["metadata"].contains("labels") &&
               second["items"][2]["metadata"]["labels"].contains("late"));
  EXPECT_EQ(second["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"]);
}

TEST_F(SimTest, AContinueTokenOlderThanTheEventWindowIsExpired) {
  Options options;
  options.history_limit = 5;
  start(options);
  for (int i = 0; i < 4; ++i) create_service("svc-" + std::to_string(i));
  json first = get_json("/api/v1/services?limit=2");
  const std::string token = first["metadata"]["continue"];
  ASSERT_FALSE(token.empty());
  for (int i = 0; i < 6; ++i) create_service("late-" + std::to_string(i));

  HttpResponse expired = call("GET", "/api/v1/services?limit=2&continue=" + token);
  EXPECT_EQ(expired.status, 410);
  EXPECT_EQ(expired.json()["kind"], "Status");
  EXPECT_EQ(expired.json()["reason"], "Expired");
  EXPECT_EQ(expired.json()["code"], 410);
  EXPECT_EQ(sim_->stats().expired, 1u);

  EXPECT_EQ(call("GET", "/api/v1/services?limit=2&continue=bm90LWEtdG9rZW4").status, 400);
}

TEST_F(SimTest, ResourceVersionZeroIsServedWholeAsFromTheWatchCache) {
  for (int i = 0; i < 5; ++i) create_service("svc-" + std::to_string(i));
  json list = get_json("/api/v1/services?resourceVersion=0&limit=2");
  EXPECT_THAT(list["items"], SizeIs(5));
  EXPECT_FALSE(list["metadata"].contains("continue"));
}

TEST_F(SimTest, ExactResourceVersionListsThePast) {
  create_service("a");
  const std::string then = get_json("/api/v1/services")["metadata"]["resourceVersion"];
  create_service("b");
  json past = get_json("/api/v1/services?resourceVersion=" + then + "&resourceVersionMatch=Exact");
  EXPECT_THAT(names(past), ElementsAre("a"));
  const std::string future = std::to_string(sim_->resource_version() + 100);
  EXPECT_EQ(call("GET", "/api/v1/services?resourceVersion=" + future).status, 504);
}

TEST_F(SimTest, StatsCountListsAndWatchesPerResource) {
  get_json("/api/v1/services");
  get_json("/api/v1/namespaces/default/services");
  get_json("/apis/discovery.k8s.io/v1/endpointslices");
  json stats = get_json("/sim/stats");
  EXPECT_EQ(stats["lists"]["services"], 2);
  EXPECT_EQ(stats["lists"]["endpointslices"], 1);
  EXPECT_EQ(stats["by_path"]["/api/v1/services"], 1);
  EXPECT_EQ(call("DELETE", "/sim/stats").status, 200);
  EXPECT_EQ(sim_->stats().lists.size(), 0u);
}

}  // namespace
}  // namespace kubenat::apiserver_sim::testing
