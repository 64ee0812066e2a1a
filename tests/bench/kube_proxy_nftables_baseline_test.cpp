// The nftables baseline: the transactions upstream kube-proxy's nftables
// mode (pkg/proxy/nftables/proxier.go with its nftElementStorage, driven
// through knftables) hands to `nft -f -`, for a small cluster. The chain
// names are upstream's own (its proxier_test.go names
// service-ULMVA6XW-ns1/svc1/tcp/p80 and endpoint-5OJB2KTY-...), the layout
// upstream's setupNFTables and syncProxyRules.

#include "bench/kube_proxy_nftables_baseline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/bench_cluster.h"

namespace kubenat::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }

// Service ns<n>/svc<n>: port p80/TCP 80 at 172.30.0.<40+n> (and NodePort
// `node_port` when not 0), endpoints 10.180.0.<e>:80 on another node.
void put_service(ClusterState& state, int n, const std::vector<int>& endpoints, int node_port = 0) {
  const ObjectName id{"ns" + std::to_string(n), "svc" + std::to_string(n)};
  Service service;
  service.id = id;
  service.type = node_port != 0 ? ServiceType::NodePort : ServiceType::ClusterIP;
  service.cluster_ips = {ip("172.30.0." + std::to_string(40 + n))};
  service.ports = {ServicePort{"p80", Protocol::Tcp, 80, node_port}};
  state.services[id] = service;
  EndpointSlice slice;
  slice.id = {id.namespace_, id.name + "-abc"};
  slice.service_name = id.name;
  slice.ports = {EndpointPort{"p80", Protocol::Tcp, 80}};
  for (int e : endpoints) {
    Endpoint endpoint;
    endpoint.address = ip("10.180.0." + std::to_string(e));
    endpoint.node_name = "node-1";
    slice.endpoints.push_back(endpoint);
  }
  state.slices[id].clear();
  state.put_slice(slice);
}

// setupNFTables on the proxier's first sync, with the bench's node
// (cluster CIDR 10.0.0.0/8, NodePorts on every local address), then the
// flushes of the six maps and sets whose elements the proxier tracks.
const std::string kFixedPart =
    "add table ip kube-proxy { comment \"rules for kube-proxy\" ; }\n"
    "add chain ip kube-proxy filter-prerouting\n"
    "delete chain ip kube-proxy filter-prerouting\n"
    "add chain ip kube-proxy filter-input\n"
    "delete chain ip kube-proxy filter-input\n"
    "add chain ip kube-proxy filter-forward\n"
    "delete chain ip kube-proxy filter-forward\n"
    "add chain ip kube-proxy filter-output\n"
    "delete chain ip kube-proxy filter-output\n"
    "add chain ip kube-proxy filter-output-post-dnat\n"
    "delete chain ip kube-proxy filter-output-post-dnat\n"
    "add chain ip kube-proxy nat-prerouting\n"
    "delete chain ip kube-proxy nat-prerouting\n"
    "add chain ip kube-proxy nat-output\n"
    "delete chain ip kube-proxy nat-output\n"
    "add chain ip kube-proxy nat-postrouting\n"
    "delete chain ip kube-proxy nat-postrouting\n"
    "add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority -110 ; }\n"
    "flush chain ip kube-proxy filter-prerouting\n"
    "add chain ip kube-proxy filter-input { type filter hook input priority -110 ; }\n"
    "flush chain ip kube-proxy filter-input\n"
    "add chain ip kube-proxy filter-forward { type filter hook forward priority -110 ; }\n"
    "flush chain ip kube-proxy filter-forward\n"
    "add chain ip kube-proxy filter-output { type filter hook output priority -110 ; }\n"
    "flush chain ip kube-proxy filter-output\n"
    "add chain ip kube-proxy filter-output-post-dnat { type filter hook output priority -90 ; }\n"
    "flush chain ip kube-proxy filter-output-post-dnat\n"
    "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }\n"
    "flush chain ip kube-proxy nat-prerouting\n"
    "add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }\n"
    "flush chain ip kube-proxy nat-output\n"
    "add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }\n"
    "flush chain ip kube-proxy nat-postrouting\n"
    "add chain ip kube-proxy nodeport-endpoints-check\n"
    "flush chain ip kube-proxy nodeport-endpoints-check\n"
    "add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check\n"
    "add chain ip kube-proxy service-endpoints-check\n"
    "flush chain ip kube-proxy service-endpoints-check\n"
    "add rule ip kube-proxy filter-input ct state new jump service-endpoints-check\n"
    "add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check\n"
    "add rule ip kube-proxy filter-output ct state new jump service-endpoints-check\n"
    "add chain ip kube-proxy firewall-check\n"
    "flush chain ip kube-proxy firewall-check\n"
    "add rule ip kube-proxy filter-prerouting ct state new jump firewall-check\n"
    "add rule ip kube-proxy filter-output ct state new jump firewall-check\n"
    "add chain ip kube-proxy services\n"
    "flush chain ip kube-proxy services\n"
    "add rule ip kube-proxy nat-output jump services\n"
    "add rule ip kube-proxy nat-prerouting jump services\n"
    "add chain ip kube-proxy masquerading\n"
    "flush chain ip kube-proxy masquerading\n"
    "add rule ip kube-proxy nat-postrouting jump masquerading\n"
    "add chain ip kube-proxy cluster-ips-check\n"
    "flush chain ip kube-proxy cluster-ips-check\n"
    "add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check\n"
    "add rule ip kube-proxy filter-output-post-dnat ct state new jump cluster-ips-check\n"
    "add chain ip kube-proxy mark-for-masquerade\n"
    "flush chain ip kube-proxy mark-for-masquerade\n"
    "add rule ip kube-proxy mark-for-masquerade mark set mark or 0x004000\n"
    "add rule ip kube-proxy masquerading mark and 0x004000 == 0 return\n"
    "add rule ip kube-proxy masquerading mark set mark xor 0x004000\n"
    "add rule ip kube-proxy masquerading masquerade fully-random\n"
    "add set ip kube-proxy cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }\n"
    "add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment \"Reject traffic to "
    "invalid ports of ClusterIPs\"\n"
    "add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }\n"
    "delete set ip kube-proxy nodeport-ips\n"
    "add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; "
    "comment \"vmap to drop or reject packets to services with no endpoints\" ; }\n"
    "add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "
    "\"vmap to drop or reject packets to service nodeports with no endpoints\" ; }\n"
    "add chain ip kube-proxy reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }\n"
    "flush chain ip kube-proxy reject-chain\n"
    "add rule ip kube-proxy reject-chain reject\n"
    "add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services\n"
    "add rule ip kube-proxy nodeport-endpoints-check ip daddr != 127.0.0.0/8 meta l4proto . th dport "
    "vmap @no-endpoint-nodeports\n"
    "add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "
    "\"destinations that are subject to LoadBalancerSourceRanges\" ; }\n"
    "add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips\n"
    "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "
    "\"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }\n"
    "add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "
    "\"NodePort traffic\" ; }\n"
    "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips\n"
    "add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th "
    "dport vmap @service-nodeports\n"
    "flush set ip kube-proxy cluster-ips\n"
    "flush map ip kube-proxy service-ips\n"
    "flush map ip kube-proxy firewall-ips\n"
    "flush map ip kube-proxy no-endpoint-services\n"
    "flush map ip kube-proxy no-endpoint-nodeports\n"
    "flush map ip kube-proxy service-nodeports\n";

const std::string kSvc1Chains =
    "add chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"
    "flush chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"
    "add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n"
    "flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n";
const std::string kSvc1Elements =
    "add element ip kube-proxy cluster-ips { 172.30.0.41 }\n"
    "add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }\n";
const std::string kSvc1Masquerade =
    "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 tcp dport 80 "
    "ip saddr != 10.0.0.0/8 jump mark-for-masquerade\n";
const std::string kSvc1Endpoint1Rules =
    "add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 ip saddr 10.180.0.1 "
    "jump mark-for-masquerade\n"
    "add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 meta l4proto tcp "
    "dnat to 10.180.0.1:80\n";

TEST(KubeProxyNftablesBaseline, ChainNamesAreUpstreams) {
  EXPECT_EQ(kube_proxy_nft_name_base("ns1/svc1/tcp/p80"), "ULMVA6XW-ns1/svc1/tcp/p80");
  EXPECT_EQ(kube_proxy_nft_name_base("ns1/svc1/tcp/p80__10.180.0.1/80"), "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
  EXPECT_EQ(kube_proxy_nft_name_base("ns2/svc2/tcp/p80"), "42NFTM6N-ns2/svc2/tcp/p80");
}

TEST(KubeProxyNftablesBaseline, OverlongNamesAreCutTo240CharactersEndingInDots) {
  const std::string base = kube_proxy_nft_name_base(std::string(300, 'a'));
  EXPECT_EQ(base.size(), 240u);
  EXPECT_TRUE(base.ends_with("aaa..."));
}

TEST(KubeProxyNftablesBaseline, FullSyncIsTheFixedPartThenEachServicePortsChainsElementsAndRules) {
  ClusterState state;
  put_service(state, 1, {1});
  KubeProxyNftables proxier(bench_proxy_config());
  EXPECT_EQ(proxier.full_sync(state).text(),
            kFixedPart + kSvc1Chains + kSvc1Elements + kSvc1Masquerade +
                "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap "
                "{ 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }\n" +
                kSvc1Endpoint1Rules);
}

TEST(KubeProxyNftablesBaseline, OnlyTheFirstSyncDeletesAndRecreatesTheBaseChains) {
  ClusterState state;
  put_service(state, 1, {1});
  KubeProxyNftables proxier(bench_proxy_config());
  EXPECT_THAT(proxier.full_sync(state).text(), HasSubstr("delete chain ip kube-proxy nat-prerouting\n"));
  EXPECT_THAT(proxier.full_sync(state).text(), Not(HasSubstr("delete chain")));
}

TEST(KubeProxyNftablesBaseline, AnEndpointChangeRewritesThatServicesChainsAndNoElement) {
  ClusterState state;
  put_service(state, 1, {1});
  put_service(state, 2, {2});
  KubeProxyNftables proxier(bench_proxy_config());
  (void)proxier.full_sync(state);
  put_service(state, 1, {1, 3});
  EXPECT_EQ(proxier.partial_sync(state, {{"ns1", "svc1"}}, {}, {}).text(),
            "add chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"
            "flush chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"
            "add chain ip kube-proxy endpoint-WUHIZN2H-ns1/svc1/tcp/p80__10.180.0.3/80\n"
            "flush chain ip kube-proxy endpoint-WUHIZN2H-ns1/svc1/tcp/p80__10.180.0.3/80\n"
            "add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n"
            "flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n" +
                kSvc1Masquerade +
                "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 2 vmap "
                "{ 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 , "
                "1 : goto endpoint-WUHIZN2H-ns1/svc1/tcp/p80__10.180.0.3/80 }\n" +
                kSvc1Endpoint1Rules +
                "add rule ip kube-proxy endpoint-WUHIZN2H-ns1/svc1/tcp/p80__10.180.0.3/80 ip saddr 10.180.0.3 "
                "jump mark-for-masquerade\n"
                "add rule ip kube-proxy endpoint-WUHIZN2H-ns1/svc1/tcp/p80__10.180.0.3/80 meta l4proto tcp "
                "dnat to 10.180.0.3:80\n");
}

TEST(KubeProxyNftablesBaseline, AServiceAddWritesItsChainsAndItsElementsOnly) {
  ClusterState state;
  put_service(state, 2, {2});
  KubeProxyNftables proxier(bench_proxy_config());
  (void)proxier.full_sync(state);
  put_service(state, 1, {1});
  EXPECT_EQ(proxier.partial_sync(state, {{"ns1", "svc1"}}, {}, {}).text(),
            kSvc1Chains + kSvc1Elements + kSvc1Masquerade +
                "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap "
                "{ 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }\n" +
                kSvc1Endpoint1Rules);
}

TEST(KubeProxyNftablesBaseline, ARemovedServicesChainsAreFlushedAndItsElementsDeleted) {
  ClusterState state;
  put_service(state, 1, {1});
  put_service(state, 2, {2});
  KubeProxyNftables proxier(bench_proxy_config());
  (void)proxier.full_sync(state);
  state.services.erase({"ns1", "svc1"});
  state.slices.erase({"ns1", "svc1"});
  const std::vector<std::string> listed = {"services", "service-ULMVA6XW-ns1/svc1/tcp/p80",
                                           "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80",
                                           "service-42NFTM6N-ns2/svc2/tcp/p80"};
  EXPECT_EQ(proxier.partial_sync(state, {{"ns1", "svc1"}}, listed, {}).text(),
            "flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n"
            "flush chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"
            "delete element ip kube-proxy cluster-ips { 172.30.0.41 }\n"
            "delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }\n");
}

TEST(KubeProxyNftablesBaseline, ANodePortGoesThroughTheExternalChain) {
  ClusterState state;
  put_service(state, 2, {2}, 30080);
  KubeProxyNftables proxier(bench_proxy_config());
  const std::string text = proxier.full_sync(state).text();
  EXPECT_THAT(text, HasSubstr("add element ip kube-proxy service-nodeports { tcp . 30080 : goto "
                              "external-42NFTM6N-ns2/svc2/tcp/p80 }\n"));
  EXPECT_THAT(text, HasSubstr("add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 jump mark-for-masquerade\n"
                              "add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 goto "
                              "service-42NFTM6N-ns2/svc2/tcp/p80\n"));
}

TEST(KubeProxyNftablesBaseline, AServiceWithoutEndpointsRejectsThroughTheNoEndpointMap) {
  ClusterState state;
  put_service(state, 1, {});
  KubeProxyNftables proxier(bench_proxy_config());
  const std::string text = proxier.full_sync(state).text();
  EXPECT_THAT(text, HasSubstr("add element ip kube-proxy no-endpoint-services { 172.30.0.41 . tcp . 80 comment "
                              "\"ns1/svc1:p80\" : goto reject-chain }\n"));
  EXPECT_THAT(text, Not(HasSubstr("service-ULMVA6XW")));
}

TEST(KubeProxyNftablesBaseline, ClientIpAffinityRecordsEachClientInAnEndpointSet) {
  ClusterState state;
  put_service(state, 1, {1});
  state.services[{"ns1", "svc1"}].session_affinity = SessionAffinity::ClientIP;
  KubeProxyNftables proxier(bench_proxy_config());
  const std::string text = proxier.full_sync(state).text();
  const std::string set = "affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80";
  EXPECT_THAT(text, HasSubstr("add set ip kube-proxy " + set +
                              " { type ipv4_addr ; flags dynamic,timeout ; "
                              "timeout 10800s ; }\n"));
  EXPECT_THAT(text, HasSubstr("add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip saddr @" + set +
                              " goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"));
  EXPECT_THAT(text, HasSubstr("add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 update @" +
                              set + " { ip saddr }\n"));
}

TEST(KubeProxyNftablesBaseline, ListingsKeepTheNamesOfTheKubeProxyTable) {
  const std::string json = R"({"nftables": [{"metainfo": {"json_schema_version": 1}},)"
                           R"( {"chain": {"family": "ip", "table": "kube-proxy", "name": "services", "handle": 3}},)"
                           R"( {"chain": {"family": "ip", "table": "other", "name": "input", "handle": 4}},)"
                           R"( {"set": {"family": "ip", "table": "kube-proxy", "name": "cluster-ips", "handle": 5}}]})";
  EXPECT_THAT(*parse_nft_list_names(json, "chains"), ElementsAre("services"));
  EXPECT_THAT(*parse_nft_list_names(json, "sets"), ElementsAre("cluster-ips"));
  EXPECT_FALSE(parse_nft_list_names("not json", "chains").has_value());
}

}  // namespace
}  // namespace kubenat::bench
