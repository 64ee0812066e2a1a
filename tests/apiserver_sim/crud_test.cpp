// Create, get, list, update, patch and delete over HTTP: resourceVersions,
// Service defaulting and allocation, and the Status errors clients branch on.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/apiserver_sim/sim_fixture.h"

namespace kubenat::apiserver_sim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST_F(SimTest, DiscoveryDescribesTheServedResources) {
  EXPECT_EQ(get_json("/version")["gitVersion"], "v1.32.0");
  EXPECT_EQ(get_json("/api")["versions"], json({"v1"}));
  json core = get_json("/api/v1");
  ASSERT_EQ(core["kind"], "APIResourceList");
  std::map<std::string, bool> namespaced;
  for (const json& resource : core["resources"]) namespaced[resource["name"]] = resource["namespaced"];
  EXPECT_TRUE(namespaced.at("services"));
  EXPECT_TRUE(namespaced.at("endpoints"));
  EXPECT_FALSE(namespaced.at("nodes"));
  EXPECT_FALSE(namespaced.at("namespaces"));
  json groups = get_json("/apis");
  ASSERT_EQ(groups["groups"].size(), 1u);
  EXPECT_EQ(groups["groups"][0]["preferredVersion"]["groupVersion"], "discovery.k8s.io/v1");
  json discovery = get_json("/apis/discovery.k8s.io/v1");
  EXPECT_EQ(discovery["resources"][0]["name"], "endpointslices");
  EXPECT_EQ(discovery["resources"][0]["verbs"], json({"create", "delete", "deletecollection", "get", "list", "patch",
                                                      "update", "watch"}));
  EXPECT_EQ(call("GET", "/apis/apps/v1").status, 404);
}

TEST_F(SimTest, CreateAssignsIdentityAndResourceVersion) {
  const std::uint64_t before = sim_->resource_version();
  json created = create_service("web");
  EXPECT_EQ(created["kind"], "Service");
  EXPECT_EQ(created["metadata"]["namespace"], "default");
  EXPECT_THAT(created["metadata"]["uid"].get<std::string>(), SizeIs(36));
  EXPECT_FALSE(created["metadata"]["creationTimestamp"].get<std::string>().empty());
  EXPECT_EQ(rv_number(created), before + 1);
  EXPECT_EQ(sim_->resource_version(), before + 1);

  json fetched = get_json("/api/v1/namespaces/default/services/web");
  EXPECT_EQ(fetched, created);
}

TEST_F(SimTest, ServicesGetDefaultsAndAClusterIpFromTheServiceRange) {
  json created = create_service("web");
  const json& spec = created["spec"];
  EXPECT_EQ(spec["type"], "ClusterIP");
  EXPECT_EQ(spec["sessionAffinity"], "None");
  EXPECT_EQ(spec["ipFamilies"], json({"IPv4"}));
  EXPECT_EQ(spec["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(spec["ports"][0]["targetPort"], 80);
  const std::string ip = spec["clusterIP"];
  EXPECT_TRUE(ip.starts_with("10.9")) << ip;  // 10.96.0.0/12
  EXPECT_EQ(spec["clusterIPs"], json({ip}));
  EXPECT_FALSE(spec["ports"][0].contains("nodePort"));

  json other = create_service("other");
  EXPECT_NE(other["spec"]["clusterIP"], ip);

  json headless = service_object("headless");
  headless["spec"]["clusterIP"] = "None";
  EXPECT_EQ(create(headless, "/api/v1/namespaces/default/services")["spec"]["clusterIPs"], json({"None"}));

  json taken = service_object("taken");
  taken["spec"]["clusterIP"] = ip;
  HttpResponse conflict = call("POST", "/api/v1/namespaces/default/services", taken.dump());
  EXPECT_EQ(conflict.status, 422);
  EXPECT_THAT(conflict.json()["message"].get<std::string>(), HasSubstr("already allocated"));
}

TEST_F(SimTest, NodePortsAreAllocatedOncePerPortAndKeptAcrossUpdates) {
  json object = service_object("np", "default", json::object(), "NodePort");
  object["spec"]["ports"].push_back({{"name", "https"}, {"port", 443}});
  object["spec"]["ports"][1]["nodePort"] = 30443;
  json created = create(object, "/api/v1/namespaces/default/services");
  const json& ports = created["spec"]["ports"];
  const int first = ports[0]["nodePort"];
  EXPECT_GE(first, 30000);
  EXPECT_LE(first, 32767);
  EXPECT_EQ(ports[1]["nodePort"], 30443);
  EXPECT_EQ(created["spec"]["externalTrafficPolicy"], "Cluster");

  // A PUT of the manifest without the allocated values keeps them.
  object["metadata"]["labels"] = {{"edited", "yes"}};
  HttpResponse updated = call("PUT", "/api/v1/namespaces/default/services/np", object.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json()["spec"]["ports"][0]["nodePort"], first);
  EXPECT_EQ(updated.json()["spec"]["clusterIP"], created["spec"]["clusterIP"]);

  json clash = service_object("clash", "default", json::object(), "NodePort");
  clash["spec"]["ports"][0]["nodePort"] = 30443;
  EXPECT_EQ(call("POST", "/api/v1/namespaces/default/services", clash.dump()).status, 422);

  // Deleting frees the port.
  ASSERT_EQ(call("DELETE", "/api/v1/namespaces/default/services/np").status, 200);
  EXPECT_EQ(call("POST", "/api/v1/namespaces/default/services", clash.dump()).status, 201);
}

TEST_F(SimTest, ANodePortOutsideTheRangeIsRefusedAndTheMessageNamesTheRange) {
  json object = service_object("np", "default", json::object(), "NodePort");
  object["spec"]["ports"][0]["nodePort"] = 40000;
  HttpResponse refused = call("POST", "/api/v1/namespaces/default/services", object.dump());
  EXPECT_EQ(refused.status, 422);
  EXPECT_THAT(refused.json()["message"].get<std::string>(),
              HasSubstr("40000: provided port is not in the valid range. The range of valid ports is 30000-32767"));
}

TEST_F(SimTest, AWidenedNodePortRangeAcceptsAndAllocatesWithinIt) {
  Options options;
  options.node_port_range = {40000, 40001};
  start(options);
  json fixed = service_object("fixed", "default", json::object(), "NodePort");
  fixed["spec"]["ports"][0]["nodePort"] = 40001;
  EXPECT_EQ(create(fixed, "/api/v1/namespaces/default/services")["spec"]["ports"][0]["nodePort"], 40001);
  json allocated = create(service_object("allocated", "default", json::object(), "NodePort"),
                          "/api/v1/namespaces/default/services");
  EXPECT_EQ(allocated["spec"]["ports"][0]["nodePort"], 40000);
  HttpResponse full = call("POST", "/api/v1/namespaces/default/services",
                           service_object("full", "default", json::object(), "NodePort").dump());
  EXPECT_EQ(full.status, 500);
  EXPECT_THAT(full.body, HasSubstr("range is full"));
}

TEST_F(SimTest, LoadBalancerWithLocalTrafficGetsAHealthCheckNodePort) {
  json object = service_object("lb", "default", json::object(), "LoadBalancer");
  object["spec"]["externalTrafficPolicy"] = "Local";
  json created = create(object, "/api/v1/namespaces/default/services");
  EXPECT_TRUE(created["spec"]["healthCheckNodePort"].is_number_integer());
  EXPECT_TRUE(created["spec"]["ports"][0]["nodePort"].is_number_integer());
  EXPECT_EQ(created["status"], json({{"loadBalancer", json::object()}}));
}

TEST_F(SimTest, CreatingAnExistingObjectIsAlreadyExists) {
  create_service("web");
  HttpResponse again = call("POST", "/api/v1/namespaces/default/services", service_object("web").dump());
  EXPECT_EQ(again.status, 409);
  json status = again.json();
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "AlreadyExists");
  EXPECT_EQ(status["code"], 409);
  EXPECT_EQ(status["details"]["name"], "web");
}

TEST_F(SimTest, MissingObjectsAreNotFound) {
  HttpResponse missing = call("GET", "/api/v1/namespaces/default/services/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json()["reason"], "NotFound");
  EXPECT_EQ(missing.json()["message"], "services \"nope\" not found");
  EXPECT_EQ(call("DELETE", "/api/v1/namespaces/default/services/nope").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/widgets").status, 404);
}

TEST_F(SimTest, UpdateChecksTheResourceVersion) {
  json created = create_service("web");
  json edited = created;
  edited["metadata"]["labels"] = {{"tier", "front"}};
  HttpResponse updated = call("PUT", "/api/v1/namespaces/default/services/web", edited.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_GT(rv_number(updated.json()), rv_number(created));
  EXPECT_EQ(updated.json()["metadata"]["uid"], created["metadata"]["uid"]);

  // `edited` still carries the old resourceVersion.
  edited["metadata"]["labels"] = {{"tier", "back"}};
  HttpResponse stale = call("PUT", "/api/v1/namespaces/default/services/web", edited.dump());
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.json()["reason"], "Conflict");
  EXPECT_THAT(stale.json()["message"].get<std::string>(), HasSubstr("the object has been modified"));

  // An unchanged object is not written again.
  HttpResponse same = call("PUT", "/api/v1/namespaces/default/services/web", updated.body);
  EXPECT_EQ(rv_of(same.json()), rv_of(updated.json()));
}

TEST_F(SimTest, UpdateRejectsANameThatIsNotTheUrls) {
  json created = create_service("web");
  created["metadata"]["name"] = "other";
  EXPECT_EQ(call("PUT", "/api/v1/namespaces/default/services/web", created.dump()).status, 400);
}

TEST_F(SimTest, PatchesInEachFlavour) {
  create_service("web");
  const std::string path = "/api/v1/namespaces/default/services/web";
  HttpResponse merged = call("PATCH", path, R"({"metadata":{"labels":{"a":"1"}}})", "application/merge-patch+json");
  ASSERT_EQ(merged.status, 200) << merged.body;
  EXPECT_EQ(merged.json()["metadata"]["labels"]["a"], "1");

  // Strategic merge: ports merge by port number instead of being replaced.
  HttpResponse strategic = call("PATCH", path, R"({"spec":{"ports":[{"name":"https","port":443}]}})",
                                "application/strategic-merge-patch+json");
  ASSERT_EQ(strategic.status, 200) << strategic.body;
  EXPECT_THAT(strategic.json()["spec"]["ports"], SizeIs(2));

  HttpResponse json_patch = call("PATCH", path, R"([{"op":"replace","path":"/spec/sessionAffinity","value":"ClientIP"}])",
                                 "application/json-patch+json");
  ASSERT_EQ(json_patch.status, 200) << json_patch.body;
  EXPECT_EQ(json_patch.json()["spec"]["sessionAffinity"], "ClientIP");

  EXPECT_EQ(call("PATCH", path, "{}", "text/plain").status, 415);
  EXPECT_EQ(call("PATCH", "/api/v1/namespaces/default/services/nope", "{}", "application/merge-patch+json").status, 404);
  HttpResponse stale = call("PATCH", path, R"({"metadata":{"resourceVersion":"1","labels":{"b":"2"}}})",
                            "application/merge-patch+json");
  EXPECT_EQ(stale.status, 409);
}

TEST_F(SimTest, DeleteReturnsTheObjectAtTheDeletionsResourceVersion) {
  json created = create_service("web");
  HttpResponse deleted = call("DELETE", "/api/v1/namespaces/default/services/web");
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.json()["metadata"]["name"], "web");
  EXPECT_EQ(rv_number(deleted.json()), rv_number(created) + 1);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/services/web").status, 404);

  create_service("web");
  HttpResponse precondition = call("DELETE", "/api/v1/namespaces/default/services/web",
                                   R"({"preconditions":{"uid":"not-the-uid"}})");
  EXPECT_EQ(precondition.status, 409);
}

TEST_F(SimTest, FinalizersHoldADeletedObjectUntilRemoved) {
  json object = service_object("held");
  object["metadata"]["finalizers"] = {"example.com/hold"};
  create(object, "/api/v1/namespaces/default/services");
  HttpResponse marked = call("DELETE", "/api/v1/namespaces/default/services/held");
  ASSERT_EQ(marked.status, 200);
  EXPECT_TRUE(marked.json()["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/services/held").status, 200);
  HttpResponse released = call("PATCH", "/api/v1/namespaces/default/services/held",
                               R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  EXPECT_EQ(released.status, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/services/held").status, 404);
}

TEST_F(SimTest, ListsCarryTheCurrentResourceVersion) {
  create_service("a", "one");
  create_service("b", "two");
  create(slice_object("a-1", "a", "one"), "/apis/discovery.k8s.io/v1/namespaces/one/endpointslices");
  json all = get_json("/api/v1/services");
  EXPECT_EQ(all["kind"], "ServiceList");
  EXPECT_EQ(all["metadata"]["resourceVersion"], std::to_string(sim_->resource_version()));
  EXPECT_THAT(all["items"], SizeIs(2));
  json one = get_json("/api/v1/namespaces/one/services");
  ASSERT_THAT(one["items"], SizeIs(1));
  EXPECT_EQ(one["items"][0]["metadata"]["name"], "a");
  json slices = get_json("/apis/discovery.k8s.io/v1/endpointslices");
  EXPECT_EQ(slices["kind"], "EndpointSliceList");
  EXPECT_THAT(slices["items"], SizeIs(1));
}

TEST_F(SimTest, NamespacesAreCreatedOnFirstUseAndDeleteTheirContents) {
  create_service("a", "fresh");
  json namespace_object = get_json("/api/v1/namespaces/fresh");
  EXPECT_EQ(namespace_object["status"]["phase"], "Active");
  EXPECT_EQ(namespace_object["metadata"]["labels"]["kubernetes.io/metadata.name"], "fresh");
  std::vector<std::string> names;
  const json list = get_json("/api/v1/namespaces");
  for (const json& item : list["items"]) names.push_back(item["metadata"]["name"]);
  EXPECT_THAT(names, ::testing::ElementsAre("default", "fresh", "kube-node-lease", "kube-public", "kube-system"));

  ASSERT_EQ(call("DELETE", "/api/v1/namespaces/fresh").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/fresh/services/a").status, 404);
}

TEST_F(SimTest, ClusterScopedNodes) {
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", "worker-1"}}},
               {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "192.168.0.2"}}}}}}};
  json created = create(node, "/api/v1/nodes");
  EXPECT_FALSE(created["metadata"].contains("namespace"));
  EXPECT_EQ(get_json("/api/v1/nodes/worker-1")["status"]["addresses"][0]["address"], "192.168.0.2");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/nodes/worker-1").status, 404);
}

TEST_F(SimTest, StatusSubresourceReplacesOnlyStatus) {
  create_service("lb");
  json update = {{"apiVersion", "v1"},
                 {"kind", "Service"},
                 {"metadata", {{"name", "lb"}, {"namespace", "default"}}},
                 {"spec", {{"type", "ExternalName"}}},
                 {"status", {{"loadBalancer", {{"ingress", {{{"ip", "203.0.113.7"}}}}}}}}};
  HttpResponse response = call("PUT", "/api/v1/namespaces/default/services/lb/status", update.dump());
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.json()["status"]["loadBalancer"]["ingress"][0]["ip"], "203.0.113.7");
  EXPECT_EQ(response.json()["spec"]["type"], "ClusterIP");
}

TEST_F(SimTest, DryRunChangesNothing) {
  const std::uint64_t before = sim_->resource_version();
  HttpResponse dry = call("POST", "/api/v1/namespaces/default/services?dryRun=All", service_object("web").dump());
  EXPECT_EQ(dry.status, 201);
  EXPECT_EQ(sim_->resource_version(), before);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/services/web").status, 404);
}

TEST_F(SimTest, GenerateNameMakesAUniqueName) {
  json object = service_object("");
  object["metadata"].erase("name");
  object["metadata"]["generateName"] = "web-";
  json created = create(object, "/api/v1/namespaces/default/services");
  const std::string name = created["metadata"]["name"];
  EXPECT_TRUE(name.starts_with("web-")) << name;
  EXPECT_EQ(name.size(), 9u);
}

TEST_F(SimTest, ProtobufBodiesOfOtherKindsAreRefusedWithAnExplanation) {
  // A runtime.Unknown envelope for a v1 Node.
  const std::string node("k8s\0\x0a\x0a\x0a\x02v1\x12\x04Node", 16);
  HttpResponse response = call("POST", "/api/v1/nodes", node, "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(response.status, 415);
  EXPECT_THAT(response.json()["message"].get<std::string>(), HasSubstr("Service and Namespace only"));
  EXPECT_EQ(call("POST", "/api/v1/nodes", "k8s", "application/vnd.kubernetes.protobuf").status, 415);
}

TEST_F(SimTest, TheCppInterfaceMirrorsTheApi) {
  auto created = sim_->create(service_object("web", "shop"));
  ASSERT_TRUE(created) << created.error().message;
  auto fetched = sim_->get("services", "shop", "web");
  ASSERT_TRUE(fetched);
  EXPECT_EQ(*fetched, *created);
  json edited = *created;
  edited["spec"]["sessionAffinity"] = "ClientIP";
  auto replaced = sim_->replace(edited);
  ASSERT_TRUE(replaced) << replaced.error().message;
  auto list = sim_->list("services", "shop");
  ASSERT_TRUE(list);
  ASSERT_THAT((*list)["items"], SizeIs(1));
  EXPECT_EQ((*list)["items"][0]["spec"]["sessionAffinity"], "ClientIP");
  auto removed = sim_->remove("services", "shop", "web");
  ASSERT_TRUE(removed);
  auto gone = sim_->get("services", "shop", "web");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, 404);
  EXPECT_FALSE(sim_->create(json{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}}));
}

TEST_F(SimTest, SeedsFromTheExampleSnapshot) {
  auto stored = sim_->seed_file(std::string(KUBENAT_SOURCE_DIR) + "/tools/examples/cluster.json");
  ASSERT_TRUE(stored) << stored.error();
  EXPECT_GT(*stored, 10u);
  auto kubernetes = sim_->get("services", "default", "kubernetes");
  ASSERT_TRUE(kubernetes);
  // Identity is kept, the resourceVersion is the simulator's.
  EXPECT_EQ((*kubernetes)["metadata"]["uid"], "445ece31-325d-433e-8e33-5e5e2f2d0104");
  EXPECT_EQ((*kubernetes)["spec"]["clusterIP"], "10.96.0.1");
  EXPECT_NE((*kubernetes)["metadata"]["resourceVersion"], "41331");
  auto yaml = sim_->seed_file(std::string(KUBENAT_SOURCE_DIR) + "/tools/examples/cluster.yaml");
  ASSERT_TRUE(yaml) << yaml.error();
  EXPECT_EQ(*yaml, *stored);

  HttpResponse seeded = call("POST", "/sim/seed",
                             json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", {service_object("extra")}}}.dump());
  EXPECT_EQ(seeded.status, 200);
  EXPECT_EQ(seeded.json()["stored"], 1);
}

TEST_F(SimTest, TokenIsRequiredWhenConfigured) {
  Options options;
  options.token = "s3cret";
  start(options);
  EXPECT_EQ(call("GET", "/api/v1/services").status, 401);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_THAT(sim_->kubeconfig(), HasSubstr("token: \"s3cret\""));
}

}  // namespace
}  // namespace kubenat::apiserver_sim::testing
