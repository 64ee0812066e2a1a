#include "rules/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kubenat {

// Found by gtest through argument-dependent lookup, so it must live in
// kubenat; static keeps it from clashing with a printer in another test file.
[[maybe_unused]] static void PrintTo(const Diagnostic& diagnostic, std::ostream* out) {
  *out << diagnostic.to_string();
}

namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A diagnostic about `object`, at `field`, whose message contains each part.
template <class... Parts>
auto Diag(std::string object, std::string field, Parts... parts) {
  return AllOf(Field("object", &Diagnostic::object, object), Field("field", &Diagnostic::field, field),
               Field("message", &Diagnostic::message, AllOf(HasSubstr(parts)...)));
}

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }
Cidr cidr(std::string_view text) { return Cidr::parse(text).value(); }

json service_json() {
  return json::parse(R"({
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "svc1", "namespace": "ns1", "uid": "0d4b8c2e-1f2a-4c1e-9a57-3f3c2a1b0e9d"},
    "spec": {
      "clusterIP": "10.96.0.10",
      "ports": [
        {"name": "p80", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "p443", "port": 443, "protocol": "TCP", "targetPort": 8443}
      ]
    }
  })");
}

json slice_json() {
  return json::parse(R"({
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {
      "name": "svc1-abcde",
      "namespace": "ns1",
      "labels": {"kubernetes.io/service-name": "svc1",
                 "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    },
    "addressType": "IPv4",
    "ports": [{"name": "p80", "port": 8080, "protocol": "TCP"}],
    "endpoints": [
      {"addresses": ["10.1.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false},
       "nodeName": "worker-1", "zone": "zone-a"},
      {"addresses": ["10.1.0.2"], "conditions": {"ready": true}, "nodeName": "worker-2", "zone": "zone-b"}
    ]
  })");
}

json endpoints_json() {
  return json::parse(R"({
    "apiVersion": "v1",
    "kind": "Endpoints",
    "metadata": {"name": "svc1", "namespace": "ns1"},
    "subsets": [
      {"addresses": [{"ip": "10.1.0.1", "nodeName": "worker-1"}, {"ip": "10.1.0.2"}],
       "notReadyAddresses": [{"ip": "10.1.0.3", "nodeName": "worker-3"}],
       "ports": [{"name": "p80", "port": 8080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]},
      {"addresses": [{"ip": "10.1.1.1"}], "ports": [{"port": 9090}]}
    ]
  })");
}

json node_json() {
  return json::parse(R"({
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "worker-1",
                 "labels": {"kubernetes.io/hostname": "worker-1", "topology.kubernetes.io/zone": "zone-a"}},
    "spec": {"podCIDR": "10.200.1.0/24", "podCIDRs": ["10.200.1.0/24", "fd00:200:1::/64"]},
    "status": {"addresses": [{"type": "InternalIP", "address": "10.240.0.11"},
                             {"type": "Hostname", "address": "worker-1"}]}
  })");
}

// ---- Service: identity and names ----------------------------------------

TEST(DecodeService, MinimalServiceGetsApiDefaults) {
  json object = service_json();
  object["spec"]["ports"] = json::parse(R"([{"port": 80}])");
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_TRUE(decoded.ignored_reason.empty());
  const Service& service = *decoded.value;
  EXPECT_EQ(service.id, (ObjectName{"ns1", "svc1"}));
  EXPECT_EQ(service.type, ServiceType::ClusterIP);
  EXPECT_EQ(service.cluster_ips, std::vector{ip("10.96.0.10")});
  EXPECT_EQ(service.ports, (std::vector<ServicePort>{{"", Protocol::Tcp, 80, 0}}));
  EXPECT_EQ(service.external_traffic_policy, TrafficPolicy::Cluster);
  EXPECT_EQ(service.internal_traffic_policy, TrafficPolicy::Cluster);
  EXPECT_EQ(service.session_affinity, SessionAffinity::None);
  EXPECT_EQ(service.session_affinity_timeout_seconds, 10800);
  EXPECT_EQ(service.health_check_node_port, 0);
}

TEST(DecodeService, LoadBalancerServiceDecodesEveryField) {
  const json object = json::parse(R"({
    "metadata": {"name": "frontend", "namespace": "shop"},
    "spec": {
      "type": "LoadBalancer",
      "clusterIP": "10.96.10.40", "clusterIPs": ["10.96.10.40"],
      "ports": [{"name": "http", "port": 80, "nodePort": 31080, "protocol": "TCP", "targetPort": 8080}],
      "externalIPs": ["192.0.2.50"],
      "loadBalancerSourceRanges": ["198.51.100.0/24"],
      "externalTrafficPolicy": "Local",
      "internalTrafficPolicy": "Local",
      "healthCheckNodePort": 32000,
      "sessionAffinity": "ClientIP",
      "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}}
    },
    "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10", "ipMode": "VIP"}]}}
  })");
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  const Service& service = *decoded.value;
  EXPECT_EQ(service.type, ServiceType::LoadBalancer);
  EXPECT_EQ(service.ports, (std::vector<ServicePort>{{"http", Protocol::Tcp, 80, 31080}}));
  EXPECT_EQ(service.external_ips, std::vector{ip("192.0.2.50")});
  EXPECT_EQ(service.load_balancer_ips, std::vector{ip("203.0.113.10")});
  EXPECT_EQ(service.load_balancer_source_ranges, std::vector{cidr("198.51.100.0/24")});
  EXPECT_EQ(service.external_traffic_policy, TrafficPolicy::Local);
  EXPECT_EQ(service.internal_traffic_policy, TrafficPolicy::Local);
  EXPECT_EQ(service.health_check_node_port, 32000);
  EXPECT_EQ(service.session_affinity, SessionAffinity::ClientIP);
  EXPECT_EQ(service.session_affinity_timeout_seconds, 600);
}

TEST(DecodeService, MissingNamespaceDefaultsToDefault) {
  json object = service_json();
  object["metadata"].erase("namespace");
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->id, (ObjectName{"default", "svc1"}));
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
}

TEST(DecodeService, MissingNameSkipsServiceAndNamesField) {
  json object = service_json();
  object["metadata"].erase("name");
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/\"\"", "metadata.name", "missing", "service skipped")));
}

TEST(DecodeService, NameWithQuoteIsRejectedAndShownEscaped) {
  json object = service_json();
  object["metadata"]["name"] = "svc\" -j ACCEPT";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag(R"(Service ns1/"svc\" -j ACCEPT")", "metadata.name",
                                                    R"(invalid name "svc\" -j ACCEPT")", "service skipped")));
}

TEST(DecodeService, NameWithNewlineIsRejectedAndDiagnosticStaysOneLine) {
  json object = service_json();
  object["metadata"]["name"] = "svc1\n-A KUBE-SERVICES -j ACCEPT";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_EQ(decoded.diagnostics[0].field, "metadata.name");
  EXPECT_THAT(decoded.diagnostics[0].message, HasSubstr(R"("svc1\n-A KUBE-SERVICES -j ACCEPT")"));
  EXPECT_EQ(decoded.diagnostics[0].to_string().find('\n'), std::string::npos);
}

TEST(DecodeService, NameWithSpaceIsRejected) {
  json object = service_json();
  object["metadata"]["name"] = "svc 1";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag(R"(Service ns1/"svc 1")", "metadata.name", "service skipped")));
}

TEST(DecodeService, UppercaseNameIsRejected) {
  json object = service_json();
  object["metadata"]["name"] = "Svc1";
  EXPECT_FALSE(decode_service(object).value);
}

// Service names are DNS-1035 labels: at most 63 characters.
TEST(DecodeService, NameLongerThan63IsRejected) {
  json object = service_json();
  object["metadata"]["name"] = std::string(254, 'a');
  EXPECT_FALSE(decode_service(object).value);
  object["metadata"]["name"] = std::string(64, 'a');
  EXPECT_FALSE(decode_service(object).value);
  object["metadata"]["name"] = std::string(63, 'a');
  EXPECT_TRUE(decode_service(object).value);
}

TEST(DecodeService, NamespaceWithSlashIsRejected) {
  json object = service_json();
  object["metadata"]["namespace"] = "ns1/evil";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag(R"(Service "ns1/evil"/svc1)", "metadata.namespace", "invalid namespace")));
}

TEST(DecodeService, NonObjectIsSkippedWithDiagnostic) {
  const Decoded<Service> decoded = decode_service(json::array({1, 2}));
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service", "", "expected an object, got [1,2]")));
}

TEST(DecodeService, NonStringNameSkipsService) {
  json object = service_json();
  object["metadata"]["name"] = 42;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/\"\"", "metadata.name", "expected a string, got 42", "service skipped")));
}

TEST(DecodeService, SpecOfWrongTypeSkipsService) {
  json object = service_json();
  object["spec"] = "oops";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec", "expected an object", "service skipped")));
}

TEST(DecodeService, NullFieldsReadAsAbsent) {
  json object = service_json();
  object["spec"]["clusterIPs"] = nullptr;
  object["spec"]["externalIPs"] = nullptr;
  object["spec"]["type"] = nullptr;
  object["status"] = nullptr;
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->cluster_ips, std::vector{ip("10.96.0.10")});
}

// ---- Service: type and cluster IPs ----------------------------------------

TEST(DecodeService, UnknownTypeSkipsServiceAndNamesField) {
  json object = service_json();
  object["spec"]["type"] = "Magic";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.type", R"(unknown Service type "Magic")", "service skipped")));
}

TEST(DecodeService, ExternalNameServiceKeepsOnlyIdAndType) {
  json object = service_json();
  object["spec"] = json::parse(R"({"type": "ExternalName", "externalName": "db.example.com",
                                   "ports": [{"port": "not even a number"}]})");
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->type, ServiceType::ExternalName);
  EXPECT_TRUE(decoded.value->ports.empty());
}

TEST(DecodeService, NodePortTypeIsRead) {
  json object = service_json();
  object["spec"]["type"] = "NodePort";
  ASSERT_TRUE(decode_service(object).value);
  EXPECT_EQ(decode_service(object).value->type, ServiceType::NodePort);
}

TEST(DecodeService, InvalidClusterIpSkipsServiceAndNamesField) {
  json object = service_json();
  object["spec"]["clusterIP"] = "1.2.3";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.clusterIP", R"(invalid IP "1.2.3")", "service skipped")));
}

TEST(DecodeService, InvalidClusterIpsEntryNamesItsIndex) {
  json object = service_json();
  object["spec"]["clusterIPs"] = {"10.96.0.10", "fd00::zz"};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.clusterIPs[1]", R"("fd00::zz")")));
}

TEST(DecodeService, ClusterIpsHoldsBothFamilies) {
  json object = service_json();
  object["spec"]["clusterIPs"] = {"10.96.0.10", "fd00:96::10"};
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->cluster_ips, (std::vector{ip("10.96.0.10"), ip("fd00:96::10")}));
}

TEST(DecodeService, ClusterIpsTakesPrecedenceOverClusterIp) {
  json object = service_json();
  object["spec"]["clusterIP"] = "10.96.0.99";
  object["spec"]["clusterIPs"] = {"10.96.0.10"};
  EXPECT_EQ(decode_service(object).value->cluster_ips, std::vector{ip("10.96.0.10")});
}

TEST(DecodeService, EmptyClusterIpsFallsBackToClusterIp) {
  json object = service_json();
  object["spec"]["clusterIPs"] = json::array();
  EXPECT_EQ(decode_service(object).value->cluster_ips, std::vector{ip("10.96.0.10")});
}

TEST(DecodeService, ClusterIpNoneIsHeadless) {
  json object = service_json();
  object["spec"]["clusterIP"] = "None";
  object["spec"]["clusterIPs"] = {"None"};
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_TRUE(decoded.value->cluster_ips.empty());
  EXPECT_EQ(decoded.value->ports.size(), 2u);
}

TEST(DecodeService, MissingClusterIpIsHeadless) {
  json object = service_json();
  object["spec"].erase("clusterIP");
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_TRUE(decoded.value->cluster_ips.empty());
}

TEST(DecodeService, ClusterIpWithLeadingZerosIsReadSloppily) {
  json object = service_json();
  object["spec"]["clusterIP"] = "010.096.000.010";
  EXPECT_EQ(decode_service(object).value->cluster_ips, std::vector{ip("10.96.0.10")});
}

TEST(DecodeService, NonStringClusterIpSkipsService) {
  json object = service_json();
  object["spec"]["clusterIP"] = 167772170;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.clusterIP", "expected a string")));
}

// ---- Service: ports -------------------------------------------------------

TEST(DecodeService, UnsupportedProtocolSkipsOnlyThatPort) {
  json object = service_json();
  object["spec"]["ports"][1]["protocol"] = "ICMP";
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->ports, (std::vector<ServicePort>{{"p80", Protocol::Tcp, 80, 0}}));
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports[1].protocol",
                                                    R"(unsupported protocol "ICMP")", "port skipped")));
}

TEST(DecodeService, LowercaseProtocolIsRejected) {
  json object = service_json();
  object["spec"]["ports"][0]["protocol"] = "tcp";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->ports.size(), 1u);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].protocol", "\"tcp\"")));
}

TEST(DecodeService, UdpAndSctpProtocolsAreRead) {
  json object = service_json();
  object["spec"]["ports"][0]["protocol"] = "UDP";
  object["spec"]["ports"][1]["protocol"] = "SCTP";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->ports[0].protocol, Protocol::Udp);
  EXPECT_EQ(decoded.value->ports[1].protocol, Protocol::Sctp);
}

TEST(DecodeService, PortOutOfRangeSkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0]["port"] = 70000;
  object["spec"]["ports"][1]["port"] = 0;
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_TRUE(decoded.value->ports.empty());
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].port",
                                                    "70000 is out of range 1..65535", "port skipped"),
                                               Diag("Service ns1/svc1", "spec.ports[1].port", "0 is out of range")));
}

TEST(DecodeService, PortGivenAsStringSkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0]["port"] = "80";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->ports.size(), 1u);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].port",
                                                    R"(expected an integer, got "80")", "port skipped")));
}

TEST(DecodeService, FractionalPortSkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0]["port"] = 80.5;
  EXPECT_EQ(decode_service(object).value->ports.size(), 1u);
}

TEST(DecodeService, MissingPortNumberSkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0].erase("port");
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->ports.size(), 1u);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].port", "missing", "port skipped")));
}

TEST(DecodeService, NodePortOutOfRangeSkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0]["nodePort"] = 65536;
  object["spec"]["ports"][1]["nodePort"] = -1;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_TRUE(decoded.value->ports.empty());
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].nodePort", "65536"),
                                               Diag("Service ns1/svc1", "spec.ports[1].nodePort", "-1")));
}

TEST(DecodeService, NodePortIsRead) {
  json object = service_json();
  object["spec"]["type"] = "NodePort";
  object["spec"]["ports"][0]["nodePort"] = 30080;
  EXPECT_EQ(decode_service(object).value->ports[0].node_port, 30080);
}

TEST(DecodeService, PortNameWithQuoteOrSpaceSkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0]["name"] = "p80\" -j DROP";
  object["spec"]["ports"][1]["name"] = "p 443";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_TRUE(decoded.value->ports.empty());
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].name",
                                                    R"(invalid port name "p80\" -j DROP")", "port skipped"),
                                               Diag("Service ns1/svc1", "spec.ports[1].name", R"("p 443")")));
}

TEST(DecodeService, PortNameLongerThan63SkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0]["name"] = std::string(64, 'a');
  EXPECT_EQ(decode_service(object).value->ports.size(), 1u);
}

// Port names are DNS labels in the API, with no '.' or '_'.
TEST(DecodeService, PortNameThatIsNoDnsLabelSkipsPort) {
  json object = service_json();
  object["spec"]["ports"][0]["name"] = "grpc_web.v1";
  object["spec"]["ports"][1]["name"] = "-https";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_TRUE(decoded.value->ports.empty());
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.ports[0].name", R"(invalid port name "grpc_web.v1")",
                               "must be a DNS label", "port skipped"),
                          Diag("Service ns1/svc1", "spec.ports[1].name", R"("-https")", "port skipped")));
}

TEST(DecodeService, DuplicatePortNameAndProtocolLaterWins) {
  json object = service_json();
  object["spec"]["ports"][1]["name"] = "p80";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->ports, (std::vector<ServicePort>{{"p80", Protocol::Tcp, 443, 0}}));
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.ports[1].name", "spec.ports[0] skipped")));
}

// The API server holds port names unique whatever the protocol.
TEST(DecodeService, SamePortNameWithOtherProtocolAlsoLaterWins) {
  json object = service_json();
  object["spec"]["ports"][1]["name"] = "p80";
  object["spec"]["ports"][1]["protocol"] = "UDP";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->ports, (std::vector<ServicePort>{{"p80", Protocol::Udp, 443, 0}}));
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports[1].name",
                                                    R"(same name "p80" as spec.ports[0])", "spec.ports[0] skipped")));
}

TEST(DecodeService, PortsOfWrongTypeSkipService) {
  json object = service_json();
  object["spec"]["ports"] = json::object();
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.ports", "expected a list")));
}

// ---- Service: external IPs, load balancer ----------------------------------

TEST(DecodeService, InvalidExternalIpIsDroppedWithDiagnostic) {
  json object = service_json();
  object["spec"]["externalIPs"] = {"192.0.2.50", "192.0.2.", "2001:db8::50"};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->external_ips, (std::vector{ip("192.0.2.50"), ip("2001:db8::50")}));
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.externalIPs[1]",
                                                    R"(invalid IP "192.0.2.")", "entry skipped")));
}

TEST(DecodeService, LoadBalancerIngressWithoutIpIsSkippedSilently) {
  json object = service_json();
  object["status"] = json::parse(R"({"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": ""},
                                                                   {"ip": "203.0.113.10"}]}})");
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->load_balancer_ips, std::vector{ip("203.0.113.10")});
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
}

TEST(DecodeService, LoadBalancerIngressInProxyModeIsSkippedSilently) {
  json object = service_json();
  object["status"] = json::parse(R"({"loadBalancer": {"ingress": [{"ip": "203.0.113.10", "ipMode": "Proxy"},
                                                                   {"ip": "203.0.113.11", "ipMode": "VIP"}]}})");
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->load_balancer_ips, std::vector{ip("203.0.113.11")});
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
}

TEST(DecodeService, InvalidLoadBalancerIngressIpIsDroppedWithDiagnostic) {
  json object = service_json();
  object["status"] = json::parse(R"({"loadBalancer": {"ingress": [{"ip": "203.0.113.300"}, {"ip": "203.0.113.10"}]}})");
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->load_balancer_ips, std::vector{ip("203.0.113.10")});
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "status.loadBalancer.ingress[0].ip",
                                                    R"("203.0.113.300")", "entry skipped")));
}

TEST(DecodeService, SourceRangesAreTrimmedAndStoredAsNetworks) {
  json object = service_json();
  object["spec"]["loadBalancerSourceRanges"] = {" 203.0.113.7/25 ", "\t010.000.0.0/8", "2001:db8::1/32"};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  ASSERT_EQ(decoded.value->load_balancer_source_ranges.size(), 3u);
  EXPECT_EQ(decoded.value->load_balancer_source_ranges[0].to_string(), "203.0.113.0/25");
  EXPECT_EQ(decoded.value->load_balancer_source_ranges[1].to_string(), "10.0.0.0/8");
  EXPECT_EQ(decoded.value->load_balancer_source_ranges[2].to_string(), "2001:db8::/32");
}

TEST(DecodeService, InvalidSourceRangeIsDroppedWithDiagnostic) {
  json object = service_json();
  object["spec"]["loadBalancerSourceRanges"] = {"198.51.100.0/33", "198.51.100.0/24"};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->load_balancer_source_ranges, std::vector{cidr("198.51.100.0/24")});
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.loadBalancerSourceRanges[0]",
                                                    R"(invalid CIDR "198.51.100.0/33")", "entry skipped")));
}

// kube-proxy reads only spec.loadBalancerSourceRanges; the annotation is for
// cloud load balancers.
TEST(DecodeService, SourceRangesAnnotationIsIgnored) {
  json object = service_json();
  object["metadata"]["annotations"] = {{"service.beta.kubernetes.io/load-balancer-source-ranges", "198.51.100.0/24"}};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_TRUE(decoded.value->load_balancer_source_ranges.empty());
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
}

// ---- Service: policies, affinity, health check ------------------------------

TEST(DecodeService, ClusterAndEmptyTrafficPoliciesAreCluster) {
  json object = service_json();
  object["spec"]["externalTrafficPolicy"] = "Cluster";
  object["spec"]["internalTrafficPolicy"] = "";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->external_traffic_policy, TrafficPolicy::Cluster);
  EXPECT_EQ(decoded.value->internal_traffic_policy, TrafficPolicy::Cluster);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
}

TEST(DecodeService, UnknownTrafficPolicyIsClusterWithDiagnostic) {
  json object = service_json();
  object["spec"]["externalTrafficPolicy"] = "local";
  object["spec"]["internalTrafficPolicy"] = 1;
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->external_traffic_policy, TrafficPolicy::Cluster);
  EXPECT_EQ(decoded.value->internal_traffic_policy, TrafficPolicy::Cluster);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.externalTrafficPolicy", R"("local")", "treated as Cluster"),
                          Diag("Service ns1/svc1", "spec.internalTrafficPolicy", "treated as Cluster")));
}

TEST(DecodeService, ClientIpAffinityWithoutConfigUsesDefaultTimeout) {
  json object = service_json();
  object["spec"]["sessionAffinity"] = "ClientIP";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->session_affinity, SessionAffinity::ClientIP);
  EXPECT_EQ(decoded.value->session_affinity_timeout_seconds, 10800);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
}

TEST(DecodeService, AffinityTimeoutOutOfRangeUsesDefaultWithDiagnostic) {
  json object = service_json();
  object["spec"]["sessionAffinity"] = "ClientIP";
  object["spec"]["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 86401}}}};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->session_affinity, SessionAffinity::ClientIP);
  EXPECT_EQ(decoded.value->session_affinity_timeout_seconds, 10800);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                               "86401 is out of range 1..86400", "default 10800 used")));
}

TEST(DecodeService, AffinityTimeoutZeroUsesDefaultWithDiagnostic) {
  json object = service_json();
  object["spec"]["sessionAffinity"] = "ClientIP";
  object["spec"]["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 0}}}};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->session_affinity_timeout_seconds, 10800);
  EXPECT_EQ(decoded.diagnostics.size(), 1u);
}

TEST(DecodeService, AffinityTimeoutIsIgnoredWithoutClientIpAffinity) {
  json object = service_json();
  object["spec"]["sessionAffinity"] = "None";
  object["spec"]["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 600}}}};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->session_affinity, SessionAffinity::None);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
}

TEST(DecodeService, UnknownSessionAffinityIsNoneWithDiagnostic) {
  json object = service_json();
  object["spec"]["sessionAffinity"] = "Cookie";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->session_affinity, SessionAffinity::None);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service ns1/svc1", "spec.sessionAffinity", R"("Cookie")", "treated as None")));
}

TEST(DecodeService, InvalidHealthCheckNodePortIsZeroWithDiagnostic) {
  json object = service_json();
  object["spec"]["healthCheckNodePort"] = "32000";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(decoded.value->health_check_node_port, 0);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service ns1/svc1", "spec.healthCheckNodePort",
                                                    "expected an integer", "field ignored")));
}

// ---- Service: ignored objects and message hygiene ---------------------------

TEST(DecodeService, ServiceProxyNameLabelIgnoresServiceWithoutDiagnostic) {
  json object = service_json();
  object["metadata"]["labels"] = {{"service.kubernetes.io/service-proxy-name", "cilium"}};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_THAT(decoded.ignored_reason, HasSubstr("service.kubernetes.io/service-proxy-name"));
}

TEST(DecodeService, ANamedProxyTakesServicesLabelledWithItsName) {
  json object = service_json();
  object["metadata"]["labels"] = {{"service.kubernetes.io/service-proxy-name", "kubenat"}};
  const Decoded<Service> decoded = decode_service(object, DecodeOptions{.service_proxy_name = "kubenat"});
  EXPECT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_TRUE(decoded.ignored_reason.empty());
}

TEST(DecodeService, ANamedProxyIgnoresServicesOfAnotherName) {
  json object = service_json();
  object["metadata"]["labels"] = {{"service.kubernetes.io/service-proxy-name", "cilium"}};
  const Decoded<Service> decoded = decode_service(object, DecodeOptions{.service_proxy_name = "kubenat"});
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_THAT(decoded.ignored_reason, HasSubstr("another service proxy"));
}

TEST(DecodeService, ANamedProxyIgnoresUnlabelledServices) {
  const Decoded<Service> decoded = decode_service(service_json(), DecodeOptions{.service_proxy_name = "kubenat"});
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_THAT(decoded.ignored_reason, HasSubstr("service.kubernetes.io/service-proxy-name=\"kubenat\""));
}

TEST(DecodeService, OtherLabelsDoNotIgnoreService) {
  json object = service_json();
  object["metadata"]["labels"] = {{"app", "web"}};
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_TRUE(decoded.value);
  EXPECT_TRUE(decoded.ignored_reason.empty());
}

TEST(DecodeService, LongBadValueIsTruncatedInMessage) {
  json object = service_json();
  object["spec"]["clusterIP"] = std::string(500, 'x');
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_LT(decoded.diagnostics[0].message.size(), 100u);
  EXPECT_THAT(decoded.diagnostics[0].message, HasSubstr("..."));
}

TEST(DecodeService, ControlAndNonAsciiCharactersAreEscapedInMessage) {
  json object = service_json();
  object["spec"]["type"] = "Cluster\x1b[2J\xc3\xa9";
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_THAT(decoded.diagnostics[0].message, HasSubstr(R"("Cluster\u001b[2J\u00e9")"));
}

TEST(DecodeService, DiagnosticStringNamesObjectFieldAndConsequence) {
  json object = service_json();
  object["spec"]["clusterIP"] = "1.2.3";
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_EQ(decoded.diagnostics[0].to_string(),
            R"(Service ns1/svc1: spec.clusterIP: invalid IP "1.2.3"; service skipped)");
}

// ---- EndpointSlice ----------------------------------------------------------

TEST(DecodeEndpointSlice, DecodesPortsEndpointsAndConditions) {
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(slice_json());
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  const EndpointSlice& slice = *decoded.value;
  EXPECT_EQ(slice.id, (ObjectName{"ns1", "svc1-abcde"}));
  EXPECT_EQ(slice.service_name, "svc1");
  EXPECT_EQ(slice.service(), (ObjectName{"ns1", "svc1"}));
  EXPECT_EQ(slice.address_type, AddressType::IPv4);
  EXPECT_FALSE(slice.from_endpoints_v1);
  EXPECT_EQ(slice.ports, (std::vector<EndpointPort>{{"p80", Protocol::Tcp, 8080}}));
  ASSERT_EQ(slice.endpoints.size(), 2u);
  EXPECT_EQ(slice.endpoints[0].address, ip("10.1.0.1"));
  EXPECT_EQ(slice.endpoints[0].node_name, "worker-1");
  EXPECT_EQ(slice.endpoints[0].zone, "zone-a");
  EXPECT_EQ(slice.endpoints[1].address, ip("10.1.0.2"));
  EXPECT_EQ(slice.endpoints[1].node_name, "worker-2");
}

// Found by a user: a null label value crashed `kubenat plan` (issue 16).
TEST(DecodeEndpointSlice, ANullServiceNameLabelIsMissingNotACrash) {
  json object = slice_json();
  object["metadata"]["labels"]["kubernetes.io/service-name"] = nullptr;
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_THAT(decoded.diagnostics[0].to_string(), HasSubstr("kubernetes.io/service-name"));
}

TEST(DecodeEndpointSlice, ANullLabelValueReadsAsEmptyAsInGo) {
  json object = slice_json();
  object["metadata"]["labels"]["team"] = nullptr;
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_TRUE(decoded.diagnostics.empty());
}

// What the API server refuses as an endpoint address is refused here too:
// a DNAT to 127.0.0.1 would hand service traffic to the node itself.
TEST(DecodeEndpointSlice, AddressesTheApiServerRefusesAreSkippedNamingTheField) {
  for (const char* refused : {"127.0.0.1", "0.0.0.0", "169.254.169.254", "224.0.0.5"}) {
    json object = slice_json();
    object["endpoints"][0]["addresses"][0] = refused;
    const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
    ASSERT_TRUE(decoded.value) << refused;
    ASSERT_EQ(decoded.value->endpoints.size(), 1u) << refused << ": the other endpoint stays";
    EXPECT_EQ(decoded.value->endpoints[0].address.to_string(), "10.1.0.2");
    ASSERT_EQ(decoded.diagnostics.size(), 1u) << refused;
    EXPECT_THAT(decoded.diagnostics[0].to_string(), HasSubstr("endpoints[0].addresses[0]"));
    EXPECT_THAT(decoded.diagnostics[0].to_string(), HasSubstr("refuses"));
  }
}

TEST(DecodeEndpointSlice, Ipv6AddressesTheApiServerRefusesAreSkipped) {
  for (const char* refused : {"::1", "::", "fe80::1", "ff02::1"}) {
    json object = slice_json();
    object["addressType"] = "IPv6";
    object["endpoints"][0]["addresses"][0] = refused;
    object["endpoints"][1]["addresses"][0] = "fd00::2";
    const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
    ASSERT_TRUE(decoded.value) << refused;
    EXPECT_EQ(decoded.value->endpoints.size(), 1u) << refused;
  }
}

TEST(DecodeEndpointSlice, LegacyLeadingZerosStayDecimal) {
  json object = slice_json();
  object["endpoints"][0]["addresses"][0] = "010.001.000.011";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->endpoints[0].address.to_string(), "10.1.0.11");
}

TEST(DecodeEndpointSlice, NilConditionsDefaultToReadyServingNotTerminating) {
  json object = slice_json();
  object["endpoints"][0].erase("conditions");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  const Endpoint& endpoint = decoded.value->endpoints[0];
  EXPECT_TRUE(endpoint.ready);
  EXPECT_TRUE(endpoint.serving);
  EXPECT_FALSE(endpoint.terminating);
}

// As kube-proxy: a nil serving is true even when ready is false.
TEST(DecodeEndpointSlice, NilServingIsTrueEvenWhenNotReady) {
  json object = slice_json();
  object["endpoints"][0]["conditions"] = {{"ready", false}};
  // A copy: the decoded slice is a temporary (AddressSanitizer saw the
  // reference dangle).
  const Endpoint endpoint = decode_endpoint_slice(object).value->endpoints[0];
  EXPECT_FALSE(endpoint.ready);
  EXPECT_TRUE(endpoint.serving);
  EXPECT_FALSE(endpoint.terminating);
}

TEST(DecodeEndpointSlice, TerminatingServingEndpointIsRead) {
  json object = slice_json();
  object["endpoints"][0]["conditions"] = {{"ready", false}, {"serving", true}, {"terminating", true}};
  // A copy: the decoded slice is a temporary (AddressSanitizer saw the
  // reference dangle).
  const Endpoint endpoint = decode_endpoint_slice(object).value->endpoints[0];
  EXPECT_FALSE(endpoint.ready);
  EXPECT_TRUE(endpoint.serving);
  EXPECT_TRUE(endpoint.terminating);
}

TEST(DecodeEndpointSlice, NonBooleanConditionSkipsEndpoint) {
  json object = slice_json();
  object["endpoints"][0]["conditions"]["ready"] = "true";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_EQ(decoded.value->endpoints.size(), 1u);
  EXPECT_EQ(decoded.value->endpoints[0].address, ip("10.1.0.2"));
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "endpoints[0].conditions.ready",
                                                    "expected a boolean", "endpoint skipped")));
}

TEST(DecodeEndpointSlice, HintsAreRead) {
  json object = slice_json();
  object["endpoints"][0]["hints"] = json::parse(R"({"forZones": [{"name": "zone-a"}, {"name": "zone-b"}],
                                                    "forNodes": [{"name": "worker-1"}]})");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  const EndpointHints& hints = decoded.value->endpoints[0].hints;
  EXPECT_EQ(std::vector<std::string>(hints.zones().begin(), hints.zones().end()),
            (std::vector<std::string>{"zone-a", "zone-b"}));
  EXPECT_EQ(std::vector<std::string>(hints.nodes().begin(), hints.nodes().end()),
            (std::vector<std::string>{"worker-1"}));
}

TEST(DecodeEndpointSlice, MissingServiceNameLabelSkipsSlice) {
  json object = slice_json();
  object["metadata"]["labels"].erase("kubernetes.io/service-name");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", R"(metadata.labels["kubernetes.io/service-name"])",
                               "slice skipped")));
}

TEST(DecodeEndpointSlice, InvalidServiceNameLabelSkipsSlice) {
  json object = slice_json();
  object["metadata"]["labels"]["kubernetes.io/service-name"] = "svc1\" -j ACCEPT";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", R"(metadata.labels["kubernetes.io/service-name"])",
                               R"(invalid Service name "svc1\" -j ACCEPT")", "slice skipped")));
}

TEST(DecodeEndpointSlice, SliceNameWithNewlineIsRejected) {
  json object = slice_json();
  object["metadata"]["name"] = "svc1\nabc";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag(R"(EndpointSlice ns1/"svc1\nabc")", "metadata.name", "slice skipped")));
}

TEST(DecodeEndpointSlice, UnknownAddressTypeSkipsSlice) {
  json object = slice_json();
  object["addressType"] = "IPX";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "addressType",
                                                    R"(unsupported address type "IPX")", "slice skipped")));
}

TEST(DecodeEndpointSlice, MissingAddressTypeSkipsSlice) {
  json object = slice_json();
  object.erase("addressType");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "addressType", "missing")));
}

TEST(DecodeEndpointSlice, FqdnSliceKeepsPortsButNoEndpoints) {
  json object = slice_json();
  object["addressType"] = "FQDN";
  object["endpoints"] = json::parse(R"([{"addresses": ["db.example.com"]}])");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->address_type, AddressType::FQDN);
  EXPECT_EQ(decoded.value->ports.size(), 1u);
  EXPECT_TRUE(decoded.value->endpoints.empty());
}

TEST(DecodeEndpointSlice, Ipv6SliceIsRead) {
  json object = slice_json();
  object["addressType"] = "IPv6";
  object["endpoints"] = json::parse(R"([{"addresses": ["FD00:1::0001"]}])");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->endpoints.at(0).address, ip("fd00:1::1"));
}

TEST(DecodeEndpointSlice, PortWithoutNameHasNoName) {
  json object = slice_json();
  object["ports"] = json::parse(R"([{"port": 8080}, {"name": "", "port": 8081}])");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_EQ(decoded.value->ports,
            (std::vector<EndpointPort>{{std::nullopt, Protocol::Tcp, 8080}, {"", Protocol::Tcp, 8081}}));
}

TEST(DecodeEndpointSlice, PortWithoutNumberIsZero) {
  json object = slice_json();
  object["ports"] = json::parse(R"([{"name": "p80"}])");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->ports, (std::vector<EndpointPort>{{"p80", Protocol::Tcp, 0}}));
}

TEST(DecodeEndpointSlice, InvalidPortProtocolSkipsPort) {
  json object = slice_json();
  object["ports"] = json::parse(
      R"([{"name": "p80", "port": 8080, "protocol": "HTTP"}, {"name": "dns", "port": 53, "protocol": "UDP"}])");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_EQ(decoded.value->ports, (std::vector<EndpointPort>{{"dns", Protocol::Udp, 53}}));
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "ports[0].protocol", R"("HTTP")", "port skipped")));
}

TEST(DecodeEndpointSlice, PortOutOfRangeSkipsPort) {
  json object = slice_json();
  object["ports"][0]["port"] = 65536;
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_TRUE(decoded.value->ports.empty());
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "ports[0].port", "65536", "port skipped")));
}

TEST(DecodeEndpointSlice, InvalidPortNameSkipsPort) {
  json object = slice_json();
  object["ports"][0]["name"] = "p80 x";
  EXPECT_TRUE(decode_endpoint_slice(object).value->ports.empty());
}

TEST(DecodeEndpointSlice, InvalidAddressSkipsEndpointAndNamesField) {
  json object = slice_json();
  object["endpoints"][1]["addresses"] = {"10.1.0.256"};
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_EQ(decoded.value->endpoints.size(), 1u);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "endpoints[1].addresses[0]",
                                                    R"(invalid IP "10.1.0.256")", "endpoint skipped")));
}

TEST(DecodeEndpointSlice, MissingAddressesSkipsEndpoint) {
  json object = slice_json();
  object["endpoints"][0]["addresses"] = json::array();
  object["endpoints"][1].erase("addresses");
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_TRUE(decoded.value->endpoints.empty());
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "endpoints[0].addresses", "endpoint skipped"),
                          Diag("EndpointSlice ns1/svc1-abcde", "endpoints[1].addresses", "endpoint skipped")));
}

TEST(DecodeEndpointSlice, OnlyFirstAddressIsUsed) {
  json object = slice_json();
  object["endpoints"][0]["addresses"] = {"10.1.0.9", "not an address"};
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->endpoints[0].address, ip("10.1.0.9"));
}

TEST(DecodeEndpointSlice, AddressWithLeadingZerosIsReadSloppily) {
  json object = slice_json();
  object["endpoints"][0]["addresses"] = {"010.001.000.009"};
  EXPECT_EQ(decode_endpoint_slice(object).value->endpoints[0].address, ip("10.1.0.9"));
}

TEST(DecodeEndpointSlice, AddressOfOtherFamilySkipsEndpoint) {
  json object = slice_json();
  object["endpoints"][0]["addresses"] = {"fd00::1"};
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_EQ(decoded.value->endpoints.size(), 1u);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "endpoints[0].addresses[0]",
                                                    R"(IPv6 address "fd00::1" in an IPv4 slice)", "endpoint skipped")));
}

TEST(DecodeEndpointSlice, InvalidNodeNameIsDroppedWithDiagnostic) {
  json object = slice_json();
  object["endpoints"][0]["nodeName"] = "worker 1";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_EQ(decoded.value->endpoints.size(), 2u);
  EXPECT_EQ(decoded.value->endpoints[0].node_name, "");
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice ns1/svc1-abcde", "endpoints[0].nodeName",
                                                    R"("worker 1")", "field ignored")));
}

TEST(DecodeEndpointSlice, ReadsTheLastChangeTriggerTime) {
  json object = slice_json();
  EXPECT_FALSE(decode_endpoint_slice(object).value->last_change_trigger_time);
  object["metadata"]["annotations"] = {{"endpoints.kubernetes.io/last-change-trigger-time", "2026-12-04T10:00:00.25Z"}};
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->last_change_trigger_time, std::chrono::sys_days(std::chrono::year(2026) / 12 / 4) +
                                                         std::chrono::hours(10) + std::chrono::milliseconds(250));
}

TEST(DecodeEndpointSlice, AnUnreadableTriggerTimeIsIgnoredWithDiagnostic) {
  json object = slice_json();
  object["metadata"]["annotations"] = {{"endpoints.kubernetes.io/last-change-trigger-time", "yesterday"}};
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_FALSE(decoded.value->last_change_trigger_time);
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_EQ(decoded.diagnostics[0].field,
            R"(metadata.annotations["endpoints.kubernetes.io/last-change-trigger-time"])");
}

TEST(DecodeService, ReadsTheLastChangeTriggerTime) {
  json object = service_json();
  object["metadata"]["annotations"] = {{"endpoints.kubernetes.io/last-change-trigger-time", "2026-12-04T10:00:00Z"}};
  EXPECT_TRUE(decode_service(object).value->last_change_trigger_time);
}

TEST(DecodeEndpointSlice, V1beta1TopologyGivesNodeAndZone) {
  json object = slice_json();
  object["apiVersion"] = "discovery.k8s.io/v1beta1";
  object["endpoints"][0].erase("nodeName");
  object["endpoints"][0].erase("zone");
  object["endpoints"][0]["topology"] = {{"kubernetes.io/hostname", "worker-9"},
                                        {"topology.kubernetes.io/zone", "zone-z"}};
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->endpoints[0].node_name, "worker-9");
  EXPECT_EQ(decoded.value->endpoints[0].zone, "zone-z");
}

TEST(DecodeEndpointSlice, HeadlessLabelIgnoresSliceWithoutDiagnostic) {
  json object = slice_json();
  object["metadata"]["labels"]["service.kubernetes.io/headless"] = "";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_THAT(decoded.ignored_reason, HasSubstr("service.kubernetes.io/headless"));
}

TEST(DecodeEndpointSlice, ServiceProxyNameLabelIgnoresSlice) {
  json object = slice_json();
  object["metadata"]["labels"]["service.kubernetes.io/service-proxy-name"] = "other";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.ignored_reason, Not(IsEmpty()));
}

TEST(DecodeEndpointSlice, ANamedProxyTakesSlicesLabelledWithItsName) {
  json object = slice_json();
  object["metadata"]["labels"]["service.kubernetes.io/service-proxy-name"] = "kubenat";
  const Decoded<EndpointSlice> decoded =
      decode_endpoint_slice(object, DecodeOptions{.service_proxy_name = "kubenat"});
  EXPECT_TRUE(decoded.value);
  EXPECT_TRUE(decoded.ignored_reason.empty());
}

TEST(DecodeEndpointSlice, ANamedProxyIgnoresUnlabelledSlices) {
  const Decoded<EndpointSlice> decoded =
      decode_endpoint_slice(slice_json(), DecodeOptions{.service_proxy_name = "kubenat"});
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_THAT(decoded.ignored_reason, Not(IsEmpty()));
}

TEST(DecodeEndpointSlice, ANamedProxyStillIgnoresHeadlessSlices) {
  json object = slice_json();
  object["metadata"]["labels"]["service.kubernetes.io/service-proxy-name"] = "kubenat";
  object["metadata"]["labels"]["service.kubernetes.io/headless"] = "";
  const Decoded<EndpointSlice> decoded =
      decode_endpoint_slice(object, DecodeOptions{.service_proxy_name = "kubenat"});
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.ignored_reason, HasSubstr("service.kubernetes.io/headless"));
}

TEST(DecodeEndpointSlice, NullEndpointsAndPortsAreEmpty) {
  json object = slice_json();
  object["endpoints"] = nullptr;
  object["ports"] = nullptr;
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_TRUE(decoded.value->endpoints.empty());
  EXPECT_TRUE(decoded.value->ports.empty());
}

// ---- Endpoints (v1) -----------------------------------------------------------

TEST(DecodeEndpointsV1, OneSlicePerSubsetWithUniqueNames) {
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(endpoints_json());
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  const std::vector<EndpointSlice>& slices = *decoded.value;
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0].id, (ObjectName{"ns1", "svc1/subset-0-ipv4"}));
  EXPECT_EQ(slices[1].id, (ObjectName{"ns1", "svc1/subset-1-ipv4"}));
  for (const EndpointSlice& slice : slices) {
    EXPECT_TRUE(slice.from_endpoints_v1);
    EXPECT_EQ(slice.service(), (ObjectName{"ns1", "svc1"}));
    EXPECT_EQ(slice.address_type, AddressType::IPv4);
  }
  EXPECT_EQ(slices[0].ports, (std::vector<EndpointPort>{{"p80", Protocol::Tcp, 8080}, {"", Protocol::Udp, 53}}));
  EXPECT_EQ(slices[1].ports, (std::vector<EndpointPort>{{"", Protocol::Tcp, 9090}}));
}

TEST(DecodeEndpointsV1, ALoopbackAddressIsSkippedNamingTheField) {
  json object = endpoints_json();
  object["subsets"][0]["addresses"][0]["ip"] = "127.0.0.1";
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_THAT(decoded.diagnostics[0].to_string(), HasSubstr("a loopback address"));
}

TEST(DecodeEndpointsV1, AddressesAreReadyAndNotReadyAddressesAreNotServing) {
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(endpoints_json());
  const std::vector<Endpoint>& endpoints = decoded.value->at(0).endpoints;
  ASSERT_EQ(endpoints.size(), 3u);
  EXPECT_EQ(endpoints[0].address, ip("10.1.0.1"));
  EXPECT_EQ(endpoints[0].node_name, "worker-1");
  EXPECT_TRUE(endpoints[0].ready);
  EXPECT_TRUE(endpoints[0].serving);
  EXPECT_EQ(endpoints[2].address, ip("10.1.0.3"));
  EXPECT_FALSE(endpoints[2].ready);
  EXPECT_FALSE(endpoints[2].serving);
  EXPECT_FALSE(endpoints[2].terminating);
}

TEST(DecodeEndpointsV1, MixedFamiliesSplitIntoTwoSlices) {
  json object = endpoints_json();
  object["subsets"][0]["addresses"][1]["ip"] = "fd00::2";
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  ASSERT_EQ(decoded.value->size(), 3u);
  const EndpointSlice& v6 = decoded.value->at(1);
  EXPECT_EQ(v6.id.name, "svc1/subset-0-ipv6");
  EXPECT_EQ(v6.address_type, AddressType::IPv6);
  EXPECT_EQ(v6.endpoints.size(), 1u);
  EXPECT_EQ(v6.ports, decoded.value->at(0).ports);
}

TEST(DecodeEndpointsV1, SubsetWithoutAddressesYieldsNoSlice) {
  json object = endpoints_json();
  object["subsets"][1].erase("addresses");
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  EXPECT_EQ(decoded.value->size(), 1u);
}

TEST(DecodeEndpointsV1, NoSubsetsIsAnEmptyValue) {
  json object = endpoints_json();
  object.erase("subsets");
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_TRUE(decoded.value->empty());
}

TEST(DecodeEndpointsV1, InvalidAddressSkipsEndpoint) {
  json object = endpoints_json();
  object["subsets"][0]["addresses"][1]["ip"] = "10.1.0";
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  EXPECT_EQ(decoded.value->at(0).endpoints.size(), 2u);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Endpoints ns1/svc1", "subsets[0].addresses[1].ip",
                                                    R"(invalid IP "10.1.0")", "endpoint skipped")));
}

TEST(DecodeEndpointsV1, InvalidPortSkipsPort) {
  json object = endpoints_json();
  object["subsets"][0]["ports"][0]["protocol"] = "ICMP";
  object["subsets"][1]["ports"][0].erase("port");
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  EXPECT_EQ(decoded.value->at(0).ports.size(), 1u);
  EXPECT_TRUE(decoded.value->at(1).ports.empty());
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Endpoints ns1/svc1", "subsets[0].ports[0].protocol", "port skipped"),
                          Diag("Endpoints ns1/svc1", "subsets[1].ports[0].port", "missing", "port skipped")));
}

TEST(DecodeEndpointsV1, HeadlessLabelIgnoresEndpoints) {
  json object = endpoints_json();
  object["metadata"]["labels"] = {{"service.kubernetes.io/headless", ""}};
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_THAT(decoded.ignored_reason, Not(IsEmpty()));
}

TEST(DecodeEndpointsV1, ANamedProxyTakesOnlyEndpointsLabelledWithItsName) {
  json object = endpoints_json();
  const DecodeOptions options{.service_proxy_name = "kubenat"};
  EXPECT_FALSE(decode_endpoints_v1(object, options).value);
  object["metadata"]["labels"] = {{"service.kubernetes.io/service-proxy-name", "kubenat"}};
  EXPECT_TRUE(decode_endpoints_v1(object, options).value);
}

TEST(LabelValue, AcceptsKubernetesLabelValuesOnly) {
  EXPECT_TRUE(is_valid_label_value(""));
  EXPECT_TRUE(is_valid_label_value("kubenat"));
  EXPECT_TRUE(is_valid_label_value("My_proxy.v-2"));
  EXPECT_TRUE(is_valid_label_value(std::string(63, 'a')));
  EXPECT_FALSE(is_valid_label_value(std::string(64, 'a')));
  EXPECT_FALSE(is_valid_label_value("-kubenat"));
  EXPECT_FALSE(is_valid_label_value("kube nat"));
  EXPECT_FALSE(is_valid_label_value("a/b"));
}

TEST(DecodeEndpointsV1, NameWithQuoteIsRejected) {
  json object = endpoints_json();
  object["metadata"]["name"] = "svc1'";
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag(R"(Endpoints ns1/"svc1'")", "metadata.name", "endpoints skipped")));
}

// ---- Node -------------------------------------------------------------------

TEST(DecodeNode, DecodesLabelsAddressesAndPodCidrs) {
  const Decoded<Node> decoded = decode_node(node_json());
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  const Node& node = *decoded.value;
  EXPECT_EQ(node.name, "worker-1");
  EXPECT_EQ(node.zone(), "zone-a");
  EXPECT_EQ(node.labels.at("kubernetes.io/hostname"), "worker-1");
  EXPECT_EQ(node.addresses, (std::vector<NodeAddress>{{"InternalIP", "10.240.0.11"}, {"Hostname", "worker-1"}}));
  EXPECT_EQ(node.pod_cidrs, (std::vector{cidr("10.200.1.0/24"), cidr("fd00:200:1::/64")}));
}

TEST(DecodeNode, FallsBackToPodCidr) {
  json object = node_json();
  object["spec"].erase("podCIDRs");
  EXPECT_EQ(decode_node(object).value->pod_cidrs, std::vector{cidr("10.200.1.0/24")});
}

TEST(DecodeNode, NoPodCidrIsEmpty) {
  json object = node_json();
  object.erase("spec");
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_TRUE(decoded.value->pod_cidrs.empty());
}

TEST(DecodeNode, InvalidPodCidrIsDroppedWithDiagnostic) {
  json object = node_json();
  object["spec"]["podCIDRs"] = {"10.200.1.0/24", "10.200.1.0"};
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_EQ(decoded.value->pod_cidrs, std::vector{cidr("10.200.1.0/24")});
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Node worker-1", "spec.podCIDRs[1]", R"(invalid CIDR "10.200.1.0")", "entry skipped")));
}

TEST(DecodeNode, ReadsDeletionAndTaintKeys) {
  json object = node_json();
  EXPECT_FALSE(decode_node(object).value->being_deleted);
  object["metadata"]["deletionTimestamp"] = "2026-12-04T10:00:00Z";
  object["spec"]["taints"] = {{{"key", "ToBeDeletedByClusterAutoscaler"}, {"value", "1733300000"}, {"effect", "NoSchedule"}},
                              {{"key", "example.com/dedicated"}, {"effect", "NoExecute"}}};
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_TRUE(decoded.value->being_deleted);
  EXPECT_EQ(decoded.value->taint_keys, (std::vector<std::string>{"ToBeDeletedByClusterAutoscaler", "example.com/dedicated"}));
}

TEST(DecodeNode, TaintWithoutAKeyIsDroppedWithDiagnostic) {
  json object = node_json();
  object["spec"]["taints"] = {{{"effect", "NoSchedule"}}};
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_TRUE(decoded.value->taint_keys.empty());
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Node worker-1", "spec.taints[0].key", "required field is missing", "entry skipped")));
}

TEST(DecodeNode, NonStringLabelIsDroppedWithDiagnostic) {
  json object = node_json();
  object["metadata"]["labels"]["rack"] = 7;
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_FALSE(decoded.value->labels.contains("rack"));
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Node worker-1", R"(metadata.labels["rack"])", "expected a string", "entry skipped")));
}

TEST(DecodeNode, MalformedAddressIsDroppedWithDiagnostic) {
  json object = node_json();
  object["status"]["addresses"][0]["address"] = json::array();
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_EQ(decoded.value->addresses.size(), 1u);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Node worker-1", "status.addresses[0].address", "entry skipped")));
}

TEST(DecodeNode, NameWithSpaceIsRejected) {
  json object = node_json();
  object["metadata"]["name"] = "worker 1";
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag(R"(Node "worker 1")", "metadata.name", "node skipped")));
}

TEST(DecodeNode, NamespaceIsNotPartOfANodeName) {
  json object = node_json();
  object["metadata"]["namespace"] = "ignored";
  const Decoded<Node> decoded = decode_node(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->name, "worker-1");
}

TEST(DecodeNode, MissingNameIsRejected) {
  json object = node_json();
  object["metadata"].erase("name");
  const Decoded<Node> decoded = decode_node(object);
  EXPECT_FALSE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag(R"(Node "")", "metadata.name", "missing", "node skipped")));
}

}  // namespace
}  // namespace kubenat
