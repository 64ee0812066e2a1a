#include "tests/e2e/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/proxy_driver.h"

namespace kubenat::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::expected<std::unique_ptr<DaemonWorld>, std::string> DaemonWorld::create(int pods, DaemonOptions options) {
  std::unique_ptr<DaemonWorld> d(new DaemonWorld());
  d->options_ = std::move(options);
  auto world = NetnsWorld::create(pods);
  if (!world) return std::unexpected(world.error());
  d->world_ = std::move(*world);
  for (int pod = 0; pod < pods; ++pod) {
    if (auto started = d->world_->start_echo(pod, 8080); !started) return std::unexpected(started.error());
  }
  static int counter = 0;
  d->directory_ = fs::temp_directory_path() / ("kubenat-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::create_directories(d->directory_);
  d->kubeconfig_ = d->directory_ / "kubeconfig";

  std::string sim = std::string("exec ") + KUBENAT_APISERVER_SIM_BINARY + " --listen 127.0.0.1:" +
                    std::to_string(kApiPort) + " --kubeconfig-out " + d->kubeconfig_.string();
  for (const std::string& flag : d->options_.sim_flags) sim += " " + flag;
  sim += " >" + (d->directory_ / "simulator.log").string() + " 2>&1";
  auto started = BackgroundProcess::start({"ip", "netns", "exec", d->world_->node_ns(), "sh", "-c", sim});
  if (!started) return std::unexpected(started.error());
  d->simulator_ = std::move(*started);
  for (int i = 0; i < 100 && read_file(d->directory_ / "simulator.log").find("listening on") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  if (read_file(d->directory_ / "simulator.log").find("listening on") == std::string::npos) {
    return std::unexpected("the API server simulator did not start: " + read_file(d->directory_ / "simulator.log"));
  }
  if (d->options_.start) {
    if (auto daemon = d->start_daemon(); !daemon) return std::unexpected(daemon.error());
  }
  return d;
}

std::expected<void, std::string> DaemonWorld::start_daemon() {
  std::string run = options_.prelude + "exec " + KUBENAT_BINARY + " run --kubeconfig " + kubeconfig_.string() +
                    " --hostname-override " + kNodeName + " --cluster-cidr " + NetnsWorld::kPodCidr +
                    " --healthz-bind-address 127.0.0.1:" + std::to_string(kHealthzPort) +
                    " --metrics-bind-address 127.0.0.1:" + std::to_string(kMetricsPort) + " -v 2";
  for (const std::string& flag : options_.extra_flags) run += " " + flag;
  run += " 2>>" + (directory_ / "kubenat.log").string();
  auto started = BackgroundProcess::start({"ip", "netns", "exec", world_->node_ns(), "sh", "-c", run});
  if (!started) return std::unexpected(started.error());
  daemon_ = std::move(*started);
  // Up once it serves /livez.
  for (int i = 0; i < 100; ++i) {
    if (http(kHealthzPort, "/livez")) return {};
    std::this_thread::sleep_for(20ms);
  }
  return std::unexpected("kubenat run did not come up: " + daemon_log());
}

DaemonWorld::~DaemonWorld() {
  daemon_.reset();
  simulator_.reset();
  world_.reset();
  std::error_code ignored;
  fs::remove_all(directory_, ignored);
}

std::expected<std::string, std::string> DaemonWorld::kubectl(std::vector<std::string> args) {
  std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig_.string(), "--request-timeout=10s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return world_->exec_checked(world_->node_ns(), argv);
}

std::expected<std::string, std::string> DaemonWorld::kubectl_apply(const std::string& manifest) {
  const fs::path file = directory_ / ("manifest-" + std::to_string(manifests_++) + ".yaml");
  std::ofstream(file) << manifest;
  return kubectl({"apply", "--validate=false", "-f", file.string()});
}

std::expected<std::string, std::string> DaemonWorld::http(int port, const std::string& path,
                                                         const std::string& post_body) {
  std::vector<std::string> argv = {"curl", "-sS", "--fail", "--max-time", "5",
                                   "http://127.0.0.1:" + std::to_string(port) + path};
  if (!post_body.empty()) {
    // Through a file: one argument may not exceed 128 KiB.
    const fs::path body = directory_ / ("body-" + std::to_string(manifests_++) + ".json");
    std::ofstream(body) << post_body;
    argv.insert(argv.end(), {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + body.string()});
  }
  return world_->exec_checked(world_->node_ns(), argv);
}

std::expected<DaemonWorld::Answer, std::string> DaemonWorld::get(int port, const std::string& path) {
  auto text = world_->exec_checked(world_->node_ns(), {"curl", "-sS", "--max-time", "5", "-w", "\n%{http_code}",
                                                       "http://127.0.0.1:" + std::to_string(port) + path});
  if (!text) return std::unexpected(text.error());
  const std::size_t newline = text->rfind('\n');
  if (newline == std::string::npos) return std::unexpected("no status in curl's output: " + *text);
  return Answer{std::stoi(text->substr(newline + 1)), text->substr(0, newline)};
}

std::expected<double, std::string> DaemonWorld::metric(const std::string& series) {
  auto text = http(kMetricsPort, "/metrics");
  if (!text) return std::unexpected(text.error());
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::unexpected("no sample " + series + " in /metrics");
}

std::expected<void, std::string> DaemonWorld::fault(const std::string& json) {
  auto reply = http(kApiPort, "/sim/faults", json);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

bool DaemonWorld::daemon_running() { return daemon_ && daemon_->running(); }

std::string DaemonWorld::daemon_log() const { return read_file(directory_ / "kubenat.log"); }

std::expected<void, std::string> DaemonWorld::restart_daemon() {
  daemon_.reset();
  return start_daemon();
}

std::expected<int, std::string> DaemonWorld::stop_daemon(int signal) {
  if (!daemon_running()) return std::unexpected("kubenat run is not running: " + daemon_log());
  // `ip netns exec` and `sh -c "exec ..."` both exec: the pid is kubenat's.
  if (::kill(daemon_->pid(), signal) != 0) {
    return std::unexpected("kill " + std::to_string(daemon_->pid()) + ": " + std::strerror(errno));
  }
  for (int i = 0; i < 1000 && daemon_->running(); ++i) std::this_thread::sleep_for(10ms);
  if (daemon_->running()) {
    return std::unexpected("kubenat run did not exit within 10 s of signal " + std::to_string(signal));
  }
  const int status = daemon_->stop();
  daemon_.reset();
  return status;
}

std::expected<void, std::string> DaemonWorld::start_daemon_with(std::vector<std::string> extra_flags) {
  daemon_.reset();
  options_.extra_flags = std::move(extra_flags);
  return start_daemon();
}

std::expected<std::string, std::string> DaemonWorld::node_rules() {
  std::string all;
  for (const char* table : {"filter", "nat"}) {
    auto text = world_->exec_checked(world_->node_ns(), {"iptables-save", "-t", table});
    if (!text) return std::unexpected(text.error());
    all += *text;
  }
  return normalize_iptables_save(all);
}

std::string service_manifest(const std::string& name, const std::string& cluster_ip, const std::string& type,
                             int node_port) {
  std::string out = "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
                    "\n  namespace: default\nspec:\n  type: " + type + "\n  clusterIP: " + cluster_ip +
                    "\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n    protocol: TCP\n";
  if (node_port != 0) out += "    nodePort: " + std::to_string(node_port) + "\n";
  return out;
}

std::string local_load_balancer_manifest(const std::string& name, const std::string& cluster_ip, int node_port,
                                         int health_port) {
  return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
         "\n  namespace: default\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  clusterIP: " +
         cluster_ip + "\n  healthCheckNodePort: " + std::to_string(health_port) +
         "\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n    protocol: TCP\n    nodePort: " +
         std::to_string(node_port) + "\n";
}

HealthProbe probe_health(const NetnsWorld& world, const std::string& ns, const std::string& ip, int port) {
  auto result = world.exec(ns, {"curl", "-sS", "--max-time", "2", "-D", "-", "http://" + ip + ":" + std::to_string(port) + "/"});
  HealthProbe probe;
  if (!result || !result->ok()) return probe;
  const std::size_t end = result->out.find("\r\n\r\n");
  if (end == std::string::npos) return probe;
  probe.headers = result->out.substr(0, end + 2);
  probe.body = result->out.substr(end + 4);
  const std::size_t space = probe.headers.find(' ');
  if (space != std::string::npos) probe.status = std::stoi(probe.headers.substr(space + 1, 3));
  return probe;
}

std::string node_manifest(const std::string& name, const std::string& ip) {
  return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name +
         "\nstatus:\n  addresses:\n  - type: InternalIP\n    address: " + ip + "\n";
}

std::string slice_manifest(const std::string& service, const std::vector<std::string>& ips, const std::string& node) {
  std::string out = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + service +
                    "-abcde\n  namespace: default\n  labels:\n    kubernetes.io/service-name: " + service +
                    "\naddressType: IPv4\nports:\n- name: http\n  port: 8080\n  protocol: TCP\nendpoints:\n";
  if (ips.empty()) return out.substr(0, out.size() - std::string("endpoints:\n").size()) + "endpoints: []\n";
  for (const std::string& ip : ips) {
    out += "- addresses: [\"" + ip + "\"]\n  conditions: {ready: true}\n  nodeName: " + node + "\n";
  }
  return out;
}

}  // namespace kubenat::e2e
