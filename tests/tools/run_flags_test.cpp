// `kubenat run`'s flags: kube-proxy's names, Go durations, the config file
// and which of the two wins.

#include "tools/kubenat/run_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using namespace std::chrono_literals;

RunConfig parsed(std::vector<std::string> args) {
  std::ostringstream warnings;
  auto config = parse_run_flags(args, warnings);
  EXPECT_TRUE(config.has_value()) << config.error();
  return config.value_or(RunConfig{});
}

std::string parse_error(std::vector<std::string> args) {
  std::ostringstream warnings;
  auto config = parse_run_flags(args, warnings);
  EXPECT_FALSE(config.has_value());
  return config ? std::string() : config.error();
}

// A config file in the test's temporary directory.
std::string write_config(const std::string& name, std::string_view body) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n" << body;
  return path;
}

TEST(RunFlags, DefaultsAreKubeProxys) {
  const RunConfig config = parsed({});
  const RunConfig defaults;
  EXPECT_EQ(config.proxy_mode, "iptables");
  EXPECT_EQ(config.sync_period, 30s);
  // kube-proxy's is 1s; unset, the spacing of syncs follows their cost.
  EXPECT_EQ(config.min_sync_period, std::nullopt);
  EXPECT_EQ(config.masquerade_bit, 14);
  EXPECT_TRUE(config.localhost_nodeports);
  EXPECT_FALSE(config.masquerade_all);
  EXPECT_EQ(config.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(config.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(config.iptables_mode, defaults.iptables_mode);
  EXPECT_EQ(config.config_file, "");
}

TEST(RunFlags, ReadsEveryKubeProxyFlag) {
  const RunConfig config = parsed({"--kubeconfig=/etc/kc", "--master", "https://10.0.0.1:6443",
                                   "--hostname-override=worker-1", "--cluster-cidr=10.244.0.0/16,fd00::/56",
                                   "--proxy-mode=iptables", "--masquerade-all", "--nodeport-addresses=10.0.0.0/8",
                                   "--nodeport-addresses=primary", "--iptables-sync-period=1m0s",
                                   "--iptables-min-sync-period=500ms", "--iptables-masquerade-bit=15",
                                   "--iptables-localhost-nodeports=false", "--healthz-bind-address=127.0.0.1:1",
                                   "--metrics-bind-address=[::1]:2", "--node-ip=192.168.0.2",
                                   "--iptables-mode=legacy", "--v=3"});
  EXPECT_EQ(config.kubeconfig, "/etc/kc");
  EXPECT_EQ(config.master, "https://10.0.0.1:6443");
  EXPECT_EQ(config.hostname_override, "worker-1");
  EXPECT_THAT(config.cluster_cidrs, ElementsAre("10.244.0.0/16", "fd00::/56"));
  EXPECT_TRUE(config.masquerade_all);
  EXPECT_THAT(config.nodeport_addresses, ElementsAre("10.0.0.0/8", "primary"));
  EXPECT_EQ(config.sync_period, 60s);
  EXPECT_EQ(config.min_sync_period, 500ms);
  EXPECT_EQ(config.masquerade_bit, 15);
  EXPECT_FALSE(config.localhost_nodeports);
  EXPECT_EQ(config.healthz_bind_address, "127.0.0.1:1");
  EXPECT_EQ(config.metrics_bind_address, "[::1]:2");
  EXPECT_THAT(config.node_ips, ElementsAre("192.168.0.2"));
  EXPECT_EQ(config.iptables_mode, "legacy");
  EXPECT_EQ(config.verbosity, 3);
}

TEST(RunFlags, OomScoreAdjIsLeftAloneUnlessGiven) {
  EXPECT_FALSE(parsed({}).oom_score_adj);
  EXPECT_EQ(parsed({"--oom-score-adj=-999"}).oom_score_adj, -999);
}

TEST(RunFlags, OomScoreAdjOutsideTheKernelsRangeNamesTheFlagAndField) {
  EXPECT_THAT(parse_error({"--oom-score-adj=-1001"}), HasSubstr("--oom-score-adj (oomScoreAdj)"));
}

TEST(RunFlags, ReadsSingleDashVerbosityWithEquals) { EXPECT_EQ(parsed({"-v=2"}).verbosity, 2); }

TEST(RunFlags, ReadsSingleDashVerbosityWithASpace) { EXPECT_EQ(parsed({"-v", "2"}).verbosity, 2); }

TEST(RunFlags, ReadsDurationsInGoSyntax) { EXPECT_EQ(parsed({"--iptables-sync-period=1h30m"}).sync_period, 90min); }

TEST(RunFlags, GivesABareHealthzIpKubeProxysPort) {
  EXPECT_EQ(parsed({"--healthz-bind-address=0.0.0.0"}).healthz_bind_address, "0.0.0.0:10256");
}

TEST(RunFlags, DisablesAServerWithAnEmptyBindAddress) {
  EXPECT_EQ(parsed({"--metrics-bind-address="}).metrics_bind_address, "");
}

TEST(RunFlags, RejectsUnknownFlags) {
  EXPECT_EQ(parse_error({"--ipvs-scheduler=rr"}), "kubenat run: unknown flag --ipvs-scheduler");
}

TEST(RunFlags, RejectsPositionalArguments) {
  EXPECT_EQ(parse_error({"extra"}), "kubenat run: unexpected argument \"extra\"");
}

TEST(RunFlags, RejectsABadDurationNamingTheFlag) {
  EXPECT_EQ(parse_error({"--iptables-sync-period=30"}),
            "kubenat run: --iptables-sync-period: missing unit in duration \"30\"");
}

TEST(RunFlags, RejectsAZeroSyncPeriod) {
  EXPECT_THAT(parse_error({"--iptables-sync-period=0s"}), HasSubstr("--iptables-sync-period (iptables.syncPeriod)"));
}

TEST(RunFlags, RejectsAMinSyncPeriodAboveTheSyncPeriod) {
  EXPECT_EQ(parse_error({"--iptables-sync-period=1s", "--iptables-min-sync-period=2s"}),
            "kubenat run: --iptables-sync-period (iptables.syncPeriod): must be at least "
            "--iptables-min-sync-period (2s), got 1s");
}

TEST(RunFlags, RejectsAMasqueradeBitOutOfRange) {
  EXPECT_THAT(parse_error({"--iptables-masquerade-bit=32"}), HasSubstr("must be within 0..31, got 32"));
}

TEST(RunFlags, AcceptsTheNftablesProxyMode) {
  EXPECT_EQ(parsed({"--proxy-mode=nftables"}).proxy_mode, "nftables");
}

TEST(RunFlags, TheNftablesTableIsKubenatUnlessNamed) {
  EXPECT_EQ(parsed({"--proxy-mode=nftables"}).nftables_table, "kubenat");
  EXPECT_EQ(parsed({"--proxy-mode=nftables", "--nftables-table=kubenat-blue"}).nftables_table, "kubenat-blue");
}

TEST(RunFlags, ReadsTheNftablesModeFromTheConfigFile) {
  const std::string path = write_config("run_flags_mode_nftables.yaml", "mode: nftables\n");
  EXPECT_EQ(parsed({"--config=" + path}).proxy_mode, "nftables");
}

TEST(RunFlags, RejectsProxyModesKubenatDoesNotImplement) {
  EXPECT_THAT(parse_error({"--proxy-mode=ipvs"}),
              HasSubstr("kubenat supports iptables, nftables (and none, for --routes alone), got \"ipvs\""));
}

TEST(RunFlags, RejectsAnUnknownIptablesMode) {
  EXPECT_THAT(parse_error({"--iptables-mode=fast"}), HasSubstr("--iptables-mode: expects nft, legacy or auto"));
}

TEST(RunFlags, RejectsAnInvalidClusterCidr) {
  EXPECT_THAT(parse_error({"--cluster-cidr=10.0.0.0/33"}), HasSubstr("--cluster-cidr (clusterCIDR): invalid CIDR"));
}

TEST(RunFlags, RejectsAnInvalidBindAddress) {
  EXPECT_THAT(parse_error({"--healthz-bind-address=::1:10256"}), HasSubstr("--healthz-bind-address"));
}

TEST(RunFlags, ConntrackDefaultsAreKubeProxys) {
  const ConntrackSettings conntrack = parsed({}).conntrack;
  EXPECT_EQ(conntrack.max_per_core, 32768);
  EXPECT_EQ(conntrack.min, 131072);
  EXPECT_EQ(conntrack.tcp_established_timeout, 24h);
  EXPECT_EQ(conntrack.tcp_close_wait_timeout, 1h);
  EXPECT_FALSE(conntrack.tcp_be_liberal);
  EXPECT_EQ(conntrack.udp_timeout, 0s);
  EXPECT_EQ(conntrack.udp_stream_timeout, 0s);
}

TEST(RunFlags, ReadsTheConntrackFlags) {
  const ConntrackSettings conntrack =
      parsed({"--conntrack-max-per-core=0", "--conntrack-min=4096", "--conntrack-tcp-timeout-established=2h",
              "--conntrack-tcp-timeout-close-wait=0s", "--conntrack-tcp-be-liberal", "--conntrack-udp-timeout=45s",
              "--conntrack-udp-timeout-stream=2m30s"})
          .conntrack;
  EXPECT_EQ(conntrack.max_per_core, 0);
  EXPECT_EQ(conntrack.min, 4096);
  EXPECT_EQ(conntrack.tcp_established_timeout, 2h);
  EXPECT_EQ(conntrack.tcp_close_wait_timeout, 0s);
  EXPECT_TRUE(conntrack.tcp_be_liberal);
  EXPECT_EQ(conntrack.udp_timeout, 45s);
  EXPECT_EQ(conntrack.udp_stream_timeout, 150s);
}

TEST(RunFlags, AConntrackFlagOverridesTheConfigFile) {
  const std::string path = write_config("run_flags_conntrack.yaml", "conntrack:\n  min: 1000\n  udpTimeout: 10s\n");
  const ConntrackSettings conntrack = parsed({"--config=" + path, "--conntrack-udp-timeout=20s"}).conntrack;
  EXPECT_EQ(conntrack.min, 1000);
  EXPECT_EQ(conntrack.udp_timeout, 20s);
}

TEST(RunFlags, RejectsANegativeConntrackValueNamingFlagAndField) {
  EXPECT_THAT(parse_error({"--conntrack-max-per-core=-1"}),
              HasSubstr("--conntrack-max-per-core (conntrack.maxPerCore)"));
  EXPECT_THAT(parse_error({"--conntrack-udp-timeout=-1s"}),
              HasSubstr("--conntrack-udp-timeout (conntrack.udpTimeout)"));
}

TEST(RunFlags, ReadsTheConfigFile) {
  const std::string path = write_config("run_flags_read.yaml", "hostnameOverride: from-file\nclusterCIDR: 10.0.0.0/8\n");
  const RunConfig config = parsed({"--config=" + path});
  EXPECT_EQ(config.hostname_override, "from-file");
  EXPECT_THAT(config.cluster_cidrs, ElementsAre("10.0.0.0/8"));
  EXPECT_EQ(config.config_file, path);
}

TEST(RunFlags, ExplicitFlagsOverrideTheConfigFile) {
  const std::string path = write_config("run_flags_override.yaml",
                                        "hostnameOverride: from-file\niptables:\n  syncPeriod: 10s\n  masqueradeBit: 3\n");
  const RunConfig config = parsed({"--hostname-override=from-flag", "--config", path, "--iptables-sync-period=20s"});
  EXPECT_EQ(config.hostname_override, "from-flag");
  EXPECT_EQ(config.sync_period, 20s);
  EXPECT_EQ(config.masquerade_bit, 3);
}

TEST(RunFlags, FlagsNotGivenKeepTheConfigFilesValues) {
  const std::string path = write_config("run_flags_keep.yaml",
                                        "iptables:\n  masqueradeAll: true\n  localhostNodePorts: false\n"
                                        "nodePortAddresses: [10.0.0.0/8]\n");
  const RunConfig config = parsed({"--config=" + path, "-v=1"});
  EXPECT_TRUE(config.masquerade_all);
  EXPECT_FALSE(config.localhost_nodeports);
  EXPECT_THAT(config.nodeport_addresses, ElementsAre("10.0.0.0/8"));
}

TEST(RunFlags, AnExplicitFalseOverridesTheConfigFile) {
  const std::string path = write_config("run_flags_false.yaml", "iptables:\n  masqueradeAll: true\n");
  EXPECT_FALSE(parsed({"--config=" + path, "--masquerade-all=false"}).masquerade_all);
}

TEST(RunFlags, RejectsAnUnknownFieldInTheConfigFile) {
  const std::string path = write_config("run_flags_unknown.yaml", "iptables:\n  turbo: true\n");
  EXPECT_EQ(parse_error({"--config=" + path}), "kubenat run: --config: " + path + ": unknown field \"iptables.turbo\"");
}

TEST(RunFlags, ReadsTheNftablesSectionInNftablesMode) {
  const std::string path = write_config("run_flags_nftables_section.yaml",
                                        "mode: nftables\nnftables:\n  syncPeriod: 45s\n  masqueradeBit: 9\n");
  const RunConfig config = parsed({"--config=" + path});
  EXPECT_EQ(config.sync_period, 45s);
  EXPECT_EQ(config.masquerade_bit, 9);
}

TEST(RunFlags, SyncPeriodAndMasqueradeAllFlagsApplyInNftablesModeAsInKubeProxy) {
  const std::string path = write_config("run_flags_nftables_flags.yaml", "nftables:\n  syncPeriod: 45s\n");
  const RunConfig config = parsed({"--config=" + path, "--proxy-mode=nftables", "--iptables-sync-period=20s",
                                   "--iptables-min-sync-period=2s", "--masquerade-all"});
  EXPECT_EQ(config.sync_period, 20s);
  EXPECT_EQ(config.min_sync_period, 2s);
  EXPECT_TRUE(config.masquerade_all);
}

TEST(RunFlags, TheMasqueradeBitFlagDoesNotApplyInNftablesModeAsInKubeProxy) {
  std::ostringstream warnings;
  const std::vector<std::string> args = {"--proxy-mode=nftables", "--iptables-masquerade-bit=9"};
  auto config = parse_run_flags(args, warnings);
  ASSERT_TRUE(config.has_value()) << config.error();
  EXPECT_EQ(config->masquerade_bit, 14);
  EXPECT_EQ(warnings.str(),
            "kubenat run: warning: iptables.masqueradeBit or --iptables-masquerade-bit (9) is not used in nftables "
            "mode; nftables.masqueradeBit (14) is\n");
}

TEST(RunFlags, AProxyModeFlagSelectsTheSectionOfTheConfigFile) {
  const std::string path =
      write_config("run_flags_mode_section.yaml", "iptables:\n  syncPeriod: 10s\nnftables:\n  syncPeriod: 50s\n");
  EXPECT_EQ(parsed({"--config=" + path}).sync_period, 10s);
  EXPECT_EQ(parsed({"--config=" + path, "--proxy-mode=nftables"}).sync_period, 50s);
}

TEST(RunFlags, NamesTheNftablesSectionInSyncPeriodErrorsInNftablesMode) {
  const std::string path =
      write_config("run_flags_nftables_bad.yaml", "mode: nftables\nnftables:\n  syncPeriod: 1s\n  minSyncPeriod: 5s\n");
  EXPECT_THAT(parse_error({"--config=" + path}),
              StartsWith("kubenat run: --iptables-sync-period (nftables.syncPeriod): must be at least"));
}

TEST(RunFlags, ReadsTheServiceProxyName) {
  EXPECT_EQ(parsed({"--service-proxy-name=kubenat"}).service_proxy_name, "kubenat");
  EXPECT_EQ(parsed({}).service_proxy_name, "");
}

TEST(RunFlags, TheServiceProxyNameFlagOverridesTheConfigFile) {
  const std::string path = write_config("run_flags_proxy_name.yaml", "serviceProxyName: from-file\n");
  EXPECT_EQ(parsed({"--config=" + path}).service_proxy_name, "from-file");
  EXPECT_EQ(parsed({"--config=" + path, "--service-proxy-name=from-flag"}).service_proxy_name, "from-flag");
}

TEST(RunFlags, RejectsAServiceProxyNameThatIsNotALabelValue) {
  EXPECT_THAT(parse_error({"--service-proxy-name=a b"}),
              StartsWith("kubenat run: --service-proxy-name (serviceProxyName): \"a b\" is not a label value"));
}

TEST(RunFlags, NamesTheConfigFileInItsErrors) {
  EXPECT_EQ(parse_error({"--config=/nonexistent/kp.yaml"}),
            "kubenat run: --config: /nonexistent/kp.yaml: No such file or directory");
}

TEST(RunFlags, RejectsAnUnsupportedModeFromTheConfigFile) {
  const std::string path = write_config("run_flags_mode.yaml", "mode: ipvs\n");
  EXPECT_EQ(parse_error({"--config=" + path}),
            "kubenat run: --proxy-mode (mode): kubenat supports iptables, nftables (and none, for --routes alone), got "
            "\"ipvs\"");
}

TEST(RunFlags, AProxyModeFlagOverridesAnUnsupportedModeInTheFile) {
  const std::string path = write_config("run_flags_mode_override.yaml", "mode: ipvs\n");
  EXPECT_EQ(parsed({"--config=" + path, "--proxy-mode=iptables"}).proxy_mode, "iptables");
}

TEST(RunFlags, RoutesAreOffByDefaultWithProtocol214) {
  const RunConfig config = parsed({});
  EXPECT_FALSE(config.routes);
  EXPECT_EQ(config.route_protocol, 214);
}

TEST(RunFlags, ReadsTheRouteFlags) {
  const RunConfig config = parsed({"--routes", "--route-protocol=77"});
  EXPECT_TRUE(config.routes);
  EXPECT_EQ(config.route_protocol, 77);
  EXPECT_EQ(config.proxy_mode, "iptables");
}

TEST(RunFlags, RoutesAloneIsProxyModeNone) {
  const RunConfig config = parsed({"--routes", "--proxy-mode", "none"});
  EXPECT_TRUE(config.routes);
  EXPECT_EQ(config.proxy_mode, "none");
  EXPECT_EQ(parse_error({"--proxy-mode=none"}), "kubenat run: --proxy-mode none: nothing to do without --routes");
}

TEST(RunFlags, RejectsTheKernelsRouteProtocols) {
  for (const char* value : {"0", "4", "256", "-1"}) {
    EXPECT_THAT(parse_error({"--routes", std::string("--route-protocol=") + value}),
                HasSubstr("--route-protocol: must be within 5..255 (0-4 are the kernel's), got " + std::string(value)))
        << value;
  }
  EXPECT_EQ(parsed({"--route-protocol=5"}).route_protocol, 5);
  EXPECT_EQ(parsed({"--route-protocol=255"}).route_protocol, 255);
}

TEST(RunFlags, RecognisesHelpBeforeADoubleDash) {
  EXPECT_TRUE(run_help_requested(std::vector<std::string>{"-v=2", "--help"}));
  EXPECT_TRUE(run_help_requested(std::vector<std::string>{"-h"}));
  EXPECT_FALSE(run_help_requested(std::vector<std::string>{"--", "--help"}));
  EXPECT_FALSE(run_help_requested(std::vector<std::string>{"-v=2"}));
}

TEST(RunFlags, UsageListsKubeProxysFlagsAndThePrecedence) {
  const std::string usage = run_flags_usage();
  EXPECT_THAT(usage, StartsWith("usage: kubenat run [flags]\n"));
  for (const char* flag : {"--kubeconfig", "--master", "--hostname-override", "--cluster-cidr", "--proxy-mode",
                           "--masquerade-all", "--nodeport-addresses", "--iptables-sync-period",
                           "--iptables-min-sync-period", "--iptables-masquerade-bit", "--iptables-localhost-nodeports",
                           "--healthz-bind-address", "--metrics-bind-address", "--node-ip", "--iptables-mode",
                           "--config", "--v ", "--routes", "--route-protocol"}) {
    EXPECT_THAT(usage, HasSubstr(flag)) << flag;
  }
  EXPECT_THAT(usage, HasSubstr("flags given on the command line override"));
}

}  // namespace
}  // namespace kubenat
