// Fault injection, from C++ and over POST /sim/faults: what a client sees
// when watches are cut, garbled, outlived by a restart, or the server is
// slow or gone.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/apiserver_sim/sim_fixture.h"

namespace kubenat::apiserver_sim::testing {
namespace {

using ::testing::HasSubstr;

std::string watch_from_now(ApiServerSim& sim) {
  return "/api/v1/services?watch=1&resourceVersion=" + std::to_string(sim.resource_version());
}

TEST_F(SimTest, AfterARestartOldResourceVersionsGet410AndObjectsRemain) {
  json created = create_service("a");
  const std::string old_rv = rv_of(created);
  create_service("b");
  json first_page = get_json("/api/v1/services?limit=1");
  ASSERT_TRUE(first_page["metadata"].contains("continue"));
  auto open = watch(watch_from_now(*sim_));
  ASSERT_TRUE(open);

  sim_->restart(1000000);

  // The open watch is cut, not ended.
  auto cut = open->line();
  ASSERT_FALSE(cut) << "expected a reset, got a line or a clean end";
  EXPECT_GE(sim_->resource_version(), 1000000u);

  auto resumed = watch("/api/v1/services?watch=1&resourceVersion=" + old_rv);
  ASSERT_TRUE(resumed);
  json error = resumed->event();
  EXPECT_EQ(error["type"], "ERROR");
  EXPECT_EQ(error["object"]["code"], 410);

  HttpResponse continued = call("GET", "/api/v1/services?limit=1&continue=" +
                                           first_page["metadata"]["continue"].get<std::string>());
  EXPECT_EQ(continued.status, 410);

  // A relist works and sees everything; a watch from its resourceVersion too.
  json relist = get_json("/api/v1/services");
  EXPECT_EQ(relist["items"].size(), 2u);
  EXPECT_EQ(relist["metadata"]["resourceVersion"], std::to_string(sim_->resource_version()));
  auto fresh = watch("/api/v1/services?watch=1&resourceVersion=" + relist["metadata"]["resourceVersion"].get<std::string>());
  ASSERT_TRUE(fresh);
  create_service("c");
  json added = fresh->event();
  EXPECT_EQ(added["type"], "ADDED");
  EXPECT_GT(rv_number(added["object"]), 1000000u);
  EXPECT_EQ(sim_->stats().dropped_watches, 1u);
}

TEST_F(SimTest, CompactionExpiresOlderResourceVersionsWithoutCuttingWatches) {
  json created = create_service("a");
  auto open = watch(watch_from_now(*sim_));
  ASSERT_TRUE(open);
  create_service("b");
  sim_->compact();
  EXPECT_EQ(open->event()["object"]["metadata"]["name"], "b");
  auto old = watch("/api/v1/services?watch=1&resourceVersion=" + rv_of(created));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->event()["object"]["code"], 410);
}

TEST_F(SimTest, DroppedWatchesAreCutWithoutAFinalChunk) {
  auto first = watch(watch_from_now(*sim_));
  auto second = watch("/apis/discovery.k8s.io/v1/endpointslices?watch=1");
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  HttpResponse response = call("POST", "/sim/faults", R"({"drop_watches": true})");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.json()["applied"], json({"drop_watches"}));
  for (WatchReader* reader : {&*first, &*second}) {
    auto line = reader->line();
    ASSERT_FALSE(line) << "expected the connection to be cut";
    EXPECT_TRUE(line.error() == "reset" || line.error() == "closed") << line.error();
  }
  EXPECT_EQ(sim_->stats().dropped_watches, 2u);
  // Other requests are unaffected.
  EXPECT_EQ(call("GET", "/api/v1/services").status, 200);
}

TEST_F(SimTest, GarbageIsVisibleAndTheWatchGoesOn) {
  auto open = watch(watch_from_now(*sim_));
  ASSERT_TRUE(open);
  sim_->inject_garbage(false);
  auto not_json = open->line();
  ASSERT_TRUE(not_json && *not_json);
  EXPECT_TRUE(json::parse(**not_json, nullptr, false).is_discarded());
  auto truncated = open->line();
  ASSERT_TRUE(truncated && *truncated);
  EXPECT_TRUE(truncated->value().starts_with("{"));
  EXPECT_TRUE(json::parse(**truncated, nullptr, false).is_discarded());
  create_service("after");
  EXPECT_EQ(open->event()["object"]["metadata"]["name"], "after");
}

TEST_F(SimTest, GarbageThatClosesEndsTheResponse) {
  auto open = watch(watch_from_now(*sim_));
  ASSERT_TRUE(open);
  ASSERT_EQ(call("POST", "/sim/faults", R"({"garbage": {"close": true}})").status, 200);
  ASSERT_TRUE(open->line());
  ASSERT_TRUE(open->line());
  auto end = open->line();
  ASSERT_TRUE(end) << end.error();
  EXPECT_FALSE(*end);
}

TEST_F(SimTest, PersistentGarbageEveryNEvents) {
  FaultSettings faults;
  faults.watch_garbage_every = 2;
  sim_->set_faults(faults);
  auto open = watch(watch_from_now(*sim_));
  ASSERT_TRUE(open);
  create_service("one");
  create_service("two");
  std::vector<std::string> lines;
  for (int i = 0; i < 4; ++i) {
    auto line = open->line();
    ASSERT_TRUE(line && *line);
    lines.push_back(**line);
  }
  EXPECT_THAT(lines[0], HasSubstr("\"one\""));
  EXPECT_THAT(lines[1], HasSubstr("\"two\""));
  EXPECT_THAT(lines[2], HasSubstr("not JSON"));
  EXPECT_TRUE(json::parse(lines[3], nullptr, false).is_discarded());
}

TEST_F(SimTest, DelayHoldsEveryApiResponse) {
  ASSERT_EQ(call("POST", "/sim/faults", R"({"delay_ms": 300})").status, 200);
  EXPECT_EQ(get_json("/sim/faults")["delay_ms"], 300);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(call("GET", "/api/v1/services").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(290));
  ASSERT_EQ(call("POST", "/sim/faults", R"({"delay_ms": 0})").status, 200);
  EXPECT_EQ(sim_->faults().delay.count(), 0);
}

TEST_F(SimTest, AnOutageRefusesConnectionsThenServesAgainOnTheSamePort) {
  auto open = watch(watch_from_now(*sim_));
  ASSERT_TRUE(open);
  const int port = sim_->port();
  HttpResponse response = call("POST", "/sim/faults", R"({"outage_ms": 700})");
  ASSERT_EQ(response.status, 200);
  EXPECT_FALSE(open->line());

  // Soon the listening socket is gone.
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    refused = !HttpConnection::open(port).has_value();
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(refused);

  bool back = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!back && std::chrono::steady_clock::now() < deadline) {
    auto again = http(port, "GET", "/api/v1/services");
    back = again && again->status == 200;
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(back);
  EXPECT_EQ(sim_->port(), port);
}

TEST_F(SimTest, RestartOverHttp) {
  const std::uint64_t before = sim_->resource_version();
  HttpResponse response = call("POST", "/sim/faults", R"({"restart": {"jump": 5000}})");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(sim_->resource_version(), before + 5000);
  EXPECT_EQ(call("POST", "/sim/faults", "not json").status, 400);
}

}  // namespace
}  // namespace kubenat::apiserver_sim::testing
