// What the Kubernetes API server refuses in the fields kube-proxy reads is
// refused by the decoder too, naming the object and the field, and skipping
// no more than the decoder's convention for that field says (a port, an
// entry, the object); never the whole sync.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "rules/decode.h"

namespace kubenat {

// Found by gtest through argument-dependent lookup; static keeps it from
// clashing with the same printer in decode_test.cpp.
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

template <class... Parts>
auto Diag(std::string object, std::string field, Parts... parts) {
  return AllOf(Field("object", &Diagnostic::object, object), Field("field", &Diagnostic::field, field),
               Field("message", &Diagnostic::message, AllOf(HasSubstr(parts)...)));
}

json web_service() {
  return json::parse(R"({
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
      "type": "NodePort",
      "clusterIP": "10.96.0.10",
      "ports": [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https", "nodePort": 30443}
      ]
    }
  })");
}

json web_slice() {
  return json::parse(R"({
    "metadata": {"name": "web-abcde", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "https", "port": 8443, "protocol": "TCP"}],
    "endpoints": [{"addresses": ["10.1.0.1"]}]
  })");
}

std::vector<std::string> port_names(const Service& service) {
  std::vector<std::string> names;
  for (const ServicePort& port : service.ports) names.push_back(port.name);
  return names;
}

// ---- Service ------------------------------------------------------------------

TEST(DecodeServiceRefusals, TheFixtureIsAccepted) {
  const Decoded<Service> decoded = decode_service(web_service());
  ASSERT_TRUE(decoded.value);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(port_names(*decoded.value), (std::vector<std::string>{"http", "https"}));
}

TEST(DecodeServiceRefusals, ServicePortOutOfRangeIsSkippedWithTheFieldNamed) {
  json object = web_service();
  object["spec"]["ports"][1]["port"] = 70000;
  const Decoded<Service> decoded = decode_service(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(port_names(*decoded.value), std::vector<std::string>{"http"});
  ASSERT_EQ(decoded.diagnostics.size(), 1u);
  EXPECT_EQ(decoded.diagnostics[0].to_string(),
            "Service default/web: spec.ports[1].port: 70000 is out of range 1..65535; port skipped");
}

// Service names are DNS-1035 labels: a letter first, no dots, at most 63
// characters (longer names would overflow iptables' 255-character comments).
TEST(DecodeServiceRefusals, ServiceNameThatIsNoDns1035LabelSkipsTheService) {
  for (const char* name : {"1web", "web.frontend"}) {
    json object = web_service();
    object["metadata"]["name"] = name;
    const Decoded<Service> decoded = decode_service(object);
    EXPECT_FALSE(decoded.value) << name;
    EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag(std::string("Service default/") + name, "metadata.name",
                                                      "invalid Service name", "DNS-1035", "service skipped")));
  }
}

TEST(DecodeServiceRefusals, UnnamedPortAmongSeveralIsSkipped) {
  json object = web_service();
  object["spec"]["ports"][1].erase("name");
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(port_names(*decoded.value), std::vector<std::string>{"http"});
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service default/web", "spec.ports[1].name",
                               "a name is required when the Service has more than one port", "port skipped")));
}

TEST(DecodeServiceRefusals, TargetPortOutOfRangeSkipsThePort) {
  json object = web_service();
  object["spec"]["ports"][0]["targetPort"] = 70000;
  object["spec"]["ports"][1]["targetPort"] = -1;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_TRUE(decoded.value->ports.empty());
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service default/web", "spec.ports[0].targetPort", "70000 is out of range 0..65535",
                               "port skipped"),
                          Diag("Service default/web", "spec.ports[1].targetPort", "-1 is out of range")));
}

TEST(DecodeServiceRefusals, TargetPortNameThatIsNoIanaServiceNameSkipsThePort) {
  for (const char* name : {"http_alt", "8080", "a--b", "-http", "http-", "a-very-long-name", "HTTP"}) {
    json object = web_service();
    object["spec"]["ports"][1]["targetPort"] = name;
    const Decoded<Service> decoded = decode_service(object);
    EXPECT_EQ(port_names(*decoded.value), std::vector<std::string>{"http"}) << name;
    EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service default/web", "spec.ports[1].targetPort",
                                                      "invalid target port name", "IANA", "port skipped")))
        << name;
  }
}

TEST(DecodeServiceRefusals, TargetPortOfAnotherTypeSkipsThePort) {
  json object = web_service();
  object["spec"]["ports"][0]["targetPort"] = 80.5;
  object["spec"]["ports"][1]["targetPort"] = true;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_TRUE(decoded.value->ports.empty());
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service default/web", "spec.ports[0].targetPort",
                                                    "expected a port number or name, got 80.5", "port skipped"),
                                               Diag("Service default/web", "spec.ports[1].targetPort", "got true")));
}

// 0 and "" are what the API server defaults to the port.
TEST(DecodeServiceRefusals, TargetPortZeroOrEmptyOrAbsentIsAccepted) {
  json object = web_service();
  object["spec"]["ports"][0]["targetPort"] = 0;
  object["spec"]["ports"][1]["targetPort"] = "";
  EXPECT_THAT(decode_service(object).diagnostics, IsEmpty());
  object["spec"]["ports"][0].erase("targetPort");
  object["spec"]["ports"][1]["targetPort"] = "h2c-tls15chars";
  EXPECT_THAT(decode_service(object).diagnostics, IsEmpty());
}

// kube-proxy would open a nodePort on any Service that carries one; the API
// server refuses it on a ClusterIP Service.
TEST(DecodeServiceRefusals, NodePortOnAClusterIpServiceSkipsThePort) {
  json object = web_service();
  object["spec"]["type"] = "ClusterIP";
  object["spec"]["ports"][1].erase("nodePort");
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(port_names(*decoded.value), std::vector<std::string>{"https"});
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service default/web", "spec.ports[0].nodePort",
                                                    "30080 on a ClusterIP Service", "port skipped")));
}

// The node-port range is a flag of the API server's allocator, not a rule of
// the API: any port number is taken.
TEST(DecodeServiceRefusals, NodePortOutsideTheDefaultRangeIsAccepted) {
  json object = web_service();
  object["spec"]["ports"][0]["nodePort"] = 3001;
  object["spec"]["ports"][1]["nodePort"] = 40000;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(decoded.value->ports[0].node_port, 3001);
  EXPECT_EQ(decoded.value->ports[1].node_port, 40000);
}

TEST(DecodeServiceRefusals, SecondPortWithTheSameProtocolAndPortIsSkipped) {
  json object = web_service();
  object["spec"]["ports"][1]["port"] = 80;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(port_names(*decoded.value), std::vector<std::string>{"http"});
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Service default/web", "spec.ports[1].port",
                                                    "80/TCP is also the port of spec.ports[0]", "port skipped")));
}

TEST(DecodeServiceRefusals, SamePortNumberWithAnotherProtocolIsKept) {
  json object = web_service();
  object["spec"]["ports"][1]["port"] = 80;
  object["spec"]["ports"][1]["nodePort"] = 30080;
  object["spec"]["ports"][1]["protocol"] = "UDP";
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_THAT(decoded.diagnostics, IsEmpty());
  EXPECT_EQ(port_names(*decoded.value), (std::vector<std::string>{"http", "https"}));
}

TEST(DecodeServiceRefusals, SecondPortWithTheSameProtocolAndNodePortIsSkipped) {
  json object = web_service();
  object["spec"]["ports"][1]["nodePort"] = 30080;
  const Decoded<Service> decoded = decode_service(object);
  EXPECT_EQ(port_names(*decoded.value), std::vector<std::string>{"http"});
  EXPECT_THAT(decoded.diagnostics,
              ElementsAre(Diag("Service default/web", "spec.ports[1].nodePort",
                               "30080/TCP is also the nodePort of spec.ports[0]", "port skipped")));
}

// An external IP of 127.0.0.1 would capture the node's own traffic to the
// port.
TEST(DecodeServiceRefusals, ExternalIpsTheApiServerRefusesAreSkippedNamingTheField) {
  for (const char* refused : {"127.0.0.1", "0.0.0.0", "169.254.169.254", "224.0.0.5", "::1", "::", "fe80::1"}) {
    json object = web_service();
    object["spec"]["externalIPs"] = {"192.0.2.50", refused};
    const Decoded<Service> decoded = decode_service(object);
    ASSERT_TRUE(decoded.value) << refused;
    ASSERT_EQ(decoded.value->external_ips.size(), 1u) << refused;
    EXPECT_EQ(decoded.value->external_ips[0].to_string(), "192.0.2.50");
    EXPECT_THAT(decoded.diagnostics,
                ElementsAre(Diag("Service default/web", "spec.externalIPs[1]",
                                 "which the API server refuses for an external IP", "entry skipped")))
        << refused;
  }
}

// ---- EndpointSlice and Endpoints ----------------------------------------------

TEST(DecodeEndpointSliceRefusals, PortNameThatIsNoDnsLabelSkipsThePort) {
  json object = web_slice();
  object["ports"][1]["name"] = "https_alt";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_TRUE(decoded.value);
  ASSERT_EQ(decoded.value->ports.size(), 1u);
  EXPECT_EQ(decoded.value->ports[0].name, "http");
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice default/web-abcde", "ports[1].name",
                                                    "must be a DNS label", "port skipped")));
}

TEST(DecodeEndpointSliceRefusals, RepeatedPortNameSkipsTheLaterPort) {
  json object = web_slice();
  object["ports"][1]["name"] = "http";
  object["ports"][1]["protocol"] = "UDP";
  const Decoded<EndpointSlice> decoded = decode_endpoint_slice(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->ports, (std::vector<EndpointPort>{{"http", Protocol::Tcp, 8080}}));
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("EndpointSlice default/web-abcde", "ports[1].name",
                                                    R"(same name "http" as ports[0])", "port skipped")));
}

TEST(DecodeEndpointsV1Refusals, PortNameThatIsNoDnsLabelSkipsThePort) {
  const json object = json::parse(R"({
    "metadata": {"name": "web", "namespace": "default"},
    "subsets": [{"addresses": [{"ip": "10.1.0.1"}],
                 "ports": [{"name": "http", "port": 8080}, {"name": "Https", "port": 8443}]}]
  })");
  const Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->at(0).ports, (std::vector<EndpointPort>{{"http", Protocol::Tcp, 8080}}));
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Endpoints default/web", "subsets[0].ports[1].name",
                                                    R"(invalid port name "Https")", "port skipped")));
}

// ---- Node -----------------------------------------------------------------------

TEST(DecodeNodeRefusals, SecondPodCidrOfAFamilyIsSkipped) {
  const json object = json::parse(R"({
    "metadata": {"name": "worker-1"},
    "spec": {"podCIDRs": ["10.200.1.0/24", "10.200.2.0/24", "fd00:200:1::/64"]}
  })");
  const Decoded<Node> decoded = decode_node(object);
  ASSERT_TRUE(decoded.value);
  EXPECT_EQ(decoded.value->pod_cidrs,
            (std::vector{Cidr::parse("10.200.1.0/24").value(), Cidr::parse("fd00:200:1::/64").value()}));
  EXPECT_THAT(decoded.diagnostics, ElementsAre(Diag("Node worker-1", "spec.podCIDRs[1]",
                                                    R"(IPv4 CIDR "10.200.2.0/24" after spec.podCIDRs[0])",
                                                    "one per family", "entry skipped")));
}

}  // namespace
}  // namespace kubenat
