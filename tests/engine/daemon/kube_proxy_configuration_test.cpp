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
showHiddenMetricsForVersion: ""
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
  base.iptables_section.masquerade_bit = 3;
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

TEST(KubeProxyConfiguration, RejectsAnUnknownFieldNamingIt) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "frobnicate: 3\n"), "unknown field \"frobnicate\"");
}

TEST(KubeProxyConfiguration, RejectsAnUnknownNestedFieldNamingItsPath) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "iptables:\n  turbo: true\n"), "unknown field \"iptables.turbo\"");
  EXPECT_EQ(parse_error(std::string(kHeader) + "ipvs:\n  turbo: true\n"), "unknown field \"ipvs.turbo\"");
  EXPECT_EQ(parse_error(std::string(kHeader) + "logging:\n  options:\n    json:\n      turbo: 1\n"),
            "unknown field \"logging.options.json.turbo\"");
}

TEST(KubeProxyConfiguration, SaysToDeleteAFieldKubeProxyDropped) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "udpIdleTimeout: 250ms\n"),
            "unknown field \"udpIdleTimeout\" (kube-proxy no longer has it; delete it)");
}

TEST(KubeProxyConfiguration, RejectsAFieldGivenTwice) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "iptables:\n  syncPeriod: 1s\n  syncPeriod: 2s\n"),
            "duplicate field \"iptables.syncPeriod\"");
}

TEST(KubeProxyConfiguration, AcceptsTheIpvsSectionWithoutEffect) {
  const auto load =
      parsed("ipvs:\n  scheduler: rr\n  strictARP: true\n  syncPeriod: 5s\n  excludeCIDRs: [10.0.0.0/8]\n");
  EXPECT_THAT(load.warnings, IsEmpty());
  EXPECT_EQ(load.config.sync_period, RunConfig{}.sync_period);
}

TEST(KubeProxyConfiguration, ChecksTheTypesOfFieldsWithoutEffect) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "ipvs:\n  strictARP: maybe\n"), "ipvs.strictARP: expects true or false");
  EXPECT_EQ(parse_error(std::string(kHeader) + "clientConnection:\n  qps: fast\n"),
            "clientConnection.qps: expects a number");
  EXPECT_EQ(parse_error(std::string(kHeader) + "winkernel:\n  enableDSR: 2\n"),
            "winkernel.enableDSR: expects true or false");
}

TEST(KubeProxyConfiguration, AcceptsClientTuningLoggingAndWindowsFieldsWithoutEffect) {
  const auto load = parsed(R"(
clientConnection:
  qps: 7.5
  burst: 20
  contentType: application/vnd.kubernetes.protobuf
  acceptContentTypes: application/json
logging:
  format: json
  flushFrequency: 5s
  vmodule:
  - filePattern: proxier*
    verbosity: 4
  options:
    text:
      splitStream: true
      infoBufferSize: 64Ki
configSyncPeriod: 15m
showHiddenMetricsForVersion: "1.30"
bindAddressHardFail: true
windowsRunAsService: true
winkernel:
  networkName: l2bridge
  enableDSR: true
)");
  EXPECT_THAT(load.warnings, IsEmpty());
  EXPECT_EQ(load.config.verbosity, 0);
}

TEST(KubeProxyConfiguration, RejectsSettingsKubenatCannotHonour) {
  EXPECT_THAT(parse_error(std::string(kHeader) + "enableProfiling: true\n"), StartsWith("enableProfiling: "));
  EXPECT_THAT(parse_error(std::string(kHeader) + "portRange: 30000-32767\n"), StartsWith("portRange: "));
  EXPECT_THAT(parse_error(std::string(kHeader) + "iptables:\n  snatNodeInternalIP: true\n"),
              StartsWith("iptables.snatNodeInternalIP: "));
  EXPECT_THAT(parse_error(std::string(kHeader) + "clientConnection:\n  burst: -1\n"),
              StartsWith("clientConnection.burst: "));
  EXPECT_THAT(parse_error(std::string(kHeader) + "configSyncPeriod: -1s\n"), StartsWith("configSyncPeriod: "));
  EXPECT_THAT(parse_error(std::string(kHeader) + "logging:\n  format: xml\n"), StartsWith("logging.format: "));
}

TEST(KubeProxyConfiguration, AcceptsTheZeroValuesOfSettingsKubenatCannotHonour) {
  EXPECT_THAT(parsed("enableProfiling: false\nportRange: \"\"\niptables:\n  snatNodeInternalIP: false\n").warnings,
              IsEmpty());
}

TEST(KubeProxyConfiguration, AcceptsFeatureGatesThatAskForWhatKubenatDoes) {
  const auto load =
      parsed("featureGates:\n  TopologyAwareHints: true\n  AllAlpha: false\n  ContextualLogging: false\n");
  EXPECT_THAT(load.warnings, IsEmpty());
}

TEST(KubeProxyConfiguration, RejectsAFeatureGateSetAgainstKubenatsBehaviour) {
  EXPECT_THAT(parse_error(std::string(kHeader) + "featureGates:\n  TopologyAwareHints: false\n"),
              StartsWith("featureGates.TopologyAwareHints: kubenat cannot turn it off"));
  EXPECT_THAT(parse_error(std::string(kHeader) + "featureGates:\n  AllAlpha: true\n"),
              StartsWith("featureGates.AllAlpha: kubenat cannot turn it on"));
}

TEST(KubeProxyConfiguration, RejectsAFeatureGateKubenatDoesNotKnow) {
  EXPECT_THAT(parse_error(std::string(kHeader) + "featureGates:\n  SomethingNew: true\n"),
              StartsWith("featureGates.SomethingNew: not a feature gate kubenat knows"));
  EXPECT_EQ(parse_error(std::string(kHeader) + "featureGates:\n  TopologyAwareHints: yes please\n"),
            "featureGates.TopologyAwareHints: expects true or false");
}

TEST(KubeProxyConfiguration, ReadsTheNftablesSectionIntoItsOwnSettings) {
  const RunConfig config = parsed(R"(
nftables:
  masqueradeAll: true
  masqueradeBit: 9
  syncPeriod: 45s
  minSyncPeriod: 2s
)").config;
  EXPECT_EQ(config.nftables_section, (ProxyModeSection{true, 9, 45s, 2s}));
  EXPECT_EQ(config.iptables_section, ProxyModeSection{});
}

TEST(KubeProxyConfiguration, AppliesTheNftablesSectionInNftablesMode) {
  const RunConfig config = parsed("mode: nftables\nnftables:\n  masqueradeAll: true\n  masqueradeBit: 9\n"
                                  "  syncPeriod: 45s\n  minSyncPeriod: 2s\n")
                               .config;
  EXPECT_TRUE(config.masquerade_all);
  EXPECT_EQ(config.masquerade_bit, 9);
  EXPECT_EQ(config.sync_period, 45s);
  EXPECT_EQ(config.min_sync_period, 2s);
}

TEST(KubeProxyConfiguration, TheIptablesSectionDoesNotApplyInNftablesMode) {
  const auto load = parsed("mode: nftables\niptables:\n  syncPeriod: 10s\n");
  EXPECT_EQ(load.config.sync_period, 30s);
  EXPECT_THAT(load.warnings,
              ElementsAre("iptables.syncPeriod (10s) is not used in nftables mode; nftables.syncPeriod (30s) is"));
}

TEST(KubeProxyConfiguration, TheNftablesSectionDoesNotApplyInIptablesMode) {
  const auto load = parsed("nftables:\n  masqueradeBit: 9\n");
  EXPECT_EQ(load.config.masquerade_bit, 14);
  EXPECT_THAT(load.warnings, ElementsAre(StartsWith("nftables.masqueradeBit (9) is not used in iptables mode")));
}

TEST(KubeProxyConfiguration, RejectsAMasqueradeBitOutOfRangeInEitherSection) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "iptables:\n  masqueradeBit: 32\n"),
            "iptables.masqueradeBit: must be within 0..31, got 32");
  EXPECT_EQ(parse_error(std::string(kHeader) + "nftables:\n  masqueradeBit: -1\n"),
            "nftables.masqueradeBit: must be within 0..31, got -1");
}

TEST(KubeProxyConfiguration, ReadsTheDetectLocalSettings) {
  const RunConfig config = parsed(R"(
detectLocalMode: BridgeInterface
detectLocal:
  bridgeInterface: cbr0
  interfaceNamePrefix: veth
)").config;
  EXPECT_EQ(config.detect_local_mode, "BridgeInterface");
  EXPECT_EQ(config.pod_bridge_interface, "cbr0");
  EXPECT_EQ(config.pod_interface_name_prefix, "veth");
}

TEST(KubeProxyConfiguration, AnEmptyDetectLocalModeKeepsTheDefault) {
  EXPECT_EQ(parsed("detectLocalMode: \"\"\n").config.detect_local_mode, RunConfig{}.detect_local_mode);
}

TEST(KubeProxyConfiguration, RejectsAnUnknownDetectLocalMode) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "detectLocalMode: PodCIDR\n"),
            "detectLocalMode: expects ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix, got \"PodCIDR\"");
}

TEST(KubeProxyConfiguration, ReadsTheServiceProxyName) {
  EXPECT_EQ(parsed("serviceProxyName: kubenat\n").config.service_proxy_name, "kubenat");
}

TEST(KubeProxyConfiguration, RejectsAServiceProxyNameThatIsNotALabelValue) {
  EXPECT_THAT(parse_error(std::string(kHeader) + "serviceProxyName: kube/nat\n"),
              StartsWith("serviceProxyName: \"kube/nat\" is not a label value"));
}

TEST(KubeProxyConfiguration, ReadsTheOomScoreAdjustment) {
  EXPECT_EQ(parsed("oomScoreAdj: -999\n").config.oom_score_adj, -999);
  EXPECT_EQ(parsed("oomScoreAdj: null\n").config.oom_score_adj, std::nullopt);
}

TEST(KubeProxyConfiguration, RejectsAnOomScoreAdjustmentOutOfRange) {
  EXPECT_EQ(parse_error(std::string(kHeader) + "oomScoreAdj: 1001\n"),
            "oomScoreAdj: must be within -1000..1000, got 1001");
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

TEST(KubeProxyConfiguration, RejectsAnAliasBombPromptly) {
  // Each level doubles the tree; walked naively, this would be 2^30 leaves.
  std::string body = "featureGates:\n  x0: &a0 {k: 1, l: 1}\n";
  for (int i = 1; i <= 30; ++i) {
    body += "  x" + std::to_string(i) + ": &a" + std::to_string(i) + " {k: *a" + std::to_string(i - 1) + ", l: *a" +
            std::to_string(i - 1) + "}\n";
  }
  EXPECT_EQ(parse_error(std::string(kHeader) + body), "featureGates.x0: expects true or false");
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
  config.iptables_section = {false, 12, std::chrono::seconds(20), std::chrono::seconds(2)};
  config.nftables_section = {true, 15, std::chrono::seconds(45), std::chrono::milliseconds(250)};
  (void)select_proxy_mode_section(config);
  config.localhost_nodeports = false;
  config.nodeport_addresses = {"10.240.0.0/24"};
  config.detect_local_mode = "InterfaceNamePrefix";
  config.pod_bridge_interface = "cbr0";
  config.pod_interface_name_prefix = "veth";
  config.service_proxy_name = "kubenat";
  config.oom_score_adj = -999;
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

TEST(SelectProxyModeSection, TakesTheNftablesSectionInNftablesMode) {
  RunConfig config;
  config.proxy_mode = "nftables";
  config.nftables_section = {true, 9, 45s, 2s};
  EXPECT_THAT(select_proxy_mode_section(config), ElementsAre(StartsWith("iptables.masqueradeAll (false)"),
                                                             StartsWith("iptables.masqueradeBit or "
                                                                        "--iptables-masquerade-bit (14)"),
                                                             StartsWith("iptables.syncPeriod (30s)"),
                                                             StartsWith("iptables.minSyncPeriod (unset)")));
  EXPECT_TRUE(config.masquerade_all);
  EXPECT_EQ(config.masquerade_bit, 9);
  EXPECT_EQ(config.sync_period, 45s);
  EXPECT_EQ(config.min_sync_period, 2s);
}

TEST(SelectProxyModeSection, TakesTheIptablesSectionInIptablesMode) {
  RunConfig config;
  config.iptables_section = {true, 9, 45s, 2s};
  EXPECT_THAT(select_proxy_mode_section(config),
              ElementsAre("nftables.masqueradeAll (false) is not used in iptables mode; "
                          "iptables.masqueradeAll (true) is",
                          StartsWith("nftables.masqueradeBit (14)"), StartsWith("nftables.syncPeriod (30s)"),
                          StartsWith("nftables.minSyncPeriod (unset)")));
  EXPECT_EQ(config.sync_period, 45s);
  EXPECT_EQ(config.masquerade_bit, 9);
}

TEST(SelectProxyModeSection, SaysNothingWhenTheSectionsAgree) {
  RunConfig config;
  config.proxy_mode = "nftables";
  EXPECT_THAT(select_proxy_mode_section(config), IsEmpty());
}

TEST(SelectProxyModeSection, SaysNothingInRoutesOnlyMode) {
  RunConfig config;
  config.proxy_mode = "none";
  config.nftables_section.sync_period = 1min;
  EXPECT_THAT(select_proxy_mode_section(config), IsEmpty());
}

TEST(Configz, NamesKubeProxysGroupAndItsFieldsAsTheFileSpellsThem) {
  const nlohmann::json served = nlohmann::json::parse(configz(a_run_config()));
  const nlohmann::json& kube_proxy = served.at("kubeproxy.config.k8s.io");
  EXPECT_EQ(kube_proxy.at("mode"), "nftables");
  EXPECT_EQ(kube_proxy.at("clusterCIDR"), "10.244.0.0/16,fd00:244::/56");
  EXPECT_EQ(kube_proxy.at("nftables").at("syncPeriod"), "45s");
  EXPECT_EQ(kube_proxy.at("nftables").at("minSyncPeriod"), "250ms");
  EXPECT_EQ(kube_proxy.at("nftables").at("masqueradeBit"), 15);
  EXPECT_EQ(kube_proxy.at("iptables").at("syncPeriod"), "20s");
  EXPECT_EQ(kube_proxy.at("detectLocalMode"), "InterfaceNamePrefix");
  EXPECT_EQ(kube_proxy.at("detectLocal").at("interfaceNamePrefix"), "veth");
  EXPECT_EQ(kube_proxy.at("serviceProxyName"), "kubenat");
  EXPECT_EQ(kube_proxy.at("oomScoreAdj"), -999);
  EXPECT_EQ(served.at("kubenat").at("nodeIPs"), nlohmann::json::array({"10.240.0.11"}));
  EXPECT_EQ(served.at("kubenat").at("routes"), true);
}

TEST(Configz, ShowsTheValuesInEffectInTheModesSection) {
  RunConfig config;
  config.sync_period = 10s;  // set directly, not through the section
  const nlohmann::json served = nlohmann::json::parse(configz(config));
  EXPECT_EQ(served.at("kubeproxy.config.k8s.io").at("iptables").at("syncPeriod"), "10s");
}

TEST(Configz, ReplacesBytesThatAreNotUtf8InsteadOfThrowing) {
  // Found by the kube_proxy_configuration fuzz target: YAML reads bytes,
  // and the JSON writer threw on them.
  RunConfig config;
  config.hostname_override = "node\xff";
  const nlohmann::json served = nlohmann::json::parse(configz(config));
  EXPECT_EQ(served.at("kubeproxy.config.k8s.io").at("hostnameOverride"), "node\xef\xbf\xbd");
}

TEST(KubeProxyConfiguration, TextThatMakesTheYamlParserLoopIsAnError) {
  // yaml-cpp 0.7 never returns from a top-level flow collection followed by ','.
  auto read = parse_kube_proxy_configuration("{mode: iptables},", RunConfig{});
  ASSERT_FALSE(read);
  EXPECT_THAT(read.error(), HasSubstr("loop"));
}

TEST(Configz, ShowsAnUnsetOomScoreAdjustmentAsNull) {
  const nlohmann::json served = nlohmann::json::parse(configz(RunConfig{}));
  EXPECT_TRUE(served.at("kubeproxy.config.k8s.io").at("oomScoreAdj").is_null());
}

TEST(Configz, ReadsBackAsTheSameConfiguration) {
  const RunConfig config = a_run_config();
  auto read = parse_kube_proxy_configuration(nlohmann::json::parse(configz(config)).at("kubeproxy.config.k8s.io").dump(),
                                             RunConfig{});
  ASSERT_TRUE(read) << read.error();
  EXPECT_THAT(read->warnings, ElementsAre(StartsWith("iptables.masqueradeAll"), StartsWith("iptables.masqueradeBit"),
                                          StartsWith("iptables.syncPeriod"), StartsWith("iptables.minSyncPeriod")));
  EXPECT_EQ(read->config.kubeconfig, config.kubeconfig);
  EXPECT_EQ(read->config.hostname_override, config.hostname_override);
  EXPECT_EQ(read->config.proxy_mode, config.proxy_mode);
  EXPECT_EQ(read->config.cluster_cidrs, config.cluster_cidrs);
  EXPECT_EQ(read->config.iptables_section, config.iptables_section);
  EXPECT_EQ(read->config.nftables_section, config.nftables_section);
  EXPECT_EQ(read->config.masquerade_all, config.masquerade_all);
  EXPECT_EQ(read->config.masquerade_bit, config.masquerade_bit);
  EXPECT_EQ(read->config.sync_period, config.sync_period);
  EXPECT_EQ(read->config.min_sync_period, config.min_sync_period);
  EXPECT_EQ(read->config.localhost_nodeports, config.localhost_nodeports);
  EXPECT_EQ(read->config.nodeport_addresses, config.nodeport_addresses);
  EXPECT_EQ(read->config.detect_local_mode, config.detect_local_mode);
  EXPECT_EQ(read->config.pod_bridge_interface, config.pod_bridge_interface);
  EXPECT_EQ(read->config.pod_interface_name_prefix, config.pod_interface_name_prefix);
  EXPECT_EQ(read->config.service_proxy_name, config.service_proxy_name);
  EXPECT_EQ(read->config.oom_score_adj, config.oom_score_adj);
  EXPECT_EQ(read->config.healthz_bind_address, config.healthz_bind_address);
  EXPECT_EQ(read->config.metrics_bind_address, config.metrics_bind_address);
  EXPECT_EQ(read->config.verbosity, config.verbosity);
  EXPECT_EQ(read->config.conntrack, config.conntrack);
}

TEST(Configz, ReadsBackTheDefaultsWithoutNotes) {
  auto read = parse_kube_proxy_configuration(
      nlohmann::json::parse(configz(RunConfig{})).at("kubeproxy.config.k8s.io").dump(), RunConfig{});
  ASSERT_TRUE(read) << read.error();
  EXPECT_THAT(read->warnings, IsEmpty());
}

}  // namespace
}  // namespace kubenat
