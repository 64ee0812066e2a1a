#pragma once

// Workers on one LAN, each with a pod in its own pod CIDR and `kubenat run`
// in it, against the API server simulator: the world of the multi-node
// end-to-end tests (static routes, load balancers over several nodes).
//
//                         lan ns: bridge br0 10.240.0.1/24, the simulator on 10.240.0.1:6443
//            ┌──────────────────────────┼──────────────────────────┐
//   worker ns N: eth0 10.240.0.(10+N)/24, ip_forward, kubenat run --hostname-override worker-N
//                pod0 10.200.N.1/24 ── pod ns N: eth0 10.200.N.10/24, 10.200.0.0/16 via 10.200.N.1
//
// There is no default route anywhere, so a missing route is "unreachable"
// at once. The LAN namespace is also where a client outside the cluster
// (a load balancer) stands.
//
// Names: "kn<pid>r<k>-lan", "-w<N>", "-p<N>" (k counts worlds in this
// process), which cleanup_stale_namespaces.sh recognises; everything is
// removed by the world's destructor, also when a test fails.

#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/process.h"

namespace kubenat::e2e {

inline constexpr const char* kLanApiAddress = "10.240.0.1";
inline constexpr int kLanEchoPort = 8080;

std::string worker_name(int n);  // "worker-N"
std::string worker_ip(int n);    // "10.240.0.(10+N)"
std::string pod_cidr(int n);     // "10.200.N.0/24"
std::string pod_ip(int n);       // "10.200.N.10"
std::string pod_name(int n);     // "pod-N": what pod N's echo server answers


class LanWorld {
 public:
  // The LAN and the simulator. The error names the step that failed.
  [[nodiscard]] static std::expected<std::unique_ptr<LanWorld>, std::string> create();

  LanWorld(const LanWorld&) = delete;
  LanWorld& operator=(const LanWorld&) = delete;
  // Stops every process, then removes every namespace of the world.
  ~LanWorld();

  std::string lan_ns() const { return prefix_ + "-lan"; }
  std::string worker_ns(int n) const { return prefix_ + "-w" + std::to_string(n); }
  std::string pod_ns(int n) const { return prefix_ + "-p" + std::to_string(n); }

  // Worker N: its namespace on the LAN, its pod with an echo server on
  // kLanEchoPort, its Node object on the simulator, and `kubenat run` in it
  // with `daemon_flags` added (the mode: --routes, --proxy-mode, ...).
  [[nodiscard]] std::expected<void, std::string> add_worker(int n, std::vector<std::string> daemon_flags);
  // (Re)starts worker N's daemon with its flags.
  [[nodiscard]] std::expected<void, std::string> start_daemon(int n);

  // A Node object on the simulator (no namespace behind it unless
  // add_worker made one), and its deletion.
  [[nodiscard]] std::expected<void, std::string> create_node(const std::string& name, const std::string& internal_ip,
                                                             const std::string& cidr);
  [[nodiscard]] std::expected<void, std::string> delete_node(const std::string& name);
  // Creates or replaces the objects of a JSON document (an object or a
  // List) on the simulator.
  [[nodiscard]] std::expected<void, std::string> seed(const std::string& json);

  // One TCP connection from namespace `from_ns` to ip:port: the answering
  // echo server's name, or what the probe got instead ("unreachable",
  // "timeout", ...).
  std::string connect(const std::string& from_ns, const std::string& ip, int port, int timeout_ms = 500);
  // One TCP connection from pod `from` to pod `to`.
  std::string probe(int from, int to) { return connect(pod_ns(from), pod_ip(to), kLanEchoPort); }
  bool reaches(int from, int to) { return probe(from, to) == pod_name(to); }

  // `ip route show DESTINATION` in worker N's namespace, without trailing
  // blanks (iproute2 versions differ there); empty when there is none.
  std::string route_to(int n, const std::string& destination);
  [[nodiscard]] std::expected<std::string, std::string> ip_in_worker(int n, std::vector<std::string> args);

  // One sample from worker N's /metrics.
  std::optional<double> metric(int n, const std::string& series);

  std::string daemon_log(int n) const;
  std::string all_logs() const;

 private:
  explicit LanWorld(int k);
  std::expected<void, std::string> build();
  std::expected<void, std::string> start_echo(int n);
  std::string api_url(const std::string& path) const;
  std::expected<std::string, std::string> curl(std::vector<std::string> args);
  std::expected<std::string, std::string> http(const std::string& ns, int port, const std::string& path);
  std::filesystem::path log_path(int n) const;

  std::string prefix_;
  std::filesystem::path directory_;
  std::filesystem::path kubeconfig_;
  std::vector<std::string> namespaces_;
  std::optional<BackgroundProcess> simulator_;
  std::map<int, BackgroundProcess> echo_;
  std::map<int, BackgroundProcess> daemons_;
  std::map<int, std::vector<std::string>> daemon_flags_;
  int seeded_ = 0;
};

}  // namespace kubenat::e2e
