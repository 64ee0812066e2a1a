// Reading kube-proxy's KubeProxyConfiguration file into a RunConfig.

#include "engine/daemon/kube_proxy_configuration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using namespace std::chrono_literals;

constexpr std::string_view kHeader =
    "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
    "kind: KubeProxyConfiguration\n";

// What `kubeadm init` writes into the kube-proxy ConfigMap: every field,
// mostly at its zero value.
constexpr std::string_view kKubeadmConfig = R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ""
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForProbes: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
)";

KubeProxyConfigurationLoad parsed(std::string_view body, RunConfig base = {}) {
  auto load = parse_kube_proxy_configuration(std::string(kHeader) + std::string(body), std::move(base));
  EXPECT_TRUE(load.has_value()) << load.error();
  return load.value_or(KubeProxyConfigurationLoad{});
}

std::string parse_error(std::string_view text) {
  auto load = parse_kube_proxy_configuration(text, RunConfig{});
  EXPECT_FALSE(load.has_value());
  return load ? std::string() : load.error();
}

TEST(KubeProxyConfiguration, ReadsKubeadmsConfigWithoutWarnings) {
  auto load = parse_kube_proxy_configuration(kKubeadmConfig, RunConfig{});
  ASSERT_TRUE(load.has_value()) << load.error();
  EXPECT_THAT(load->warnings, IsEmpty());
  EXPECT_EQ(load->config.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_THAT(load->config.cluster_cidrs, ElementsAre("10.244.0.0/16"));
}

TEST(KubeProxyConfiguration, KeepsKubeProxysDefaultsForZeroValues) {
  auto load = parse_kube_proxy_configuration(kKubeadmConfig, RunConfig{});
  ASSERT_TRUE(load.has_value()) << load.error();
  const RunConfig defaults;
  EXPECT_EQ(load->config.sync_period, defaults.sync_period);
  EXPECT_EQ(load->config.min_sync_period, defaults.min_sync_period);
  EXPECT_EQ(load->config.masquerade_bit, 14);
  EXPECT_TRUE(load->config.localhost_nodeports);
  EXPECT_EQ(load->config.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(load->config.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(load->config.proxy_mode, "iptables");
  EXPECT_THAT(load->config.node_ips, IsEmpty());
}

TEST(KubeProxyConfiguration, ReadsTheFieldsKubenatUses) {
  const RunConfig config = parsed(R"(
clientConnection:
  kubeconfig: /etc/kubeconfig
hostnameOverride: worker-1
clusterCIDR: 10.244.0.0/16
mode: iptables
iptables:
  masqueradeAll: true
  masqueradeBit: 15
  syncPeriod: 1m0s
  minSyncPeriod: 500ms
  localhostNodePorts: false
nodePortAddresses: [10.0.0.0/8, primary]
healthzBindAddress: 127.0.0.1:20256
metricsBindAddress: "[::]:20249"
logging:
  verbosity: 4
)").config;
  EXPECT_EQ(config.kubeconfig, "/etc/kubeconfig");
  EXPECT_EQ(config.hostname_override, "worker-1");
  EXPECT_THAT(config.cluster_cidrs, ElementsAre("10.244.0.0/16"));
  EXPECT_EQ(config.proxy_mode, "iptables");
  EXPECT_TRUE(config.masquerade_all);
  EXPECT_EQ(config.masquerade_bit, 15);
  EXPECT_EQ(config.sync_period, 60s);
  EXPECT_EQ(config.min_sync_period, 500ms);
  EXPECT_FALSE(config.localhost_nodeports);
  EXPECT_THAT(config.nodeport_addresses, ElementsAre("10.0.0.0/8", "primary"));
  EXPECT_EQ(config.healthz_bind_address, "127.0.0.1:20256");
  EXPECT_EQ(config.metrics_bind_address, "[::]:20249");
  EXPECT_EQ(config.verbosity, 4);
}

TEST(KubeProxyConfiguration, SplitsADualStackClusterCidrOnCommas) {
  EXPECT_THAT(parsed("clusterCIDR: 10.244.0.0/16, fd00:10:244::/56\n").config.cluster_cidrs,
              ElementsAre("10.244.0.0/16", "fd00:10:244::/56"));
}

TEST(KubeProxyConfiguration, GivesABareBindIpKubeProxysPort) {
  const RunConfig config = parsed("healthzBindAddress: 0.0.0.0\nmetricsBindAddress: \"::\"\n").config;
  EXPECT_EQ(config.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(config.metrics_bind_address, "[::]:10249");
}

TEST(KubeProxyConfiguration, TakesASpecificBindAddressAsTheNodeIp) {
  EXPECT_THAT(parsed("bindAddress: 192.168.0.7\n").config.node_ips, ElementsAre("192.168.0.7"));
}

TEST(KubeProxyConfiguration, KeepsNodeIpsTheBaseAlreadyHas) {
  RunConfig base;
  base.node_ips = {"10.0.0.1"};
  EXPECT_THAT(parsed("bindAddress: 192.168.0.7\n", base).config.node_ips, ElementsAre("10.0.0.1"));
}

TEST(KubeProxyConfiguration, LeavesAbsentFieldsAsTheBaseHasThem) {
  RunConfig base;
  base.hostname_override = "from-base";
  base.masquerade_bit = 3;
  const RunConfig config = parsed("clusterCIDR: 10.0.0.0/8\n", base).config;
  EXPECT_EQ(config.hostname_override, "from-base");
  EXPECT_EQ(config.masquerade_bit, 3);
}

TEST(KubeProxyConfiguration, AcceptsJson) {
  auto load = parse_kube_proxy_configuration(
      R"({"apiVersion":"kubeproxy.config.k8s.io/v1alpha1","kind":"KubeProxyConfiguration","hostnameOverride":"n1"})",
      RunConfig{});
  ASSERT_TRUE(load.has_value()) << load.error();
  EXPECT_EQ(load->config.hostname_override, "n1");
}

TEST(KubeProxyConfiguration, WarnsAboutUnknownFields) {
  EXPECT_THAT(parsed("frobnicate: 3\niptables:\n  turbo: true\n").warnings,
              ElementsAre("unknown field \"frobnicate\", ignored", "unknown field \"iptables.turbo\", ignored"));
}

TEST(KubeProxyConfiguration, WarnsAboutEachSetIpvsField) {
  EXPECT_THAT(parsed("ipvs:\n  scheduler: rr\n  strictARP: true\n  tcpTimeout: 0s\n").warnings,
              ElementsAre("ipvs.scheduler: not supported by kubenat, ignored",
                          "ipvs.strictARP: not supported by kubenat, ignored"));
}

TEST(KubeProxyConfiguration, ReadsTheConntrackSection) {
  const auto load = parsed(R"(
conntrack:
  maxPerCore: 65536
  min: 262144
  tcpEstablishedTimeout: 2h
  tcpCloseWaitTimeout: 30m
  tcpBeLiberal: true
  udpTimeout: 45s
  udpStreamTimeout: 2m30s
)");
  EXPECT_THAT(load.warnings, IsEmpty());
  const ConntrackSettings& conntrack = load.config.conntrack;
  EXPECT_EQ(conntrack.max_per_core, 65536);
  EXPECT_EQ(conntrack.min, 262144);
  EXPECT_EQ(conntrack.tcp_established_timeout, 2h);
  EXPECT_EQ(conntrack.tcp_close_wait_timeout, 30min);
  EXPECT_TRUE(conntrack.tcp_be_liberal);
  EXPECT_EQ(conntrack.udp_timeout, 45s);
  EXPECT_EQ(conntrack.udp_stream_timeout, 150s);
}

TEST(KubeProxyConfiguration, KeepsKubeProxysConntrackDefaultsForNulls) {
  auto load = parse_kube_proxy_configuration(kKubeadmConfig, RunConfig{});
  ASSERT_TRUE(load.has_value()) << load.error();
  EXPECT_EQ(load->config.conntrack, ConntrackSettings{});
  EXPECT_EQ(load->config.conntrack.max_per_core, 32768);
  EXPECT_EQ(load->config.conntrack.tcp_established_timeout, 24h);
}

TEST(KubeProxyConfiguration, KeepsAnExplicitConntrackZeroAsLeaveTheKernelAlone) {
  const ConntrackSettings conntrack =
      parsed("conntrack:\n  maxPerCore: 0\n  tcpEstablishedTimeout: 0s\n  tcpCloseWaitTimeout: 0s\n").config.conntrack;
  EXPECT_EQ(conntrack.max_per_core, 0);
  EXPECT_EQ(conntrack.tcp_established_timeout, 0s);
  EXPECT_EQ(conntrack.tcp_close_wait_timeout, 0s);
}

TEST(KubeProxyConfiguration, RejectsANegativeConntrackValueNamingTheField) {
  EXPECT_THAT(parse_error(std::string(kHeader) + "conntrack:\n  min: -1\n"), HasSubstr("conntrack.min"));
  EXPECT_THAT(parse_error(std::string(kHeader) + "conntrack:\n  udpTimeout: -5s\n"), HasSubstr("conntrack.udpTimeout"));
}

TEST(KubeProxyConfiguration, WarnsAboutDetectLocalModesOtherThanClusterCidr) {
  EXPECT_THAT(parsed("detectLocalMode: ClusterCIDR\n").warnings, IsEmpty());
  EXPECT_THAT(parsed("detectLocalMode: NodeCIDR\n").warnings,
              ElementsAre(StartsWith("detectLocalMode: \"NodeCIDR\" is not supported")));
}

TEST(KubeProxyConfiguration, BoundsTheWalkThroughAliasedUnsupportedFields) {
  // Each level doubles the tree; unbounded, this would be 2^30 leaves.
  std::string body = "x0: &a0 {k: 1, l: 1}\n";
  for (int i = 1; i <= 30; ++i) {
    body += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " {k: *a" + std::to_string(i - 1) + ", l: *a" +
            std::to_string(i - 1) + "}\n";
  }
  body += "featureGates: *a30\n";
  // Only featureGates is walked; the x* fields are merely unknown.
  EXPECT_LE(parsed(body).warnings.size(), 31u + 32u);
}

TEST(KubeProxyConfiguration, RejectsAnotherApiVersion) {
  EXPECT_EQ(parse_error("apiVersion: kubeproxy.config.k8s.io/v1beta9\nkind: KubeProxyConfiguration\n"),
            "apiVersion: expects kubeproxy.config.k8s.io/v1alpha1, got \"kubeproxy.config.k8s.io/v1beta9\"");
}

TEST(KubeProxyConfiguration, RejectsAnotherKind) {
  EXPECT_EQ(parse_error("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n"),
            "kind: expects KubeProxyConfiguration, got \"KubeletConfiguration\"");
}

TEST(KubeProxyConfiguration, LeavesTheModeForTheCallerToValidate) {
  EXPECT_EQ(parsed("mode: ipvs\n").config.proxy_mode, "ipvs");
}

TEST(KubeProxyConfiguration, RejectsABadDurationNamingTheField) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "iptables:\n  syncPeriod: 30\n"),
            "iptables.syncPeriod: missing unit in duration \"30\"");
}

TEST(KubeProxyConfiguration, RejectsAWrongTypeNamingTheField) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "iptables:\n  masqueradeBit: high\n"),
            "iptables.masqueradeBit: expects an integer");
  EXPECT_EQ(parse_error(std::string(kHeader) + "iptables:\n  masqueradeAll: maybe\n"),
            "iptables.masqueradeAll: expects true or false");
  EXPECT_EQ(parse_error(std::string(kHeader) + "nodePortAddresses: 10.0.0.0/8\n"),
            "nodePortAddresses: expects a list of strings");
  EXPECT_EQ(parse_error(std::string(kHeader) + "clientConnection: []\n"), "clientConnection: expects an object");
}

TEST(KubeProxyConfiguration, RejectsTextThatIsNotYaml) {
  EXPECT_THAT(parse_error("a: [unclosed\n"), StartsWith("not YAML or JSON: "));
}

TEST(KubeProxyConfiguration, RejectsADocumentThatIsNotAnObject) {
  EXPECT_EQ(parse_error("- a\n- b\n"), "expects a KubeProxyConfiguration object");
}

TEST(LoadKubeProxyConfiguration, NamesThePathWhenTheFileIsMissing) {
  auto load = load_kube_proxy_configuration("/nonexistent/kube-proxy.yaml", RunConfig{});
  ASSERT_FALSE(load.has_value());
  EXPECT_EQ(load.error(), "/nonexistent/kube-proxy.yaml: No such file or directory");
}

TEST(LoadKubeProxyConfiguration, ReadsTheFileAndRecordsItsPath) {
  const std::string path = ::testing::TempDir() + "/kube_proxy_configuration_test.yaml";
  std::ofstream(path) << kHeader << "hostnameOverride: from-file\n";
  auto load = load_kube_proxy_configuration(path, RunConfig{});
  ASSERT_TRUE(load.has_value()) << load.error();
  EXPECT_EQ(load->config.hostname_override, "from-file");
  EXPECT_EQ(load->config.config_file, path);
}

TEST(LoadKubeProxyConfiguration, PrefixesParseErrorsWithThePath) {
  const std::string path = ::testing::TempDir() + "/kube_proxy_configuration_bad.yaml";
  std::ofstream(path) << kHeader << "iptables:\n  syncPeriod: soon\n";
  auto load = load_kube_proxy_configuration(path, RunConfig{});
  ASSERT_FALSE(load.has_value());
  EXPECT_THAT(load.error(), StartsWith(path + ": iptables.syncPeriod: "));
}

TEST(AppendPortIfNeeded, AddsThePortToABareIpOnly) {
  EXPECT_EQ(append_port_if_needed("10.0.0.1", 10256), "10.0.0.1:10256");
  EXPECT_EQ(append_port_if_needed("fd00::1", 10256), "[fd00::1]:10256");
  EXPECT_EQ(append_port_if_needed("10.0.0.1:8080", 10256), "10.0.0.1:8080");
  EXPECT_EQ(append_port_if_needed("[::]:8080", 10256), "[::]:8080");
}

}  // namespace
}  // namespace kubenat

namespace kubenat {
namespace {

RunConfig a_run_config() {
  RunConfig config;
  config.kubeconfig = "/var/lib/kube-proxy/kubeconfig.conf";
  config.hostname_override = "worker-1";
  config.proxy_mode = "nftables";
  config.cluster_cidrs = {"10.244.0.0/16", "fd00:244::/56"};
  config.masquerade_all = true;
  config.masquerade_bit = 15;
  config.localhost_nodeports = false;
  config.nodeport_addresses = {"10.240.0.0/24"};
  config.sync_period = std::chrono::seconds(45);
  config.min_sync_period = std::chrono::milliseconds(250);
  config.healthz_bind_address = "0.0.0.0:10256";
  config.metrics_bind_address = "127.0.0.1:10249";
  config.verbosity = 2;
  config.node_ips = {"10.240.0.11"};
  config.routes = true;
  config.conntrack.max_per_core = 0;
  config.conntrack.tcp_established_timeout = std::chrono::hours(2);
  config.conntrack.tcp_be_liberal = true;
  config.conntrack.udp_stream_timeout = std::chrono::seconds(150);
  return config;
}

TEST(Configz, NamesKubeProxysGroupAndItsFieldsAsTheFileSpellsThem) {
  const nlohmann::json served = nlohmann::json::parse(configz(a_run_config()));
  const nlohmann::json& kube_proxy = served.at("kubeproxy.config.k8s.io");
  EXPECT_EQ(kube_proxy.at("mode"), "nftables");
  EXPECT_EQ(kube_proxy.at("clusterCIDR"), "10.244.0.0/16,fd00:244::/56");
  EXPECT_EQ(kube_proxy.at("iptables").at("syncPeriod"), "45s");
  EXPECT_EQ(kube_proxy.at("iptables").at("minSyncPeriod"), "250ms");
  EXPECT_EQ(kube_proxy.at("iptables").at("masqueradeBit"), 15);
  EXPECT_EQ(served.at("kubenat").at("nodeIPs"), nlohmann::json::array({"10.240.0.11"}));
  EXPECT_EQ(served.at("kubenat").at("routes"), true);
}

TEST(Configz, ReadsBackAsTheSameConfiguration) {
  const RunConfig config = a_run_config();
  auto read = parse_kube_proxy_configuration(nlohmann::json::parse(configz(config)).at("kubeproxy.config.k8s.io").dump(),
                                             RunConfig{});
  ASSERT_TRUE(read) << read.error();
  EXPECT_THAT(read->warnings, IsEmpty());
  EXPECT_EQ(read->config.kubeconfig, config.kubeconfig);
  EXPECT_EQ(read->config.hostname_override, config.hostname_override);
  EXPECT_EQ(read->config.proxy_mode, config.proxy_mode);
  EXPECT_EQ(read->config.cluster_cidrs, config.cluster_cidrs);
  EXPECT_EQ(read->config.masquerade_all, config.masquerade_all);
  EXPECT_EQ(read->config.masquerade_bit, config.masquerade_bit);
  EXPECT_EQ(read->config.localhost_nodeports, config.localhost_nodeports);
  EXPECT_EQ(read->config.nodeport_addresses, config.nodeport_addresses);
  EXPECT_EQ(read->config.sync_period, config.sync_period);
  EXPECT_EQ(read->config.min_sync_period, config.min_sync_period);
  EXPECT_EQ(read->config.healthz_bind_address, config.healthz_bind_address);
  EXPECT_EQ(read->config.metrics_bind_address, config.metrics_bind_address);
  EXPECT_EQ(read->config.verbosity, config.verbosity);
  EXPECT_EQ(read->config.conntrack, config.conntrack);
}

}  // namespace
}  // namespace kubenat
