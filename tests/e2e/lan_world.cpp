#include "tests/e2e/lan_world.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/netns_world.h"

namespace kubenat::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* kApiAddress = kLanApiAddress;
constexpr int kApiPort = 6443;
constexpr int kEchoPort = kLanEchoPort;
constexpr int kMetricsPort = 10249;
constexpr int kHealthzPort = 10256;

std::atomic<int> g_next_world{0};

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string node_json(const std::string& name, const std::string& internal_ip, const std::string& cidr) {
  return R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": ")" + name +
         R"(", "labels": {"kubernetes.io/hostname": ")" + name + R"("}}, "spec": {"podCIDR": ")" + cidr +
         R"(", "podCIDRs": [")" + cidr + R"("]}, "status": {"addresses": [{"type": "InternalIP", "address": ")" +
         internal_ip + R"("}, {"type": "Hostname", "address": ")" + name + R"("}]}})";
}

}  // namespace

std::string worker_name(int n) { return "worker-" + std::to_string(n); }
std::string worker_ip(int n) { return "10.240.0." + std::to_string(10 + n); }
std::string pod_cidr(int n) { return "10.200." + std::to_string(n) + ".0/24"; }
std::string pod_ip(int n) { return "10.200." + std::to_string(n) + ".10"; }
std::string pod_name(int n) { return "pod-" + std::to_string(n); }

std::expected<std::unique_ptr<LanWorld>, std::string> LanWorld::create() {
  std::unique_ptr<LanWorld> world(new LanWorld(g_next_world++));
  if (auto built = world->build(); !built) return std::unexpected("building the LAN world: " + built.error());
  return world;
}

LanWorld::~LanWorld() {
  // Processes first: a namespace with a process in it outlives its name.
  daemons_.clear();
  echo_.clear();
  simulator_.reset();
  std::vector<std::string> removal;
  for (const std::string& ns : namespaces_) removal.push_back("netns del " + ns);
  (void)ip_batch("", removal, /*force=*/true);
  std::error_code ignored;
  fs::remove_all(directory_, ignored);
}

std::expected<void, std::string> LanWorld::add_worker(int n, std::vector<std::string> daemon_flags) {
  const std::string w = worker_ns(n);
  const std::string p = pod_ns(n);
  namespaces_.push_back(w);
  namespaces_.push_back(p);
  const std::string rp = "net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0";
  if (auto done = ip_batch("", {"netns add " + w, "netns add " + p,
                                "netns exec " + w + " sysctl -q -w net.ipv4.ip_forward=1 " + rp,
                                "netns exec " + p + " sysctl -q -w " + rp,
                                "link add w" + std::to_string(n) + " netns " + lan_ns() +
                                    " type veth peer name eth0 netns " + w,
                                "link add pod0 netns " + w + " type veth peer name eth0 netns " + p});
      !done) {
    return done;
  }
  const std::string lan_link = "w" + std::to_string(n);
  if (auto done = ip_batch(lan_ns(), {"link set " + lan_link + " master br0", "link set " + lan_link + " up"});
      !done) {
    return done;
  }
  const std::string gateway = "10.200." + std::to_string(n) + ".1";
  if (auto done = ip_batch(w, {"link set lo up", "addr add " + worker_ip(n) + "/24 dev eth0", "link set eth0 up",
                               "addr add " + gateway + "/24 dev pod0", "link set pod0 up"});
      !done) {
    return done;
  }
  if (auto done = ip_batch(p, {"link set lo up", "addr add " + pod_ip(n) + "/24 dev eth0", "link set eth0 up",
                               "route add 10.200.0.0/16 via " + gateway});
      !done) {
    return done;
  }
  if (auto echo = start_echo(n); !echo) return echo;
  if (auto node = create_node(worker_name(n), worker_ip(n), pod_cidr(n)); !node) return node;
  daemon_flags_[n] = std::move(daemon_flags);
  return start_daemon(n);
}

std::expected<void, std::string> LanWorld::start_daemon(int n) {
  daemons_.erase(n);
  std::string run = std::string("exec ") + KUBENAT_BINARY + " run --kubeconfig " + kubeconfig_.string() +
                    " --hostname-override " + worker_name(n) + " --iptables-sync-period 2s" +
                    " --iptables-min-sync-period 100ms --healthz-bind-address 127.0.0.1:" +
                    std::to_string(kHealthzPort) + " --metrics-bind-address 127.0.0.1:" +
                    std::to_string(kMetricsPort) + " -v 2";
  for (const std::string& flag : daemon_flags_[n]) run += " " + flag;
  run += " 2>>" + log_path(n).string();
  auto started = BackgroundProcess::start({"ip", "netns", "exec", worker_ns(n), "sh", "-c", run});
  if (!started) return std::unexpected(started.error());
  daemons_.emplace(n, std::move(*started));
  for (int i = 0; i < 100; ++i) {
    if (http(worker_ns(n), kHealthzPort, "/livez")) return {};
    std::this_thread::sleep_for(50ms);
  }
  return std::unexpected("kubenat run on " + worker_name(n) + " did not come up: " + daemon_log(n));
}

std::expected<void, std::string> LanWorld::create_node(const std::string& name, const std::string& internal_ip,
                                                     const std::string& cidr) {
  const fs::path body = directory_ / ("node-" + name + ".json");
  std::ofstream(body) << node_json(name, internal_ip, cidr);
  auto done = curl({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + body.string(),
                    api_url("/api/v1/nodes")});
  if (!done) return std::unexpected(done.error());
  return {};
}

std::expected<void, std::string> LanWorld::delete_node(const std::string& name) {
  auto done = curl({"-X", "DELETE", api_url("/api/v1/nodes/" + name)});
  if (!done) return std::unexpected(done.error());
  return {};
}

std::string LanWorld::connect(const std::string& from_ns, const std::string& ip, int port, int timeout_ms) {
  auto ran = run_process({"ip", "netns", "exec", from_ns, KUBENAT_E2E_PROBE, "tcp", ip, std::to_string(port), "--count",
                          "1", "--timeout-ms", std::to_string(timeout_ms)},
                         {.input = "", .timeout = 30s});
  if (!ran) return "probe failed: " + ran.error();
  std::string out = ran->out;
  if (out.starts_with("1 ")) out = out.substr(2);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string LanWorld::route_to(int n, const std::string& destination) {
  auto out = run_process({"ip", "-n", worker_ns(n), "route", "show", destination}, {.input = "", .timeout = 30s});
  std::string text = out && out->ok() ? out->out : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}
std::expected<std::string, std::string> LanWorld::ip_in_worker(int n, std::vector<std::string> args) {
  args.insert(args.begin(), {"ip", "-n", worker_ns(n)});
  auto ran = run_process(args, {.input = "", .timeout = 30s});
  if (!ran) return std::unexpected(ran.error());
  if (!ran->ok()) return std::unexpected(describe_command(args) + ": " + ran->err);
  return ran->out;
}

std::optional<double> LanWorld::metric(int n, const std::string& series) {
  auto text = http(worker_ns(n), kMetricsPort, "/metrics");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

std::string LanWorld::daemon_log(int n) const { return read_file(log_path(n)); }
std::string LanWorld::all_logs() const {
  std::string out;
  for (const auto& [n, flags] : daemon_flags_) out += "--- kubenat run on " + worker_name(n) + ":\n" + daemon_log(n);
  return out + "--- simulator:\n" + read_file(directory_ / "simulator.log");
}

LanWorld::LanWorld(int k)
    : prefix_("kn" + std::to_string(::getpid()) + "r" + std::to_string(k)),
      directory_(fs::temp_directory_path() / ("kubenat-e2e-routes-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(k))),
      kubeconfig_(directory_ / "kubeconfig") {}

std::expected<void, std::string> LanWorld::build() {
  fs::create_directories(directory_);
  namespaces_.push_back(lan_ns());
  auto made = ip_batch("", {"netns add " + lan_ns()});
  if (!made && made.error().find("File exists") != std::string::npos) {
    // Our pid and counter are in the name: a dead process with our pid
    // left it. Remove every namespace of that world and start again.
    std::vector<std::string> removal = {"netns del " + lan_ns()};
    for (int n = 1; n <= 9; ++n) removal.insert(removal.end(), {"netns del " + worker_ns(n), "netns del " + pod_ns(n)});
    (void)ip_batch("", removal, /*force=*/true);
    made = ip_batch("", {"netns add " + lan_ns()});
  }
  if (!made) return made;
  if (auto done = ip_batch(lan_ns(), {"link set lo up", "link add br0 type bridge", "link set br0 up",
                                      std::string("addr add ") + kApiAddress + "/24 dev br0"});
      !done) {
    return done;
  }
  const std::string sim = std::string("exec ") + KUBENAT_APISERVER_SIM_BINARY + " --listen " + kApiAddress + ":" +
                          std::to_string(kApiPort) + " --kubeconfig-out " + kubeconfig_.string() + " >" +
                          (directory_ / "simulator.log").string() + " 2>&1";
  auto started = BackgroundProcess::start({"ip", "netns", "exec", lan_ns(), "sh", "-c", sim});
  if (!started) return std::unexpected(started.error());
  simulator_ = std::move(*started);
  const bool listening = wait_until(
      [&] { return read_file(directory_ / "simulator.log").find("listening on") != std::string::npos; }, 5s);
  if (!listening) {
    return std::unexpected("the API server simulator did not start: " + read_file(directory_ / "simulator.log"));
  }
  return {};
}

std::expected<void, std::string> LanWorld::start_echo(int n) {
  const std::vector<std::string> argv = {"ip", "netns", "exec", pod_ns(n), KUBENAT_E2E_ECHO, "--name", pod_name(n),
                                         "--port", std::to_string(kEchoPort), "--tcp", "--exit-with-parent"};
  auto started = BackgroundProcess::start(argv);
  if (!started) return std::unexpected(started.error());
  echo_.emplace(n, std::move(*started));
  // Ready once it answers inside its own namespace.
  const bool up = wait_until(
      [&] {
        auto ran = run_process({"ip", "netns", "exec", pod_ns(n), KUBENAT_E2E_PROBE, "tcp", "127.0.0.1",
                                std::to_string(kEchoPort), "--timeout-ms", "200"},
                               {.input = "", .timeout = 30s});
        return ran && ran->out == "1 " + pod_name(n) + "\n";
      },
      5s);
  if (!up) return std::unexpected("the echo server of " + pod_name(n) + " did not answer");
  return {};
}

std::string LanWorld::api_url(const std::string& path) const {
  return "http://" + std::string(kApiAddress) + ":" + std::to_string(kApiPort) + path;
}

std::expected<std::string, std::string> LanWorld::curl(std::vector<std::string> args) {
  args.insert(args.begin(), {"ip", "netns", "exec", lan_ns(), "curl", "-sS", "--fail", "--max-time", "5"});
  auto ran = run_process(args, {.input = "", .timeout = 30s});
  if (!ran) return std::unexpected(ran.error());
  if (!ran->ok()) return std::unexpected(describe_command(args) + ": " + ran->err + ran->out);
  return ran->out;
}

std::expected<std::string, std::string> LanWorld::http(const std::string& ns, int port, const std::string& path) {
  auto ran = run_process({"ip", "netns", "exec", ns, "curl", "-sS", "--fail", "--max-time", "5",
                          "http://127.0.0.1:" + std::to_string(port) + path},
                         {.input = "", .timeout = 30s});
  if (!ran) return std::unexpected(ran.error());
  if (!ran->ok()) return std::unexpected(ran->err);
  return ran->out;
}

fs::path LanWorld::log_path(int n) const { return directory_ / ("kubenat-" + std::to_string(n) + ".log"); }

std::expected<void, std::string> LanWorld::seed(const std::string& json) {
  const fs::path body = directory_ / ("seed-" + std::to_string(seeded_++) + ".json");
  std::ofstream(body) << json;
  auto done = curl({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + body.string(),
                    api_url("/sim/seed")});
  if (!done) return std::unexpected(done.error());
  return {};
}

}  // namespace kubenat::e2e
