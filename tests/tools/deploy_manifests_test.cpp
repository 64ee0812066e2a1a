// The Kubernetes manifests in tools/deploy: every DaemonSet's command line,
// with the config.conf its ConfigMap is generated from (byte for byte, which
// tools/deploy/validate checks on the rendered output), is accepted by
// `kubenat run` unchanged and says what the overlay promises; the
// kubeconfig.conf beside it is one kubenat reads.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rules/json_or_yaml.h"
#include "tools/kubenat/run_flags.h"
#include "watch/api_config.h"

namespace kubenat {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const fs::path kDeployDir = fs::path(KUBENAT_SOURCE_DIR) / "tools/deploy";
// Where the DaemonSet mounts the ConfigMap.
constexpr std::string_view kMountedConfig = "--config=/var/lib/kubenat/config.conf";

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The kubenat container of the DaemonSet (or DaemonSet patch) in `path`.
nlohmann::json kubenat_container(const fs::path& path) {
  auto documents = parse_json_or_yaml(read_file(path));
  EXPECT_TRUE(documents.has_value()) << path << ": " << documents.error();
  if (!documents || documents->size() != 1) return nlohmann::json::object();
  for (const nlohmann::json& container : documents->front()["spec"]["template"]["spec"]["containers"]) {
    if (container.value("name", "") == "kubenat") return container;
  }
  ADD_FAILURE() << path << ": no container named kubenat";
  return nlohmann::json::object();
}

struct Parsed {
  RunConfig config;
  std::string warnings;
};

// What `kubenat run` makes of the container's arguments on node worker-1,
// with the mounted config file replaced by `config_file`.
Parsed run_with(const nlohmann::json& container, const fs::path& config_file) {
  std::vector<std::string> args = container.value("args", std::vector<std::string>{});
  EXPECT_FALSE(args.empty());
  if (args.empty()) return {};
  EXPECT_EQ(args.front(), "run");
  args.erase(args.begin());
  bool mounted_config = false;
  for (std::string& arg : args) {
    if (arg == kMountedConfig) {
      arg = "--config=" + config_file.string();
      mounted_config = true;
    }
    if (const auto at = arg.find("$(NODE_NAME)"); at != std::string::npos) arg.replace(at, 12, "worker-1");
  }
  EXPECT_TRUE(mounted_config) << "no " << kMountedConfig;
  std::ostringstream warnings;
  auto config = parse_run_flags(args, warnings);
  EXPECT_TRUE(config.has_value()) << config.error();
  return {config.value_or(RunConfig{}), warnings.str()};
}

// The port of a "host:port" bind address.
int port_of(const std::string& bind_address) { return std::stoi(bind_address.substr(bind_address.rfind(':') + 1)); }

TEST(DeployManifests, BaseRunsIptablesModeWithItsConfigFile) {
  const Parsed run = run_with(kubenat_container(kDeployDir / "base/daemonset.yaml"), kDeployDir / "base/config.conf");
  EXPECT_THAT(run.warnings, IsEmpty());
  EXPECT_EQ(run.config.proxy_mode, "iptables");
  EXPECT_FALSE(run.config.routes);
  EXPECT_THAT(run.config.cluster_cidrs, ElementsAre("10.244.0.0/16"));
  EXPECT_EQ(run.config.hostname_override, "worker-1");
  EXPECT_EQ(run.config.kubeconfig, "/var/lib/kubenat/kubeconfig.conf");
  EXPECT_EQ(run.config.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(run.config.metrics_bind_address, "127.0.0.1:10249");
}

TEST(DeployManifests, NftablesOverlayRunsNftablesMode) {
  const Parsed run =
      run_with(kubenat_container(kDeployDir / "base/daemonset.yaml"), kDeployDir / "overlays/nftables/config.conf");
  EXPECT_THAT(run.warnings, IsEmpty());
  EXPECT_EQ(run.config.proxy_mode, "nftables");
  EXPECT_THAT(run.config.cluster_cidrs, ElementsAre("10.244.0.0/16"));
}

TEST(DeployManifests, NftablesConfigIsTheBasesWithOnlyTheModeChanged) {
  std::string base = read_file(kDeployDir / "base/config.conf");
  const auto mode = base.find("\nmode: iptables\n");
  ASSERT_NE(mode, std::string::npos);
  base.replace(mode, 16, "\nmode: nftables\n");
  EXPECT_EQ(read_file(kDeployDir / "overlays/nftables/config.conf"), base);
}

TEST(DeployManifests, RoutesOverlayProgramsRoutesOnlyOnPortsBesideKubeProxys) {
  const Parsed run = run_with(kubenat_container(kDeployDir / "overlays/routes/daemonset.yaml"),
                              kDeployDir / "overlays/routes/config.conf");
  EXPECT_THAT(run.warnings, IsEmpty());
  EXPECT_TRUE(run.config.routes);
  EXPECT_EQ(run.config.proxy_mode, "none");
  EXPECT_EQ(run.config.hostname_override, "worker-1");
  EXPECT_EQ(run.config.kubeconfig, "/var/lib/kubenat/kubeconfig.conf");
  EXPECT_NE(port_of(run.config.healthz_bind_address), 10256);
  EXPECT_NE(port_of(run.config.metrics_bind_address), 10249);
}

// The kubelet probes the port the daemon serves /livez and /healthz on.
TEST(DeployManifests, ProbesAskTheHealthzPortOfTheConfig) {
  struct Case {
    fs::path daemonset, config;
  };
  for (const Case& each : {Case{"base/daemonset.yaml", "base/config.conf"},
                           Case{"overlays/routes/daemonset.yaml", "overlays/routes/config.conf"}}) {
    const nlohmann::json container = kubenat_container(kDeployDir / each.daemonset);
    const int healthz = port_of(run_with(container, kDeployDir / each.config).config.healthz_bind_address);
    EXPECT_EQ(container["livenessProbe"]["httpGet"]["port"], healthz) << each.daemonset;
    EXPECT_EQ(container["readinessProbe"]["httpGet"]["port"], healthz) << each.daemonset;
  }
}

// kubeconfig.conf names the service account's files, as kubeadm's kube-proxy
// ConfigMap does; here they are put under a temporary directory instead.
TEST(DeployManifests, KubeconfigUsesTheServiceAccountsCredentials) {
  const std::string mounted = "/var/run/secrets/kubernetes.io/serviceaccount/";
  const fs::path secrets = fs::path(::testing::TempDir()) / "deploy_manifests_serviceaccount";
  fs::create_directories(secrets);
  std::ofstream(secrets / "ca.crt") << "the cluster's CA";
  std::ofstream(secrets / "token") << "a token";
  std::string kubeconfig = read_file(kDeployDir / "base/kubeconfig.conf");
  for (auto at = kubeconfig.find(mounted); at != std::string::npos; at = kubeconfig.find(mounted)) {
    kubeconfig.replace(at, mounted.size(), secrets.string() + "/");
  }
  std::ofstream(secrets / "kubeconfig.conf") << kubeconfig;

  auto config = load_kubeconfig((secrets / "kubeconfig.conf").string());
  ASSERT_TRUE(config.has_value()) << config.error();
  EXPECT_EQ(config->server, "https://control-plane.example:6443");
  EXPECT_EQ(config->ca_pem, "the cluster's CA");
  EXPECT_EQ(config->token_file, (secrets / "token").string());
}

}  // namespace
}  // namespace kubenat
