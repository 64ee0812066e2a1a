#include "rules/iptables/chain_names.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "rules/ip.h"

namespace kubenat {
namespace {

ServicePortName spn(std::string ns, std::string name, std::string port,
                    Protocol protocol = Protocol::Tcp) {
  return ServicePortName{ObjectName{std::move(ns), std::move(name)}, std::move(port), protocol};
}

// Expected hashes were checked with python3 hashlib + base64.b32encode, and
// the ns2..ns5 ones appear in kube-proxy's pkg/proxy/iptables/proxier_test.go.

TEST(ChainHash, IsFirst16CharsOfBase32OfSha256) {
  EXPECT_EQ(chain_hash("ns1/svc1:p80tcp"), "XPGD46QRK7WJZT7O");
}

TEST(ChainHash, UsesOnlyTheUpperCaseRfc4648Alphabet) {
  const std::string hash = chain_hash("anything at all");
  ASSERT_EQ(hash.size(), 16u);
  for (const char c : hash) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')) << c;
  }
}

TEST(ServicePortHash, HashesNameAndLowerCaseProtocolWithoutSeparator) {
  EXPECT_EQ(service_port_hash(spn("ns1", "svc1", "p80")), chain_hash("ns1/svc1:p80tcp"));
}

TEST(ServicePortHash, OmitsThePortSeparatorForAnUnnamedPort) {
  EXPECT_EQ(service_port_hash(spn("ns1", "svc1", "")), "AQI2S6QIMU7PVVRP");
}

TEST(ServicePortHash, DependsOnTheProtocol) {
  EXPECT_EQ(service_port_hash(spn("ns1", "svc1", "p53", Protocol::Udp)), "HONPU4UVRFI3M2SF");
  EXPECT_EQ(service_port_hash(spn("ns1", "svc1", "p80", Protocol::Sctp)), "GFCIFIA5VTFSTMSM");
}

TEST(SvcChain, MatchesKubeProxyForUpstreamTestServices) {
  EXPECT_EQ(svc_chain(spn("ns1", "svc1", "p80")), "KUBE-SVC-XPGD46QRK7WJZT7O");
  EXPECT_EQ(svc_chain(spn("ns2", "svc2", "p80")), "KUBE-SVC-GNZBNJ2PO5MGZ6GT");
  EXPECT_EQ(svc_chain(spn("ns3", "svc3", "p80")), "KUBE-SVC-X27LE4BHSL4DOUIK");
  EXPECT_EQ(svc_chain(spn("ns4", "svc4", "p80")), "KUBE-SVC-4SW47YFZTEDKD3PK");
  EXPECT_EQ(svc_chain(spn("ns5", "svc5", "p80")), "KUBE-SVC-NUKIZ6OKUXPJNT4C");
}

TEST(ServiceChains, ShareOneHashAndDifferOnlyInPrefix) {
  const ServicePortName name = spn("ns2", "svc2", "p80");
  EXPECT_EQ(svl_chain(name), "KUBE-SVL-GNZBNJ2PO5MGZ6GT");
  EXPECT_EQ(ext_chain(name), "KUBE-EXT-GNZBNJ2PO5MGZ6GT");
  EXPECT_EQ(fw_chain(name), "KUBE-FW-GNZBNJ2PO5MGZ6GT");
}

TEST(SepChain, HashesNameProtocolAndEndpoint) {
  EXPECT_EQ(sep_chain(spn("ns1", "svc1", "p80"), "10.180.0.1:80"), "KUBE-SEP-SXIVWICOYRO3J4NJ");
}

TEST(SepChain, MatchesKubeProxyForUpstreamTestEndpoints) {
  EXPECT_EQ(sep_chain(spn("ns2", "svc2", "p80"), "10.180.0.2:80"), "KUBE-SEP-RS4RBKLTHTF2IUXJ");
  EXPECT_EQ(sep_chain(spn("ns3", "svc3", "p80"), "10.180.0.3:80"), "KUBE-SEP-OYPFS5VJICHGATKP");
  EXPECT_EQ(sep_chain(spn("ns4", "svc4", "p80"), "10.180.0.4:80"), "KUBE-SEP-UKSFD7AGPMPPLUHC");
  EXPECT_EQ(sep_chain(spn("ns4", "svc4", "p80"), "10.180.0.5:80"), "KUBE-SEP-C6EBXVWJJZMIWKLZ");
  EXPECT_EQ(sep_chain(spn("ns5", "svc5", "p80"), "10.180.0.3:80"), "KUBE-SEP-I77PXRDZVX7PMWMN");
}

TEST(SepChain, TakesTheEndpointAsJoinHostPortWritesIt) {
  const auto sloppy = IpAddress::parse_sloppy("10.180.00.001");
  ASSERT_TRUE(sloppy);
  EXPECT_EQ(sep_chain(spn("ns1", "svc1", "p80"), join_host_port(*sloppy, 80)),
            "KUBE-SEP-SXIVWICOYRO3J4NJ");
}

TEST(SepChain, HashesBracketedIpv6Endpoints) {
  const auto address = IpAddress::parse("fd00:10:180::1");
  ASSERT_TRUE(address);
  EXPECT_EQ(sep_chain(spn("ns1", "svc1", "p80"), join_host_port(*address, 80)),
            "KUBE-SEP-OGYCNMB4EMRUSJ6N");
}

}  // namespace
}  // namespace kubenat
