#pragma once

// `kubenat run` as an operator runs it, inside a NetnsWorld's node: the API
// server simulator and kubectl run in the node namespace too (on its own
// loopback), the daemon watches the simulator and programs the node's
// kernel, and traffic comes from the client namespace.

#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/process.h"
#include "tests/e2e/netns_world.h"

namespace kubenat::e2e {

struct DaemonOptions {
  std::vector<std::string> extra_flags = {};  // added to `kubenat run`
  std::vector<std::string> sim_flags = {};    // added to the simulator
  // Shell commands run before the daemon, in its mount namespace (the one
  // `ip netns exec` makes): "mount ... && " to change what it sees.
  std::string prelude = {};
  // Start the daemon with the world; false: the test starts it
  // (start_daemon_with), e.g. after putting other rules in place.
  bool start = true;
};

class DaemonWorld {
 public:
  static constexpr int kApiPort = 6443;
  static constexpr int kHealthzPort = 10256;
  static constexpr int kMetricsPort = 10249;
  static constexpr const char* kNodeName = "test-node";

  // A world with `pods` echo-serving pods, the simulator, and kubenat run.
  [[nodiscard]] static std::expected<std::unique_ptr<DaemonWorld>, std::string> create(int pods,
                                                                                       DaemonOptions options = {});
  ~DaemonWorld();

  NetnsWorld& world() { return *world_; }

  // kubectl --kubeconfig <the simulator's> ARGS, in the node namespace.
  [[nodiscard]] std::expected<std::string, std::string> kubectl(std::vector<std::string> args);
  // `kubectl apply -f` of a manifest (YAML or JSON text).
  [[nodiscard]] std::expected<std::string, std::string> kubectl_apply(const std::string& manifest);
  // GET (or POST with a body) http://127.0.0.1:PORT/PATH in the node namespace.
  [[nodiscard]] std::expected<std::string, std::string> http(int port, const std::string& path,
                                                             const std::string& post_body = "");
  // GET http://127.0.0.1:PORT/PATH in the node namespace, whatever its
  // status: the status code and the body.
  struct Answer {
    int status = 0;
    std::string body;
  };
  [[nodiscard]] std::expected<Answer, std::string> get(int port, const std::string& path);
  // One sample of a Prometheus metric from /metrics (the first line that
  // starts with `series`), or an error.
  [[nodiscard]] std::expected<double, std::string> metric(const std::string& series);
  // The simulator's fault injection (POST /sim/faults).
  [[nodiscard]] std::expected<void, std::string> fault(const std::string& json);

  // Whether the daemon is still running, and what it logged.
  bool daemon_running();
  std::string daemon_log() const;
  // Restarts the daemon (same flags).
  [[nodiscard]] std::expected<void, std::string> restart_daemon();
  // Sends `signal` to the daemon and waits up to 10 s for it to exit; its
  // exit status (128+N when signal N ended it). SIGKILL stands for a crash,
  // SIGTERM for the stop of a rollout; start_daemon() starts it again.
  [[nodiscard]] std::expected<int, std::string> stop_daemon(int signal);
  // Starts the daemon (same flags) and returns once it serves /livez.
  [[nodiscard]] std::expected<void, std::string> start_daemon();
  // Stops the daemon, if it runs, and starts it with `extra_flags` instead:
  // the operator switching it to another mode. The log goes on.
  [[nodiscard]] std::expected<void, std::string> start_daemon_with(std::vector<std::string> extra_flags);

  // iptables-save of the node namespace, normalized (tests/e2e/proxy_driver.h).
  [[nodiscard]] std::expected<std::string, std::string> node_rules();

  const std::filesystem::path& directory() const { return directory_; }
  const std::filesystem::path& kubeconfig() const { return kubeconfig_; }

 private:
  DaemonWorld() = default;

  std::unique_ptr<NetnsWorld> world_;
  DaemonOptions options_;
  std::filesystem::path directory_;
  std::filesystem::path kubeconfig_;
  std::optional<BackgroundProcess> simulator_;
  std::optional<BackgroundProcess> daemon_;
  int manifests_ = 0;
};

// A Service manifest (YAML) with one port "http" 80 -> 8080.
std::string service_manifest(const std::string& name, const std::string& cluster_ip, const std::string& type = "ClusterIP",
                             int node_port = 0);
// A LoadBalancer Service with externalTrafficPolicy Local: port "http" 80
// -> 8080, NodePort `node_port`, health-check node port `health_port`.
std::string local_load_balancer_manifest(const std::string& name, const std::string& cluster_ip, int node_port,
                                         int health_port);
// What a load balancer's probe of http://IP:PORT/ from namespace `ns` gets:
// the status (0 when nothing answers), the headers and the body.
struct HealthProbe {
  int status = 0;
  std::string headers;
  std::string body;
};
HealthProbe probe_health(const NetnsWorld& world, const std::string& ns, const std::string& ip, int port);
// A Node manifest for `name` with InternalIP `ip`.
std::string node_manifest(const std::string& name, const std::string& ip);
// An EndpointSlice manifest for Service `service` holding the given pod IPs
// on port 8080, all on node `node`.
std::string slice_manifest(const std::string& service, const std::vector<std::string>& ips,
                           const std::string& node = DaemonWorld::kNodeName);

}  // namespace kubenat::e2e

// The first statements of a test that runs the daemon against the simulator:
// KUBENAT_REQUIRE_NETNS(), and kubectl, which the tests drive the simulator
// with (skipped without it, failed in CI).
#define KUBENAT_REQUIRE_DAEMON_WORLD()                                                             \
  do {                                                                                             \
    KUBENAT_REQUIRE_NETNS();                                                                       \
    if (!::kubenat::run_process({"kubectl", "version", "--client"})) {                             \
      if (::kubenat::e2e::running_in_ci()) FAIL() << "kubectl is needed and CI must run this test"; \
      GTEST_SKIP() << "needs kubectl";                                                             \
    }                                                                                              \
  } while (false)
