#include "rules/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

namespace kubenat {

// Found by gtest through argument-dependent lookup, so it must live in
// kubenat; static keeps it from clashing with a printer in another test file.
[[maybe_unused]] static void PrintTo(const Diagnostic& diagnostic, std::ostream* out) {
  *out << diagnostic.to_string();
}

namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

template <class... Parts>
auto Diag(std::string object, std::string field, Parts... parts) {
  return AllOf(Field("object", &Diagnostic::object, object), Field("field", &Diagnostic::field, field),
               Field("message", &Diagnostic::message, AllOf(HasSubstr(parts)...)));
}

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }
Cidr cidr(std::string_view text) { return Cidr::parse(text).value(); }

std::string read_source_file(std::string_view relative_path) {
  std::ifstream in(std::string(KUBENAT_SOURCE_DIR) + "/" + std::string(relative_path));
  EXPECT_TRUE(in) << relative_path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Snapshot read_ok(std::string_view text) {
  std::expected<Snapshot, std::string> snapshot = read_snapshot(text);
  EXPECT_TRUE(snapshot) << snapshot.error();
  return snapshot ? std::move(*snapshot) : Snapshot{};
}

// `text` with its first `from` replaced by `to`.
std::string replaced(std::string_view text, std::string_view from, std::string_view to) {
  std::string out(text);
  const std::size_t at = out.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? out : out.replace(at, from.size(), to);
}

std::string read_error(std::string_view text) {
  const std::expected<Snapshot, std::string> snapshot = read_snapshot(text);
  EXPECT_FALSE(snapshot);
  return snapshot ? std::string() : snapshot.error();
}

constexpr std::string_view kServiceJson = R"({
  "apiVersion": "v1", "kind": "Service",
  "metadata": {"name": "svc1", "namespace": "ns1"},
  "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "p80", "port": 80, "protocol": "TCP"}]}
})";

constexpr std::string_view kSliceJson = R"({
  "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
  "metadata": {"name": "svc1-abcde", "namespace": "ns1", "labels": {"kubernetes.io/service-name": "svc1"}},
  "addressType": "IPv4",
  "ports": [{"name": "p80", "port": 8080, "protocol": "TCP"}],
  "endpoints": [{"addresses": ["10.1.0.1"], "conditions": {"ready": true}, "nodeName": "worker-1"}]
})";

constexpr std::string_view kNodeJson = R"({
  "apiVersion": "v1", "kind": "Node",
  "metadata": {"name": "worker-1", "labels": {"topology.kubernetes.io/zone": "zone-a"}},
  "spec": {"podCIDRs": ["10.200.1.0/24"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "10.240.0.11"}]}
})";

std::string list_of(std::string_view kind, std::initializer_list<std::string_view> items) {
  std::string text = R"({"apiVersion": "v1", "kind": ")" + std::string(kind) + R"(", "items": [)";
  bool first = true;
  for (const std::string_view item : items) {
    text += first ? "" : ",";
    text += item;
    first = false;
  }
  return text + R"(], "metadata": {"resourceVersion": ""}})";
}

// ---- The example cluster -------------------------------------------------------

TEST(ReadSnapshot, ExampleJsonDecodesWithoutDiagnostics) {
  const Snapshot snapshot = read_ok(read_source_file("tools/examples/cluster.json"));
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_EQ(snapshot.state.services.size(), 10u);
  EXPECT_EQ(snapshot.state.nodes.size(), 3u);
  // Every Service but the headless one, whose slice kube-proxy never sees.
  EXPECT_EQ(snapshot.state.slices.size(), 9u);
  EXPECT_FALSE(snapshot.state.slices.contains(ObjectName{"shop", "headless"}));
}

TEST(ReadSnapshot, ExampleYamlEqualsExampleJson) {
  const Snapshot from_json = read_ok(read_source_file("tools/examples/cluster.json"));
  const Snapshot from_yaml = read_ok(read_source_file("tools/examples/cluster.yaml"));
  EXPECT_THAT(from_yaml.diagnostics, IsEmpty());
  EXPECT_EQ(from_yaml.state.services, from_json.state.services);
  EXPECT_EQ(from_yaml.state.slices, from_json.state.slices);
  EXPECT_EQ(from_yaml.state.nodes, from_json.state.nodes);
}

TEST(ReadSnapshot, ExampleHasTheDocumentedServices) {
  const ClusterState state = read_ok(read_source_file("tools/examples/cluster.json")).state;

  const Service& frontend = state.services.at({"shop", "frontend"});
  EXPECT_EQ(frontend.type, ServiceType::LoadBalancer);
  EXPECT_EQ(frontend.load_balancer_ips, std::vector{ip("203.0.113.10")});
  EXPECT_EQ(frontend.load_balancer_source_ranges, std::vector{cidr("198.51.100.0/24")});
  EXPECT_EQ(frontend.external_traffic_policy, TrafficPolicy::Local);
  EXPECT_EQ(frontend.health_check_node_port, 32000);
  EXPECT_EQ(frontend.ports, (std::vector<ServicePort>{{"http", Protocol::Tcp, 80, 31080}}));

  const Service& web = state.services.at({"shop", "web"});
  EXPECT_EQ(web.session_affinity, SessionAffinity::ClientIP);
  EXPECT_EQ(web.session_affinity_timeout_seconds, 600);

  const Service& api = state.services.at({"shop", "api"});
  EXPECT_EQ(api.ports,
            (std::vector<ServicePort>{{"http", Protocol::Tcp, 80, 30080}, {"grpc", Protocol::Tcp, 9090, 30090}}));

  EXPECT_EQ(state.services.at({"shop", "legacy"}).external_ips, std::vector{ip("192.0.2.50")});
  EXPECT_EQ(state.services.at({"shop", "metrics"}).internal_traffic_policy, TrafficPolicy::Local);
  EXPECT_EQ(state.services.at({"shop", "sctp-echo"}).ports.at(0).protocol, Protocol::Sctp);
  EXPECT_TRUE(state.services.at({"shop", "headless"}).cluster_ips.empty());
  EXPECT_EQ(state.services.at({"kube-system", "kube-dns"}).ports.size(), 3u);
  EXPECT_EQ(state.services.at({"default", "kubernetes"}).cluster_ips, std::vector{ip("10.96.0.1")});
}

TEST(ReadSnapshot, ExampleHasTheDocumentedEndpoints) {
  const ClusterState state = read_ok(read_source_file("tools/examples/cluster.json")).state;
  const auto only_slice = [&](const ObjectName& service) -> const EndpointSlice& {
    const auto& slices = state.slices.at(service);
    EXPECT_EQ(slices.size(), 1u) << service.to_string();
    return slices.begin()->second;
  };

  const std::vector<Endpoint>& api = only_slice({"shop", "api"}).endpoints;
  ASSERT_EQ(api.size(), 4u);
  EXPECT_EQ(std::ranges::count_if(api, [](const Endpoint& e) { return e.terminating && e.serving && !e.ready; }), 1);

  EXPECT_EQ(only_slice({"default", "kubernetes"}).endpoints.at(0).address, ip("10.240.0.10"));
  EXPECT_EQ(only_slice({"shop", "web"}).endpoints.size(), 3u);
  EXPECT_TRUE(only_slice({"shop", "empty"}).endpoints.empty());
  EXPECT_EQ(only_slice({"shop", "legacy"}).ports, (std::vector<EndpointPort>{{"", Protocol::Tcp, 8443}}));
  const std::vector<Endpoint>& metrics = only_slice({"shop", "metrics"}).endpoints;
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].node_name, "worker-2");
  const std::vector<Endpoint>& dns = only_slice({"kube-system", "kube-dns"}).endpoints;
  ASSERT_EQ(dns.size(), 2u);
  EXPECT_EQ(dns[0].node_name, "worker-1");
  EXPECT_EQ(dns[0].zone, "zone-a");
  EXPECT_EQ(dns[1].node_name, "worker-3");
  EXPECT_EQ(dns[1].zone, "zone-b");
}

TEST(ReadSnapshot, ExampleHasTheDocumentedNodes) {
  const ClusterState state = read_ok(read_source_file("tools/examples/cluster.json")).state;
  const Node& worker3 = state.nodes.at("worker-3");
  EXPECT_EQ(worker3.zone(), "zone-b");
  EXPECT_EQ(worker3.pod_cidrs, std::vector{cidr("10.200.3.0/24")});
  EXPECT_EQ(worker3.addresses.at(0), (NodeAddress{"InternalIP", "10.240.0.13"}));
  EXPECT_EQ(state.nodes.at("worker-1").zone(), "zone-a");
  EXPECT_EQ(state.nodes.at("worker-2").pod_cidrs, std::vector{cidr("10.200.2.0/24")});
}

// ---- Document shapes -----------------------------------------------------------

TEST(ReadSnapshot, V1ListOfAllKindsFillsTheState) {
  const Snapshot snapshot = read_ok(list_of("List", {kServiceJson, kSliceJson, kNodeJson}));
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_TRUE(snapshot.state.services.contains(ObjectName{"ns1", "svc1"}));
  EXPECT_TRUE(snapshot.state.slices.at(ObjectName{"ns1", "svc1"}).contains("svc1-abcde"));
  EXPECT_TRUE(snapshot.state.nodes.contains("worker-1"));
}

TEST(ReadSnapshot, SingleObjectIsAccepted) {
  const Snapshot snapshot = read_ok(kServiceJson);
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_EQ(snapshot.state.services.size(), 1u);
}

TEST(ReadSnapshot, TypedListItemsWithoutKindTakeTheListsKind) {
  const auto strip_kind = [](std::string_view object) {
    std::string text(object);
    const std::size_t at = text.find("\"kind\"");
    const std::size_t comma = text.find(',', at);
    return text.erase(at, comma - at + 1);
  };
  const std::string service = strip_kind(kServiceJson);
  const std::string slice = strip_kind(kSliceJson);
  const std::string node = strip_kind(kNodeJson);
  ASSERT_EQ(service.find("\"kind\""), std::string::npos);

  EXPECT_EQ(read_ok(list_of("ServiceList", {service})).state.services.size(), 1u);
  EXPECT_EQ(read_ok(list_of("EndpointSliceList", {slice})).state.slices.size(), 1u);
  EXPECT_EQ(read_ok(list_of("NodeList", {node})).state.nodes.size(), 1u);
  const std::string endpoints = R"({"metadata": {"name": "svc1", "namespace": "ns1"},
                                    "subsets": [{"addresses": [{"ip": "10.1.0.1"}], "ports": [{"port": 80}]}]})";
  EXPECT_EQ(read_ok(list_of("EndpointsList", {endpoints})).state.slices.size(), 1u);
}

TEST(ReadSnapshot, MultiDocumentYamlIsAccepted) {
  const Snapshot snapshot = read_ok(R"(apiVersion: v1
kind: Service
metadata:
  name: svc1
  namespace: ns1
spec:
  clusterIP: 10.96.0.10
  ports:
  - name: p80
    port: 80
    protocol: TCP
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc1-abcde
  namespace: ns1
  labels:
    kubernetes.io/service-name: svc1
addressType: IPv4
ports:
- name: p80
  port: 8080
endpoints:
- addresses: [10.1.0.1]
  conditions:
    ready: false
    serving: true
    terminating: true
  nodeName: worker-1
---
)");
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_EQ(snapshot.state.services.at({"ns1", "svc1"}).ports,
            (std::vector<ServicePort>{{"p80", Protocol::Tcp, 80, 0}}));
  const Endpoint& endpoint = snapshot.state.slices.at({"ns1", "svc1"}).at("svc1-abcde").endpoints.at(0);
  EXPECT_EQ(endpoint.address, ip("10.1.0.1"));
  EXPECT_FALSE(endpoint.ready);
  EXPECT_TRUE(endpoint.terminating);
}

TEST(ReadSnapshot, YamlListOfObjectsIsAccepted) {
  const Snapshot snapshot = read_ok(R"(apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Node
  metadata:
    name: worker-1
  spec:
    podCIDR: 10.200.1.0/24
)");
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_EQ(snapshot.state.nodes.at("worker-1").pod_cidrs, std::vector{cidr("10.200.1.0/24")});
}

TEST(ReadSnapshot, YamlFlowStyleStartingWithBraceIsAccepted) {
  const Snapshot snapshot =
      read_ok("{apiVersion: v1, kind: Service, metadata: {name: svc1, namespace: ns1}, spec: {clusterIP: 10.96.0.10}}");
  EXPECT_EQ(snapshot.state.services.at({"ns1", "svc1"}).cluster_ips, std::vector{ip("10.96.0.10")});
}

TEST(ReadSnapshot, QuotedYamlScalarsStayStrings) {
  const Snapshot snapshot = read_ok(R"(apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  clusterIP: "10.96.0.10"
  ports:
  - name: "80"
    port: 80
  - name: quoted-port
    port: "81"
)");
  EXPECT_EQ(snapshot.state.services.at({"ns1", "svc1"}).ports,
            (std::vector<ServicePort>{{"80", Protocol::Tcp, 80, 0}}));
  EXPECT_THAT(snapshot.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.ports[1].port", R"(expected an integer, got "81")")));
}

TEST(ReadSnapshot, PlainYamlIntegerIsNotAString) {
  const Snapshot snapshot = read_ok(R"(apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  clusterIP: 10.96.0.10
  ports:
  - name: 80
    port: 80
)");
  EXPECT_TRUE(snapshot.state.services.at({"ns1", "svc1"}).ports.empty());
  EXPECT_THAT(snapshot.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].name", "expected a string, got 80")));
}

TEST(ReadSnapshot, YamlNullMeansUnset) {
  const Snapshot snapshot = read_ok(R"(apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  clusterIP: 10.96.0.10
  type: ~
  externalIPs: null
  ports:
  - port: 80
    protocol:
)");
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  const Service& service = snapshot.state.services.at({"ns1", "svc1"});
  EXPECT_EQ(service.type, ServiceType::ClusterIP);
  EXPECT_EQ(service.ports.at(0).protocol, Protocol::Tcp);
}

TEST(ReadSnapshot, EndpointsV1BecomeSlicesOfTheirService) {
  const Snapshot snapshot = read_ok(R"({"apiVersion": "v1", "kind": "Endpoints",
    "metadata": {"name": "svc1", "namespace": "ns1"},
    "subsets": [{"addresses": [{"ip": "10.1.0.1"}], "ports": [{"name": "p80", "port": 8080}]}]})");
  const EndpointSlice& slice = snapshot.state.slices.at({"ns1", "svc1"}).at("svc1/subset-0-ipv4");
  EXPECT_TRUE(slice.from_endpoints_v1);
  EXPECT_EQ(slice.endpoints.at(0).address, ip("10.1.0.1"));
}

TEST(ReadSnapshot, V1beta1EndpointSliceIsAccepted) {
  const std::string slice = replaced(kSliceJson, "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1");
  EXPECT_EQ(read_ok(slice).state.slices.size(), 1u);
}

// ---- What is skipped -------------------------------------------------------------

TEST(ReadSnapshot, KindsKubeProxyDoesNotUseAreSkippedSilently) {
  const Snapshot snapshot = read_ok(list_of(
      "List",
      {R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns1"}})",
       R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns1"}})", kServiceJson}));
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_EQ(snapshot.state.services.size(), 1u);
}

TEST(ReadSnapshot, ServiceKindOfAnotherApiGroupIsSkippedSilently) {
  const Snapshot snapshot = read_ok(R"({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
    "metadata": {"name": "hello", "namespace": "ns1"}, "spec": {"template": {}}})");
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_TRUE(snapshot.state.services.empty());
}

TEST(ReadSnapshot, ListItemWithoutKindIsSkippedWithDiagnostic) {
  const Snapshot snapshot = read_ok(list_of("List", {kServiceJson, R"({"metadata": {"name": "x"}})"}));
  EXPECT_EQ(snapshot.state.services.size(), 1u);
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("snapshot", "items[1].kind", "no kind", "item skipped")));
}

TEST(ReadSnapshot, ListItemThatIsNotAnObjectIsSkippedWithDiagnostic) {
  const Snapshot snapshot = read_ok(list_of("List", {"42"}));
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("snapshot", "items[0]", "item skipped")));
}

TEST(ReadSnapshot, DecoderDiagnosticsAreCollected) {
  const std::string service = replaced(kServiceJson, "10.96.0.10", "10.96.0.");
  const Snapshot snapshot = read_ok(list_of("List", {service, kNodeJson}));
  EXPECT_TRUE(snapshot.state.services.empty());
  EXPECT_EQ(snapshot.state.nodes.size(), 1u);
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.clusterIP", "service skipped")));
}

TEST(ReadSnapshot, SliceOfUnknownServiceIsKept) {
  const Snapshot snapshot = read_ok(kSliceJson);
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_TRUE(snapshot.state.services.empty());
  EXPECT_TRUE(snapshot.state.slices.at({"ns1", "svc1"}).contains("svc1-abcde"));
}

TEST(ReadSnapshot, SliceWithoutServiceNameLabelIsSkippedWithDiagnostic) {
  const std::string slice = replaced(kSliceJson, "kubernetes.io/service-name", "app");
  const Snapshot snapshot = read_ok(slice);
  EXPECT_TRUE(snapshot.state.slices.empty());
  EXPECT_THAT(snapshot.diagnostics,
              ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", R"(metadata.labels["kubernetes.io/service-name"])",
                               "slice skipped")));
}

TEST(ReadSnapshot, IgnoredServiceIsLeftOutSilently) {
  const std::string service =
      replaced(kServiceJson, R"("namespace": "ns1")",
               R"("namespace": "ns1", "labels": {"service.kubernetes.io/service-proxy-name": "other"})");
  const Snapshot snapshot = read_ok(service);
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_TRUE(snapshot.state.services.empty());
}

TEST(ReadSnapshot, NonObjectDocumentAmongObjectsIsSkippedWithDiagnostic) {
  const Snapshot snapshot = read_ok("apiVersion: v1\nkind: Node\nmetadata: {name: worker-1}\n---\njust text\n");
  EXPECT_EQ(snapshot.state.nodes.size(), 1u);
  EXPECT_THAT(snapshot.diagnostics,
              ElementsAre(Diag("snapshot", "documents[1]", "top-level value is a string", "document skipped")));
}

TEST(ReadSnapshot, PathsInMultiDocumentInputNameTheDocument) {
  const Snapshot snapshot =
      read_ok("kind: Node\nmetadata: {name: worker-1}\n---\nkind: List\nitems:\n- metadata: {name: x}\n");
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("snapshot", "documents[1].items[0].kind", "no kind")));
}

// ---- Duplicates --------------------------------------------------------------------

TEST(ReadSnapshot, DuplicateServiceLaterWinsWithDiagnostic) {
  const std::string later = replaced(kServiceJson, "10.96.0.10", "10.96.0.99");
  const Snapshot snapshot = read_ok(list_of("List", {kServiceJson, later}));
  EXPECT_EQ(snapshot.state.services.at({"ns1", "svc1"}).cluster_ips, std::vector{ip("10.96.0.99")});
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("Service ns1/svc1", "", "more than once", "later copy replaces")));
}

TEST(ReadSnapshot, InvalidDuplicateKeepsTheEarlierCopy) {
  const std::string later = replaced(kServiceJson, "10.96.0.10", "10.96.0.");
  const Snapshot snapshot = read_ok(list_of("List", {kServiceJson, later}));
  EXPECT_EQ(snapshot.state.services.at({"ns1", "svc1"}).cluster_ips, std::vector{ip("10.96.0.10")});
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.clusterIP", "service skipped")));
}

TEST(ReadSnapshot, DuplicateSliceNamingAnotherServiceLeavesNoStaleCopy) {
  const std::string later =
      replaced(kSliceJson, R"("kubernetes.io/service-name": "svc1")", R"("kubernetes.io/service-name": "svc2")");
  const Snapshot snapshot = read_ok(list_of("List", {kSliceJson, later}));
  EXPECT_FALSE(snapshot.state.slices.contains(ObjectName{"ns1", "svc1"}));
  EXPECT_TRUE(snapshot.state.slices.at({"ns1", "svc2"}).contains("svc1-abcde"));
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "", "more than once")));
}

TEST(ReadSnapshot, DuplicateNodeLaterWinsWithDiagnostic) {
  const std::string later = replaced(kNodeJson, "zone-a", "zone-b");
  const Snapshot snapshot = read_ok(list_of("List", {kNodeJson, later}));
  EXPECT_EQ(snapshot.state.nodes.at("worker-1").zone(), "zone-b");
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("Node worker-1", "", "more than once")));
}

TEST(ReadSnapshot, DuplicateEndpointsReplaceTheirSlices) {
  const std::string earlier =
      R"({"kind": "Endpoints", "apiVersion": "v1", "metadata": {"name": "svc1", "namespace": "ns1"},
    "subsets": [{"addresses": [{"ip": "10.1.0.1"}]}, {"addresses": [{"ip": "10.1.0.2"}]}]})";
  const std::string later =
      R"({"kind": "Endpoints", "apiVersion": "v1", "metadata": {"name": "svc1", "namespace": "ns1"},
    "subsets": [{"addresses": [{"ip": "10.1.0.3"}]}]})";
  const Snapshot snapshot = read_ok(list_of("List", {earlier, later}));
  const auto& slices = snapshot.state.slices.at({"ns1", "svc1"});
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices.at("svc1/subset-0-ipv4").endpoints.at(0).address, ip("10.1.0.3"));
  EXPECT_THAT(snapshot.diagnostics, ElementsAre(Diag("Endpoints ns1/svc1", "", "more than once")));
}

// ---- Errors --------------------------------------------------------------------------

TEST(ReadSnapshot, BrokenJsonGivesOneLineError) {
  const std::string error = read_error("{\"kind\": \"List\",\n \"items\": [\n");
  EXPECT_THAT(error, StartsWith("snapshot: not JSON or YAML: "));
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(ReadSnapshot, BrokenYamlGivesOneLineError) {
  const std::string error = read_error("kind: List\nitems: [unclosed\n  - a: b\n");
  EXPECT_THAT(error, StartsWith("snapshot: not JSON or YAML: "));
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(ReadSnapshot, SelfReferencingYamlAliasIsAnError) {
  const std::string error = read_error("kind: List\nitems: &a [*a]\n");
  EXPECT_THAT(error, StartsWith("snapshot: not JSON or YAML: "));
}

TEST(ReadSnapshot, DeeplyNestedYamlIsAnError) {
  const std::string text = "kind: List\nitems: " + std::string(300, '[') + std::string(300, ']') + "\n";
  EXPECT_THAT(read_error(text), HasSubstr("nested deeper"));
}

TEST(ReadSnapshot, ExponentiallyExpandingYamlAliasesAreAnError) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    const std::string previous = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + previous;
    for (int j = 1; j < 10; ++j) {
      text += ", " + previous;
    }
    text += "]\n";
  }
  text += "kind: List\n";
  EXPECT_THAT(read_error(text), HasSubstr("aliases expand"));
}

TEST(ReadSnapshot, OrdinaryYamlAliasesAreExpanded) {
  const Snapshot snapshot = read_ok(R"(kind: List
items:
- kind: Node
  metadata: {name: worker-1, labels: &labels {topology.kubernetes.io/zone: zone-a}}
- kind: Node
  metadata: {name: worker-2, labels: *labels}
)");
  EXPECT_EQ(snapshot.state.nodes.at("worker-2").zone(), "zone-a");
}

TEST(ReadSnapshot, DeeplyNestedListsAreSkippedWithDiagnostic) {
  // 400 lists are 800 levels of JSON, within what the parser takes.
  std::string text;
  for (int i = 0; i < 400; ++i) {
    text += R"({"kind": "List", "items": [)";
  }
  text += std::string(kNodeJson);
  for (int i = 0; i < 400; ++i) {
    text += "]}";
  }
  const Snapshot snapshot = read_ok(text);
  EXPECT_TRUE(snapshot.state.nodes.empty());
  ASSERT_EQ(snapshot.diagnostics.size(), 1u);
  EXPECT_THAT(snapshot.diagnostics[0].message, HasSubstr("list skipped"));
}

TEST(ReadSnapshot, NestedListIsFlattened) {
  const Snapshot snapshot = read_ok(list_of("List", {list_of("NodeList", {kNodeJson})}));
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_EQ(snapshot.state.nodes.size(), 1u);
}

TEST(ReadSnapshot, LongParserMessageIsShortened) {
  // An unterminated string: both parsers fail, and nlohmann echoes the token.
  const std::string text = "{\"kind\": \"" + std::string(5000, 'x');
  const std::string error = read_error(text);
  EXPECT_THAT(error, StartsWith("snapshot: not JSON or YAML: "));
  EXPECT_LT(error.size(), 400u);
}

TEST(ReadSnapshot, PlainTextIsNotAKubernetesObject) {
  EXPECT_EQ(read_error("this is not a cluster"),
            "snapshot: not a Kubernetes object or list: top-level value is a string");
}

TEST(ReadSnapshot, TopLevelArrayIsNotAKubernetesObject) {
  EXPECT_EQ(read_error("[1, 2]"), "snapshot: not a Kubernetes object or list: top-level value is an array");
}

TEST(ReadSnapshot, ObjectWithoutKindIsNotAKubernetesObject) {
  EXPECT_EQ(read_error(R"({"items": []})"), "snapshot: not a Kubernetes object or list: no \"kind\" field");
}

TEST(ReadSnapshot, EmptyInputIsAnError) {
  EXPECT_EQ(read_error(""), "snapshot: empty input");
  EXPECT_EQ(read_error("  \n---\n"), "snapshot: empty input");
}

TEST(ReadSnapshot, EmptyListIsAnEmptyCluster) {
  const Snapshot snapshot = read_ok(list_of("List", {}));
  EXPECT_THAT(snapshot.diagnostics, IsEmpty());
  EXPECT_TRUE(snapshot.state.services.empty());
}

}  // namespace
}  // namespace kubenat
