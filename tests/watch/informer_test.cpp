// The informer's list+watch logic against a scripted transport: pagination,
// events, bookmarks, garbage, 410 and relists, reconnects and their backoff,
// objects that kube-proxy ignores or kubenat cannot decode, slice relabels,
// the v1 Endpoints fallback. Runs on the test's thread; no network, no sleep.

#include "watch/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/watch/fake_transport.h"
#include "tests/watch/recording_listener.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using nlohmann::json;
using namespace kubenat::testing;
using namespace std::chrono_literals;

// Records the delays asked for and returns at once.
class RecordingSleeper final : public Sleeper {
 public:
  bool sleep_for(std::chrono::milliseconds delay) override {
    if (cancelled_) {
      return false;
    }
    delays.push_back(delay);
    return true;
  }
  void cancel() override { cancelled_ = true; }

  std::vector<std::chrono::milliseconds> delays;

 private:
  bool cancelled_ = false;
};

json service(const std::string& ns, const std::string& name, const std::string& rv,
             const std::string& cluster_ip = "10.96.0.10", json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}, {"labels", labels}}},
          {"spec",
           {{"type", "ClusterIP"},
            {"clusterIP", cluster_ip},
            {"clusterIPs", {cluster_ip}},
            {"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}}}}};
}

json slice(const std::string& ns, const std::string& name, const std::string& service_name, const std::string& rv,
           const std::string& ip = "10.244.1.5") {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"namespace", ns},
            {"name", name},
            {"resourceVersion", rv},
            {"labels", {{"kubernetes.io/service-name", service_name}}}}},
          {"addressType", "IPv4"},
          {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
          {"endpoints", {{{"addresses", {ip}}, {"conditions", {{"ready", true}}}}}}};
}

json node(const std::string& name, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"resourceVersion", rv}}},
          {"spec", {{"podCIDR", "10.244.1.0/24"}}},
          {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "192.168.0.11"}}}}}}};
}

std::string list(const std::vector<json>& items, const std::string& rv, const std::string& continue_token = "") {
  json metadata = {{"resourceVersion", rv}};
  if (!continue_token.empty()) {
    metadata["continue"] = continue_token;
  }
  return json{{"kind", "List"}, {"metadata", metadata}, {"items", items}}.dump();
}

std::string event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump();
}

std::string bookmark(const std::string& rv) {
  return event("BOOKMARK", {{"kind", "Service"}, {"metadata", {{"resourceVersion", rv}}}});
}

std::string error_event(int code, const std::string& reason, const std::string& message) {
  return event("ERROR", {{"kind", "Status"}, {"status", "Failure"}, {"code", code}, {"reason", reason},
                         {"message", message}});
}

class InformerTest : public ::testing::Test {
 protected:
  static InformerOptions options_for(WatchedResource resource) {
    InformerOptions options;
    options.resource = resource;
    options.backoff = {100ms, 1600ms, 2.0, 0.0};  // no jitter: exact delays
    options.backoff_seed = 1;
    options.short_watch = 0ms;  // scripted watches take no time; see ShortWatches...
    return options;
  }

  // Runs an informer until the script is used up.
  void run(const InformerOptions& options) {
    Informer informer(transport, listener, options, sleeper);
    transport.on_exhausted = [&] { informer.stop(); };
    informer.run();
    EXPECT_TRUE(transport.exhausted());
  }
  void run(WatchedResource resource) { run(options_for(resource)); }

  ScriptedTransport transport;
  RecordingListener listener;
  RecordingSleeper sleeper;
};

TEST(InformerHelpers, UrlEncodesKubeProxySelector) {
  EXPECT_EQ(url_encode(kKubeProxyLabelSelector),
            "%21service.kubernetes.io%2Fservice-proxy-name%2C%21service.kubernetes.io%2Fheadless");
  EXPECT_EQ(url_encode("metadata.name=worker-1"), "metadata.name%3Dworker-1");
  EXPECT_EQ(url_encode("a b~_"), "a%20b~_");
}

TEST(InformerHelpers, ANamedProxySelectsServicesLabelledWithItsName) {
  EXPECT_EQ(service_proxy_label_selector("kubenat"),
            "service.kubernetes.io/service-proxy-name=kubenat,!service.kubernetes.io/headless");
  EXPECT_EQ(service_proxy_label_selector(""), kKubeProxyLabelSelector);
}

TEST(InformerHelpers, CollectionPaths) {
  EXPECT_EQ(collection_path(WatchedResource::Services), "/api/v1/services");
  EXPECT_EQ(collection_path(WatchedResource::EndpointSlices), "/apis/discovery.k8s.io/v1/endpointslices");
  EXPECT_EQ(collection_path(WatchedResource::Endpoints), "/api/v1/endpoints");
  EXPECT_EQ(collection_path(WatchedResource::Nodes), "/api/v1/nodes");
}

TEST_F(InformerTest, ListsAllPagesThenWatchesFromTheListsResourceVersion) {
  InformerOptions options = options_for(WatchedResource::Services);
  options.label_selector = std::string(kKubeProxyLabelSelector);
  transport.on_get("/api/v1/services?limit=500", 200, list({service("a", "one", "5")}, "10", "token/1"))
      .on_get("continue=token%2F1", 200, list({service("a", "two", "7")}, "10"))
      .on_watch("resourceVersion=10", {event("ADDED", service("b", "three", "11"))});
  run(options);

  EXPECT_THAT(transport.requests(),
              ElementsAre("GET /api/v1/services?limit=500&labelSelector=%21service.kubernetes.io%2Fservice-proxy-name"
                          "%2C%21service.kubernetes.io%2Fheadless",
                          "GET /api/v1/services?limit=500&continue=token%2F1&labelSelector=%21service.kubernetes.io%"
                          "2Fservice-proxy-name%2C%21service.kubernetes.io%2Fheadless",
                          "WATCH /api/v1/services?watch=true&allowWatchBookmarks=true&resourceVersion=10&"
                          "timeoutSeconds=300&labelSelector=%21service.kubernetes.io%2Fservice-proxy-name%2C%21service."
                          "kubernetes.io%2Fheadless",
                          // The watch ended normally: reopened at once from the last event.
                          "WATCH /api/v1/services?watch=true&allowWatchBookmarks=true&resourceVersion=11&"
                          "timeoutSeconds=300&labelSelector=%21service.kubernetes.io%2Fservice-proxy-name%2C%21service."
                          "kubernetes.io%2Fheadless"));
  // Nothing is reported before the list is complete.
  EXPECT_THAT(listener.events(), ElementsAre("service a/one", "service a/two", "synced services", "service b/three"));
  EXPECT_THAT(sleeper.delays, IsEmpty());
  const ClusterState state = listener.state();
  ASSERT_TRUE(state.services.contains({"a", "one"}));
  EXPECT_EQ(state.services.at({"a", "one"}).cluster_ips.at(0).to_string(), "10.96.0.10");
}

TEST_F(InformerTest, ReportsAddedModifiedAndDeleted) {
  json modified = service("a", "web", "12", "10.96.0.99");
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {event("ADDED", service("a", "web", "11")), event("MODIFIED", modified),
                                       event("DELETED", modified)});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(),
              ElementsAre("synced services", "service a/web", "service a/web", "service a/web gone"));
  EXPECT_THAT(transport.requests().back(), HasSubstr("resourceVersion=12"));
  EXPECT_TRUE(listener.state().services.empty());
}

TEST_F(InformerTest, BookmarksMoveTheResourceVersion) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {bookmark("50"), bookmark("60")});
  run(WatchedResource::Services);
  EXPECT_THAT(transport.requests().back(), HasSubstr("resourceVersion=60"));
  EXPECT_THAT(listener.events(), ElementsAre("synced services"));
}

TEST_F(InformerTest, GarbageLineIsSkippedAndTheWatchResumesFromTheLastGoodVersion) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {event("ADDED", service("a", "one", "11")), "this is not json {",
                                       // Never read: the stream is abandoned after garbage.
                                       event("ADDED", service("a", "two", "12"))})
      .on_watch("resourceVersion=11", {event("ADDED", service("a", "three", "13"))});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(), ElementsAre("synced services", "service a/one", "incident services DecodeError",
                                             "service a/three"));
  EXPECT_THAT(listener.incident_details().at(0), HasSubstr("this is not json"));
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms));
}

// Found by a user: a deeply nested document crashed the decoder (issue 16).
TEST_F(InformerTest, AnEventNestedTooDeepIsADecodeErrorThatSaysSo) {
  const std::string deep = R"({"type": "ADDED", "object": {"spec": )" + std::string(100000, '[') +
                           std::string(100000, ']') + "}}";
  transport.on_get("services", 200, list({}, "10")).on_watch("resourceVersion=10", {deep});
  run(WatchedResource::Services);
  EXPECT_EQ(listener.count("incident services DecodeError"), 1u);
  EXPECT_THAT(listener.incident_details().at(0), HasSubstr("nested deeper than 1000 levels"));
}

TEST_F(InformerTest, LinesWithoutTypeOrObjectAreDecodeErrors) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {R"({"object": {}})"})
      .on_watch("resourceVersion=10", {R"({"type": "ADDED"})"})
      .on_watch("resourceVersion=10", {R"({"type": "ADDED", "object": "text"})"})
      .on_watch("resourceVersion=10", {R"({"type": "SURPRISE", "object": {}})"})
      .on_watch("resourceVersion=10", {R"([1, 2)"});
  run(WatchedResource::Services);
  EXPECT_EQ(listener.count("incident services DecodeError"), 5u);
  // Each failed before any event: the delays grow.
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms, 200ms, 400ms, 800ms, 1600ms));
}

TEST_F(InformerTest, EmptyLinesAreIgnored) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {"", "  ", event("ADDED", service("a", "one", "11"))});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(), ElementsAre("synced services", "service a/one"));
}

TEST_F(InformerTest, ExpiredWatchRelistsAndReportsVanishedObjects) {
  transport.on_get("services", 200, list({service("a", "stays", "5"), service("a", "goes", "6")}, "10"))
      .on_watch("resourceVersion=10", {event("ADDED", service("a", "changes", "11")),
                                       error_event(410, "Expired", "too old resource version: 11 (500)")})
      // a/stays unchanged (same resourceVersion): not reported again.
      .on_get("services?limit=500", 200,
              list({service("a", "stays", "5"), service("a", "changes", "600", "10.96.0.77"), service("a", "new", "601")},
                   "700"))
      .on_watch("resourceVersion=700", {});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(),
              ElementsAre("service a/stays", "service a/goes", "synced services", "service a/changes",
                          "incident services Relist", "service a/goes gone", "service a/changes", "service a/new",
                          "synced services"));
  EXPECT_THAT(listener.incident_details().at(0), HasSubstr("too old resource version"));
  EXPECT_THAT(sleeper.delays, IsEmpty());  // an event had arrived: relisted at once
  EXPECT_EQ(listener.state().services.at({"a", "changes"}).cluster_ips.at(0).to_string(), "10.96.0.77");
}

TEST_F(InformerTest, GoneReasonAndHttp410AlsoRelist) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {bookmark("20"), error_event(500, "Gone", "gone")})
      .on_get("services?limit=500", 200, list({}, "30"))
      .on_watch("resourceVersion=30", {bookmark("31")})
      .on_watch_status("resourceVersion=31", 410, R"({"kind":"Status","code":410,"message":"expired"})")
      .on_get("services?limit=500", 200, list({}, "40"));
  run(WatchedResource::Services);
  EXPECT_EQ(listener.count("incident services Relist"), 2u);
  EXPECT_EQ(listener.count("synced services"), 3u);
  EXPECT_THAT(sleeper.delays, IsEmpty());
}

// After an etcd restore the server's versions went backwards: watching from
// ours again would fail for ever, so the informer lists afresh.
TEST_F(InformerTest, ResourceVersionTooLargeRelists) {
  const std::string too_large =
      R"({"kind":"Status","code":504,"reason":"Timeout","message":"Too large resource version: 31, current: 12",)"
      R"("details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}]}})";
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {bookmark("31")})
      .on_watch_status("resourceVersion=31", 504, too_large)
      .on_get("services?limit=500", 200, list({}, "12"))
      .on_watch("resourceVersion=12", {R"({"type":"ERROR","object":)" + too_large + "}"})
      .on_get("services?limit=500", 200, list({}, "13"));
  run(WatchedResource::Services);
  EXPECT_EQ(listener.count("incident services Relist"), 2u);
  EXPECT_EQ(listener.count("synced services"), 3u);
  EXPECT_THAT(listener.incident_details().at(0), HasSubstr("Too large resource version"));
}

TEST_F(InformerTest, AnyOther504IsAReconnectFromTheSameVersion) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch_status("resourceVersion=10", 504, R"({"kind":"Status","code":504,"message":"gateway timeout"})")
      .on_watch("resourceVersion=10", {});
  run(WatchedResource::Services);
  EXPECT_EQ(listener.count("incident services Reconnect"), 1u);
  EXPECT_EQ(listener.count("incident services Relist"), 0u);
}

TEST_F(InformerTest, ExpiredRightAfterAListWaitsBeforeListingAgain) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {error_event(410, "Expired", "expired")})
      .on_get("services?limit=500", 200, list({}, "20"));
  run(WatchedResource::Services);
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms));
}

TEST_F(InformerTest, OtherErrorEventsRelistAfterABackoff) {
  transport.on_get("services", 200, list({service("a", "one", "5")}, "10"))
      .on_watch("resourceVersion=10", {bookmark("11"), error_event(500, "InternalError", "etcd is sad")})
      .on_get("services?limit=500", 200, list({service("a", "one", "5")}, "20"));
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(),
              ElementsAre("service a/one", "synced services", "incident services Relist", "synced services"));
  EXPECT_THAT(listener.incident_details().at(0), HasSubstr("etcd is sad"));
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms));
}

TEST_F(InformerTest, DroppedWatchReconnectsWithGrowingBackoffThatResetsAfterEvents) {
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {}, TransportFailure::Broken)
      .on_watch("resourceVersion=10", {}, TransportFailure::Broken)
      .on_watch("resourceVersion=10", {}, TransportFailure::Unreachable)
      .on_watch("resourceVersion=10", {event("ADDED", service("a", "one", "11"))}, TransportFailure::Broken)
      .on_watch("resourceVersion=11", {}, TransportFailure::Broken)
      .on_watch_status("resourceVersion=11", 500, R"({"kind":"Status","message":"internal"})")
      .on_watch("resourceVersion=11", {});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(),
              ElementsAre("synced services", "incident services Reconnect", "incident services Reconnect",
                          "incident services ServerUnreachable", "service a/one", "incident services Reconnect",
                          "incident services Reconnect", "incident services Reconnect"));
  EXPECT_THAT(listener.incident_details().back(), HasSubstr("HTTP 500: internal"));
  // 100, 200, 400; events reset the backoff: 100 again, then 200, 400.
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms, 200ms, 400ms, 100ms, 200ms, 400ms));
}

TEST_F(InformerTest, ShortWatchesWithoutEventsAreRetriedAfterABackoff) {
  InformerOptions options = options_for(WatchedResource::Services);
  options.short_watch = 1s;
  transport.on_get("services", 200, list({}, "10"))
      .on_watch("resourceVersion=10", {})
      .on_watch("resourceVersion=10", {})
      .on_watch("resourceVersion=10", {bookmark("11")})
      .on_watch("resourceVersion=11", {});
  run(options);
  EXPECT_THAT(listener.events(), ElementsAre("synced services", "incident services Reconnect",
                                             "incident services Reconnect", "incident services Reconnect"));
  EXPECT_THAT(listener.incident_details().at(0), HasSubstr("without an event"));
  // A watch with a bookmark was fine and reset the backoff.
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms, 200ms, 100ms));
}

TEST_F(InformerTest, BackoffIsCappedAndJittered) {
  InformerOptions options = options_for(WatchedResource::Services);
  options.backoff = {100ms, 300ms, 2.0, 0.2};
  transport.on_get("services", 200, list({}, "10"));
  for (int i = 0; i < 6; ++i) {
    transport.on_watch("resourceVersion=10", {}, TransportFailure::Broken);
  }
  run(options);
  ASSERT_EQ(sleeper.delays.size(), 6u);
  EXPECT_GE(sleeper.delays[0], 80ms);
  EXPECT_LE(sleeper.delays[0], 120ms);
  for (std::size_t i = 2; i < 6; ++i) {
    EXPECT_GE(sleeper.delays[i], 240ms) << i;
    EXPECT_LE(sleeper.delays[i], 360ms) << i;
  }
}

TEST_F(InformerTest, UnreachableListIsRetried) {
  transport.on_get_fail("services", TransportFailure::Unreachable, "connection refused")
      .on_get_fail("services", TransportFailure::Unreachable, "connection refused")
      .on_get("services", 403, R"({"kind":"Status","message":"forbidden: User \"x\" cannot list"})")
      .on_get("services", 200, "<html>not json</html>")
      .on_get("services", 200, list({service("a", "one", "5")}, "10"))
      .on_watch("resourceVersion=10", {});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(),
              ElementsAre("incident services ServerUnreachable", "incident services ServerUnreachable",
                          "incident services ServerUnreachable", "incident services DecodeError", "service a/one",
                          "synced services"));
  EXPECT_THAT(listener.incident_details().at(2), HasSubstr("HTTP 403: forbidden"));
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms, 200ms, 400ms, 800ms));
}

// Pages are decoded while the next is fetched: the order of the objects and
// of what is reported about them must not show it.
TEST_F(InformerTest, ManyPagesAreReportedInListOrderOnceTheLastHasArrived) {
  std::vector<std::string> expected;
  for (int page = 0; page < 5; ++page) {
    std::vector<json> items;
    for (int i = 0; i < 3; ++i) {
      const std::string name = "svc" + std::to_string(page * 3 + i);
      items.push_back(service("a", name, std::to_string(page * 3 + i + 1)));
      expected.push_back("service a/" + name);
    }
    if (page == 2) {
      items.insert(items.begin() + 1, service("a", "", "99"));
      items[1]["metadata"].erase("name");
    }
    const std::string token = page < 4 ? "p" + std::to_string(page + 1) : "";
    transport.on_get(page == 0 ? "limit=500" : "continue=p" + std::to_string(page), 200, list(items, "20", token));
  }
  transport.on_watch("resourceVersion=20", {});
  run(WatchedResource::Services);
  expected.insert(expected.begin(), "incident services DecodeError");
  expected.push_back("synced services");
  EXPECT_THAT(listener.events(), ElementsAreArray(expected));
  ASSERT_EQ(listener.diagnostics().size(), 1u);
  EXPECT_THAT(listener.diagnostics().at(0), HasSubstr("metadata.name"));
}

TEST_F(InformerTest, ExpiredContinueTokenRestartsTheList) {
  transport.on_get("limit=500", 200, list({service("a", "one", "5")}, "10", "c1"))
      .on_get("continue=c1", 410, R"({"kind":"Status","code":410,"reason":"Expired"})")
      .on_get("limit=500", 200, list({service("a", "two", "50")}, "60"))
      .on_watch("resourceVersion=60", {});
  run(WatchedResource::Services);
  EXPECT_THAT(transport.requests().at(2), ::testing::Not(HasSubstr("continue")));
  // Only the complete second list is reported.
  EXPECT_THAT(listener.events(), ElementsAre("incident services Relist", "service a/two", "synced services"));
}

TEST_F(InformerTest, IgnoredServicesAreReportedGoneOnlyIfKnown) {
  const json proxy_label = {{"service.kubernetes.io/service-proxy-name", "other-proxy"}};
  transport.on_get("services", 200, list({service("a", "one", "5")}, "10"))
      .on_watch("resourceVersion=10",
                {event("MODIFIED", service("a", "one", "11", "10.96.0.10", proxy_label)),
                 event("ADDED", service("a", "never", "12", "10.96.0.11", {{"service.kubernetes.io/headless", ""}})),
                 event("MODIFIED", service("a", "one", "13"))});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(),
              ElementsAre("service a/one", "synced services", "service a/one gone", "service a/one"));
  EXPECT_THAT(listener.diagnostics(), IsEmpty());
}

TEST_F(InformerTest, ANamedProxyReportsOnlyServicesLabelledWithItsName) {
  const json mine = {{"service.kubernetes.io/service-proxy-name", "kubenat"}};
  InformerOptions options = options_for(WatchedResource::Services);
  options.label_selector = service_proxy_label_selector("kubenat");
  options.decode.service_proxy_name = "kubenat";
  transport.on_get("labelSelector=service.kubernetes.io%2Fservice-proxy-name%3Dkubenat", 200,
                   list({service("a", "mine", "5", "10.96.0.10", mine), service("a", "unlabelled", "6")}, "10"))
      .on_watch("resourceVersion=10", {event("ADDED", service("a", "later", "11", "10.96.0.11", mine))});
  run(options);
  EXPECT_THAT(listener.events(), ElementsAre("service a/mine", "synced services", "service a/later"));
  EXPECT_THAT(listener.diagnostics(), IsEmpty());
}

TEST_F(InformerTest, UndecodableObjectIsReportedGoneWithDiagnostics) {
  json broken = service("a", "one", "11");
  broken["spec"]["ports"][0]["protocol"] = "ICMP";
  broken["spec"]["clusterIP"] = "300.1.1.1";
  broken["spec"]["clusterIPs"] = {"300.1.1.1"};
  transport.on_get("services", 200, list({service("a", "one", "5")}, "10"))
      .on_watch("resourceVersion=10", {event("MODIFIED", broken), event("MODIFIED", service("a", "one", "12"))});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(), ElementsAre("service a/one", "synced services", "incident services DecodeError",
                                             "service a/one gone", "service a/one"));
  ASSERT_FALSE(listener.diagnostics().empty());
  EXPECT_THAT(listener.diagnostics().at(0), HasSubstr("Service a/one"));
}

TEST_F(InformerTest, ObjectWithoutNameIsSkipped) {
  json nameless = service("a", "x", "5");
  nameless["metadata"].erase("name");
  transport.on_get("services", 200, list({nameless, service("a", "one", "6")}, "10"))
      .on_watch("resourceVersion=10", {event("ADDED", nameless), event("ADDED", service("a", "two", "12"))});
  run(WatchedResource::Services);
  EXPECT_THAT(listener.events(), ElementsAre("incident services DecodeError", "service a/one", "synced services",
                                             "incident services DecodeError", "service a/two"));
}

TEST_F(InformerTest, SliceRelabelMovesItBetweenServices) {
  InformerOptions options = options_for(WatchedResource::EndpointSlices);
  transport
      .on_get("/apis/discovery.k8s.io/v1", 200,
              R"({"kind":"APIResourceList","resources":[{"name":"endpointslices","kind":"EndpointSlice"}]})")
      .on_get("/apis/discovery.k8s.io/v1/endpointslices?limit=500", 200, list({slice("a", "web-x1", "web", "5")}, "10"))
      .on_watch("resourceVersion=10",
                {event("MODIFIED", slice("a", "web-x1", "api", "11")), event("DELETED", slice("a", "web-x1", "api", "12"))});
  run(options);
  EXPECT_THAT(listener.events(), ElementsAre("slice a/web web-x1", "synced endpointslices", "slice a/web web-x1 gone",
                                             "slice a/api web-x1", "slice a/api web-x1 gone"));
}

TEST_F(InformerTest, SliceThatNoLongerDecodesIsReportedGone) {
  json unlabelled = slice("a", "web-x1", "web", "11");
  unlabelled["metadata"]["labels"] = json::object();
  InformerOptions options = options_for(WatchedResource::EndpointSlices);
  options.fall_back_to_endpoints = false;
  transport.on_get("endpointslices?limit=500", 200, list({slice("a", "web-x1", "web", "5")}, "10"))
      .on_watch("resourceVersion=10", {event("MODIFIED", unlabelled)});
  run(options);
  EXPECT_THAT(listener.events(), ElementsAre("slice a/web web-x1", "synced endpointslices",
                                             "incident endpointslices DecodeError", "slice a/web web-x1 gone"));
  EXPECT_THAT(listener.diagnostics().at(0), HasSubstr("kubernetes.io/service-name"));
}

TEST_F(InformerTest, FallsBackToV1EndpointsWhenSlicesAreNotServed) {
  const json endpoints = {
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata", {{"namespace", "a"}, {"name", "web"}, {"resourceVersion", "5"}}},
      {"subsets",
       {{{"addresses", {{{"ip", "10.244.1.5"}}}}, {"ports", {{{"name", "http"}, {"port", 8080}}}}},
        {{"addresses", {{{"ip", "10.244.2.5"}}}}, {"ports", {{{"name", "metrics"}, {"port", 9090}}}}}}}};
  json one_subset = endpoints;
  one_subset["metadata"]["resourceVersion"] = "11";
  one_subset["subsets"].erase(1);
  InformerOptions options = options_for(WatchedResource::EndpointSlices);
  options.label_selector = "x";
  transport.on_get("/apis/discovery.k8s.io/v1", 404, R"({"kind":"Status","code":404})")
      .on_get("/api/v1/endpoints?limit=500&labelSelector=x", 200, list({endpoints}, "10"))
      .on_watch("/api/v1/endpoints?watch=true", {event("MODIFIED", one_subset), event("DELETED", one_subset)});
  run(options);
  EXPECT_THAT(listener.events(),
              ElementsAre("slice a/web web/subset-0-ipv4", "slice a/web web/subset-1-ipv4", "synced endpoints",
                          "slice a/web web/subset-1-ipv4 gone", "slice a/web web/subset-0-ipv4",
                          "slice a/web web/subset-0-ipv4 gone"));
}

TEST_F(InformerTest, DiscoveryWithoutEndpointSlicesFallsBackToo) {
  transport.on_get("/apis/discovery.k8s.io/v1", 200, R"({"kind":"APIResourceList","resources":[]})")
      .on_get("/api/v1/endpoints?limit=500", 200, list({}, "10"))
      .on_watch("/api/v1/endpoints", {});
  run(WatchedResource::EndpointSlices);
  EXPECT_THAT(listener.events(), ElementsAre("synced endpoints"));
}

TEST_F(InformerTest, DiscoveryFailuresAreRetried) {
  transport.on_get_fail("/apis/discovery.k8s.io/v1", TransportFailure::Unreachable)
      .on_get("/apis/discovery.k8s.io/v1", 503, "overloaded")
      .on_get("/apis/discovery.k8s.io/v1", 200, R"({"resources":[{"name":"endpointslices"}]})")
      .on_get("/apis/discovery.k8s.io/v1/endpointslices?limit=500", 200, list({}, "10"))
      .on_watch("endpointslices", {});
  run(WatchedResource::EndpointSlices);
  EXPECT_THAT(listener.events(), ElementsAre("incident endpointslices ServerUnreachable",
                                             "incident endpointslices ServerUnreachable", "synced endpointslices"));
  EXPECT_THAT(sleeper.delays, ElementsAre(100ms, 200ms));
}

TEST_F(InformerTest, NodesAreClusterScopedAndCanBeSelectedByName) {
  InformerOptions options = options_for(WatchedResource::Nodes);
  options.field_selector = "metadata.name=worker-1";
  transport.on_get("/api/v1/nodes?limit=500&fieldSelector=metadata.name%3Dworker-1", 200,
                   list({node("worker-1", "5")}, "10"))
      .on_watch("fieldSelector=metadata.name%3Dworker-1", {event("DELETED", node("worker-1", "11"))});
  run(options);
  EXPECT_THAT(listener.events(), ElementsAre("node worker-1", "synced nodes", "node worker-1 gone"));
}

TEST_F(InformerTest, RelistSkipsUnchangedObjectsThatFailedToDecode) {
  json broken = service("a", "bad", "5");
  broken["spec"]["type"] = "Weird";
  transport.on_get("services", 200, list({broken}, "10"))
      .on_watch("resourceVersion=10", {bookmark("11"), error_event(410, "Expired", "expired")})
      .on_get("services", 200, list({broken}, "20"));
  run(WatchedResource::Services);
  EXPECT_EQ(listener.count("incident services DecodeError"), 1u);
  EXPECT_EQ(listener.diagnostics().size(), 1u);
}

// A listener that throws once, as a buggy one might.
class ThrowingListener final : public ClusterListener {
 public:
  explicit ThrowingListener(RecordingListener& inner) : inner_(inner) {}
  void service_changed(const ObjectName& id, std::optional<Service> now) override {
    if (!thrown_) {
      thrown_ = true;
      throw std::runtime_error("listener bug");
    }
    inner_.service_changed(id, std::move(now));
  }
  void slice_changed(const ObjectName& s, const std::string& n, std::optional<EndpointSlice> now) override {
    inner_.slice_changed(s, n, std::move(now));
  }
  void node_changed(const std::string& name, std::optional<Node> now) override { inner_.node_changed(name, now); }
  void synced(WatchedResource resource) override { inner_.synced(resource); }
  void diagnostics(const Diagnostics& diagnostics) override { inner_.diagnostics(diagnostics); }
  void incident(WatchedResource resource, WatchIncident incident, const std::string& detail) override {
    inner_.incident(resource, incident, detail);
  }

 private:
  RecordingListener& inner_;
  bool thrown_ = false;
};

TEST_F(InformerTest, AnExceptionFromTheListenerLeadsToARelist) {
  ThrowingListener throwing(listener);
  transport.on_get("services", 200, list({service("a", "one", "5")}, "10"))
      .on_get("services", 200, list({service("a", "one", "5")}, "10"))
      .on_watch("resourceVersion=10", {});
  Informer informer(transport, throwing, options_for(WatchedResource::Services), sleeper);
  transport.on_exhausted = [&] { informer.stop(); };
  informer.run();
  EXPECT_THAT(listener.events(), ElementsAre("incident services Relist", "service a/one", "synced services"));
  EXPECT_THAT(listener.incident_details().at(0), HasSubstr("listener bug"));
}

TEST(Backoff, DoublesUpToTheCapAndResets) {
  Backoff backoff({100ms, 1000ms, 2.0, 0.0}, 7);
  EXPECT_EQ(backoff.next(), 100ms);
  EXPECT_EQ(backoff.next(), 200ms);
  EXPECT_EQ(backoff.next(), 400ms);
  EXPECT_EQ(backoff.next(), 800ms);
  EXPECT_EQ(backoff.next(), 1000ms);
  EXPECT_EQ(backoff.next(), 1000ms);
  backoff.reset();
  EXPECT_EQ(backoff.next(), 100ms);
}

TEST(Backoff, DefaultsAreKubeProxyLike) {
  Backoff backoff(BackoffPolicy{}, 7);
  std::chrono::milliseconds last{};
  for (int i = 0; i < 20; ++i) {
    last = backoff.next();
    if (i == 0) {
      EXPECT_GE(last, 160ms);
      EXPECT_LE(last, 240ms);
    }
  }
  EXPECT_GE(last, 24s);
  EXPECT_LE(last, 36s);
}

TEST(InterruptibleSleeper, CancelWakesASleeperAndIsFinal) {
  InterruptibleSleeper sleeper;
  EXPECT_TRUE(sleeper.sleep_for(1ms));
  std::thread canceller([&] {
    std::this_thread::sleep_for(20ms);
    sleeper.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sleeper.sleep_for(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  canceller.join();
  EXPECT_FALSE(sleeper.sleep_for(10s));
}

}  // namespace
}  // namespace kubenat
