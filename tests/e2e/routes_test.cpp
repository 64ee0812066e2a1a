// Static-route mode end to end: workers on one LAN, each with a pod in its
// own pod CIDR, and `kubenat run --routes` on every worker against the API
// server simulator. Real connections between pods prove the routes:
//
//                         lan ns: bridge br0 10.240.0.1/24, the simulator on 10.240.0.1:6443
//            ┌──────────────────────────┼──────────────────────────┐
//   worker ns N: eth0 10.240.0.(10+N)/24, ip_forward, kubenat run --routes --hostname-override worker-N
//                pod0 10.200.N.1/24 ── pod ns N: eth0 10.200.N.10/24, 10.200.0.0/16 via 10.200.N.1
//
// The only way from a pod to another worker's pod is a route on the worker
// for that worker's pod CIDR, through its InternalIP: what kubenat programs
// from the Node objects (spec.podCIDRs, status.addresses). There is no
// default route anywhere, so a missing route is "unreachable" at once.
//
// Workers 1 and 2 run routes alone (--proxy-mode none); worker 3 runs routes
// together with the iptables proxy in one daemon.
//
// Names: "kn<pid>r<k>-lan", "-w<N>", "-p<N>" (k counts worlds in this
// process), which cleanup_stale_namespaces.sh recognises; everything is
// removed by the world's destructor, also when a test fails.

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "engine/process.h"
#include "tests/e2e/netns_world.h"

namespace kubenat::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr const char* kApiAddress = "10.240.0.1";
constexpr int kApiPort = 6443;
constexpr int kEchoPort = 8080;
constexpr int kMetricsPort = 10249;
constexpr int kHealthzPort = 10256;

std::atomic<int> g_next_world{0};

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool wait_until(const std::function<bool()>& done, steady::duration limit) {
  const auto deadline = steady::now() + limit;
  while (steady::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

// `ip [-n ns] -batch -`: one process per namespace's configuration.
std::expected<void, std::string> ip_batch(const std::string& ns, const std::vector<std::string>& lines,
                                          bool force = false) {
  std::vector<std::string> argv = {"ip"};
  if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
  if (force) argv.push_back("-force");
  argv.insert(argv.end(), {"-batch", "-"});
  std::string input;
  for (const std::string& line : lines) input += line + "\n";
  auto result = run_process(argv, {.input = input, .timeout = 60s});
  if (!result) return std::unexpected(result.error());
  if (!result->ok() && !force) {
    return std::unexpected("ip" + (ns.empty() ? std::string() : " -n " + ns) + " -batch: " + result->err);
  }
  return {};
}

std::string worker_name(int n) { return "worker-" + std::to_string(n); }
std::string worker_ip(int n) { return "10.240.0." + std::to_string(10 + n); }
std::string pod_cidr(int n) { return "10.200." + std::to_string(n) + ".0/24"; }
std::string pod_ip(int n) { return "10.200." + std::to_string(n) + ".10"; }
std::string pod_name(int n) { return "pod-" + std::to_string(n); }

std::string node_json(const std::string& name, const std::string& internal_ip, const std::string& cidr) {
  return R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": ")" + name +
         R"(", "labels": {"kubernetes.io/hostname": ")" + name + R"("}}, "spec": {"podCIDR": ")" + cidr +
         R"(", "podCIDRs": [")" + cidr + R"("]}, "status": {"addresses": [{"type": "InternalIP", "address": ")" +
         internal_ip + R"("}, {"type": "Hostname", "address": ")" + name + R"("}]}})";
}

class RouteWorld {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<RouteWorld>, std::string> create() {
    std::unique_ptr<RouteWorld> world(new RouteWorld(g_next_world++));
    if (auto built = world->build(); !built) return std::unexpected("building the route world: " + built.error());
    return world;
  }

  RouteWorld(const RouteWorld&) = delete;
  RouteWorld& operator=(const RouteWorld&) = delete;

  ~RouteWorld() {
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

  std::string lan_ns() const { return prefix_ + "-lan"; }
  std::string worker_ns(int n) const { return prefix_ + "-w" + std::to_string(n); }
  std::string pod_ns(int n) const { return prefix_ + "-p" + std::to_string(n); }

  // Worker N: its namespace on the LAN, its pod with an echo server, its
  // Node object on the simulator, and `kubenat run --routes` in it.
  [[nodiscard]] std::expected<void, std::string> add_worker(int n, std::vector<std::string> daemon_flags) {
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

  [[nodiscard]] std::expected<void, std::string> start_daemon(int n) {
    daemons_.erase(n);
    std::string run = std::string("exec ") + KUBENAT_BINARY + " run --kubeconfig " + kubeconfig_.string() +
                      " --hostname-override " + worker_name(n) + " --routes --iptables-sync-period 2s" +
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

  // A Node object on the simulator (no namespace behind it unless
  // add_worker made one).
  [[nodiscard]] std::expected<void, std::string> create_node(const std::string& name, const std::string& internal_ip,
                                                             const std::string& cidr) {
    const fs::path body = directory_ / ("node-" + name + ".json");
    std::ofstream(body) << node_json(name, internal_ip, cidr);
    auto done = curl({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + body.string(),
                      api_url("/api/v1/nodes")});
    if (!done) return std::unexpected(done.error());
    return {};
  }

  [[nodiscard]] std::expected<void, std::string> delete_node(const std::string& name) {
    auto done = curl({"-X", "DELETE", api_url("/api/v1/nodes/" + name)});
    if (!done) return std::unexpected(done.error());
    return {};
  }

  // One TCP connection from pod `from` to pod `to`: the answer's name, or
  // what the probe got instead ("unreachable", "timeout", ...).
  std::string probe(int from, int to) {
    auto ran = run_process({"ip", "netns", "exec", pod_ns(from), KUBENAT_E2E_PROBE, "tcp", pod_ip(to),
                            std::to_string(kEchoPort), "--count", "1", "--timeout-ms", "500"},
                           {.input = "", .timeout = 30s});
    if (!ran) return "probe failed: " + ran.error();
    std::string out = ran->out;
    if (out.starts_with("1 ")) out = out.substr(2);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  bool reaches(int from, int to) { return probe(from, to) == pod_name(to); }

  // `ip route show DESTINATION` in worker N's namespace, without trailing
  // blanks (iproute2 versions differ there); empty when there is none.
  std::string route_to(int n, const std::string& destination) {
    auto out = run_process({"ip", "-n", worker_ns(n), "route", "show", destination}, {.input = "", .timeout = 30s});
    std::string text = out && out->ok() ? out->out : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }
  [[nodiscard]] std::expected<std::string, std::string> ip_in_worker(int n, std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "-n", worker_ns(n)});
    auto ran = run_process(args, {.input = "", .timeout = 30s});
    if (!ran) return std::unexpected(ran.error());
    if (!ran->ok()) return std::unexpected(describe_command(args) + ": " + ran->err);
    return ran->out;
  }

  // One sample from worker N's /metrics.
  std::optional<double> metric(int n, const std::string& series) {
    auto text = http(worker_ns(n), kMetricsPort, "/metrics");
    if (!text) return std::nullopt;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return std::nullopt;
  }

  std::string daemon_log(int n) const { return read_file(log_path(n)); }
  std::string all_logs() const {
    std::string out;
    for (const auto& [n, flags] : daemon_flags_) out += "--- kubenat run on " + worker_name(n) + ":\n" + daemon_log(n);
    return out + "--- simulator:\n" + read_file(directory_ / "simulator.log");
  }

 private:
  explicit RouteWorld(int k)
      : prefix_("kn" + std::to_string(::getpid()) + "r" + std::to_string(k)),
        directory_(fs::temp_directory_path() / ("kubenat-e2e-routes-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(k))),
        kubeconfig_(directory_ / "kubeconfig") {}

  std::expected<void, std::string> build() {
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

  std::expected<void, std::string> start_echo(int n) {
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

  std::string api_url(const std::string& path) const {
    return "http://" + std::string(kApiAddress) + ":" + std::to_string(kApiPort) + path;
  }

  std::expected<std::string, std::string> curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "netns", "exec", lan_ns(), "curl", "-sS", "--fail", "--max-time", "5"});
    auto ran = run_process(args, {.input = "", .timeout = 30s});
    if (!ran) return std::unexpected(ran.error());
    if (!ran->ok()) return std::unexpected(describe_command(args) + ": " + ran->err + ran->out);
    return ran->out;
  }

  std::expected<std::string, std::string> http(const std::string& ns, int port, const std::string& path) {
    auto ran = run_process({"ip", "netns", "exec", ns, "curl", "-sS", "--fail", "--max-time", "5",
                            "http://127.0.0.1:" + std::to_string(port) + path},
                           {.input = "", .timeout = 30s});
    if (!ran) return std::unexpected(ran.error());
    if (!ran->ok()) return std::unexpected(ran->err);
    return ran->out;
  }

  fs::path log_path(int n) const { return directory_ / ("kubenat-" + std::to_string(n) + ".log"); }

  std::string prefix_;
  fs::path directory_;
  fs::path kubeconfig_;
  std::vector<std::string> namespaces_;
  std::optional<BackgroundProcess> simulator_;
  std::map<int, BackgroundProcess> echo_;
  std::map<int, BackgroundProcess> daemons_;
  std::map<int, std::vector<std::string>> daemon_flags_;
};

const std::vector<std::string> kRoutesOnly = {"--proxy-mode", "none"};
const std::vector<std::string> kRoutesAndProxy = {"--cluster-cidr", "10.200.0.0/16"};

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto world = RouteWorld::create();
    ASSERT_TRUE(world) << world.error();
    w_ = std::move(*world);
    for (int n = 1; n <= 3; ++n) {
      auto added = w_->add_worker(n, n == 3 ? kRoutesAndProxy : kRoutesOnly);
      ASSERT_TRUE(added) << added.error() << "\n" << w_->all_logs();
    }
  }
  void TearDown() override {
    if (w_ && HasFailure()) std::cerr << w_->all_logs();
  }

  // Every pod of `workers` reaches every other one, within `limit`.
  void expect_full_mesh(const std::vector<int>& workers, steady::duration limit = 5s) {
    for (int from : workers) {
      for (int to : workers) {
        if (from == to) continue;
        EXPECT_TRUE(wait_until([&] { return w_->reaches(from, to); }, limit))
            << "pod on worker-" << from << " cannot reach the pod on worker-" << to << ": " << w_->probe(from, to)
            << "\nworker-" << from << "'s route: " << w_->route_to(from, pod_cidr(to));
      }
    }
  }

  std::unique_ptr<RouteWorld> w_;
};

TEST_F(RoutesTest, APodReachesPodsOnEveryOtherWorkerByTheirPodIps) {
  expect_full_mesh({1, 2, 3});
  EXPECT_EQ(w_->route_to(1, pod_cidr(2)), "10.200.2.0/24 via 10.240.0.12 dev eth0 proto 214");
  EXPECT_EQ(w_->route_to(1, pod_cidr(3)), "10.200.3.0/24 via 10.240.0.13 dev eth0 proto 214");
  EXPECT_EQ(w_->route_to(1, pod_cidr(1)), "10.200.1.0/24 dev pod0 proto kernel scope link src 10.200.1.1");
  EXPECT_TRUE(wait_until([&] { return w_->metric(1, "kubenat_routes") == 2.0; }, 5s));
  EXPECT_EQ(w_->metric(1, "kubenat_route_skipped_nodes"), 0.0);
}

TEST_F(RoutesTest, AFourthWorkerBecomesReachableWithoutTouchingTheOthers) {
  expect_full_mesh({1, 2, 3});
  auto added = w_->add_worker(4, kRoutesOnly);
  ASSERT_TRUE(added) << added.error();
  expect_full_mesh({1, 2, 3, 4});
  EXPECT_TRUE(wait_until([&] { return w_->metric(2, "kubenat_routes") == 3.0; }, 5s));
}

TEST_F(RoutesTest, DeletingANodeRemovesItsRoute) {
  expect_full_mesh({1, 2, 3});
  ASSERT_TRUE(w_->delete_node(worker_name(3)));
  for (int n : {1, 2}) {
    EXPECT_TRUE(wait_until([&] { return w_->route_to(n, pod_cidr(3)).empty(); }, 5s))
        << "worker-" << n << " still routes worker-3's pods: " << w_->route_to(n, pod_cidr(3));
  }
  EXPECT_EQ(w_->probe(1, 3), "unreachable");
  // The others are not disturbed.
  EXPECT_TRUE(w_->reaches(1, 2));
  EXPECT_TRUE(w_->reaches(2, 1));
}

TEST_F(RoutesTest, ARouteDeletedByHandComesBackAtTheNextSync) {
  expect_full_mesh({1, 2, 3});
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "del", pod_cidr(2)}));
  ASSERT_TRUE(w_->route_to(1, pod_cidr(2)).empty());
  // The sync period is 2 s: the periodic sync finds it missing.
  EXPECT_TRUE(wait_until([&] { return !w_->route_to(1, pod_cidr(2)).empty(); }, 5s));
  EXPECT_TRUE(wait_until([&] { return w_->reaches(1, 2); }, 2s)) << w_->probe(1, 2);
}

TEST_F(RoutesTest, StaleRoutesOfOursGoWhileOtherRoutesStayAndConflictsAreReported) {
  expect_full_mesh({1, 2, 3});
  // A route of our protocol for a node long gone (as an earlier run would
  // leave it), another daemon's route, and another protocol's route to a
  // pod CIDR kubenat is about to plan.
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "add", "10.200.99.0/24", "via", "10.240.0.12", "proto", "214"}));
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "add", "10.200.98.0/24", "via", "10.240.0.12", "proto", "bird"}));
  ASSERT_TRUE(w_->ip_in_worker(1, {"route", "add", pod_cidr(5), "via", "10.240.0.13", "proto", "static"}));
  // worker-5 has a Node but no namespace; worker-6 is on another network.
  ASSERT_TRUE(w_->create_node(worker_name(5), worker_ip(5), pod_cidr(5)));
  ASSERT_TRUE(w_->create_node(worker_name(6), "10.9.0.6", pod_cidr(6)));

  EXPECT_TRUE(wait_until([&] { return w_->route_to(1, "10.200.99.0/24").empty(); }, 5s));
  EXPECT_EQ(w_->route_to(1, "10.200.98.0/24"), "10.200.98.0/24 via 10.240.0.12 dev eth0 proto bird");
  // worker-1 leaves the static route alone and says so; worker-2 routes it.
  EXPECT_TRUE(wait_until([&] { return !w_->route_to(2, pod_cidr(5)).empty(); }, 5s));
  EXPECT_EQ(w_->route_to(2, pod_cidr(5)), "10.200.5.0/24 via 10.240.0.15 dev eth0 proto 214");
  EXPECT_EQ(w_->route_to(1, pod_cidr(5)), "10.200.5.0/24 via 10.240.0.13 dev eth0 proto static");
  EXPECT_TRUE(wait_until(
      [&] { return w_->daemon_log(1).find("route 10.200.5.0/24 via 10.240.0.15 (node worker-5) not programmed") !=
                   std::string::npos; },
      5s));
  // worker-6 cannot be reached directly: no route, a warning and the metric.
  EXPECT_TRUE(wait_until([&] { return w_->metric(1, "kubenat_route_skipped_nodes") == 1.0; }, 5s));
  EXPECT_NE(w_->daemon_log(1).find("Node worker-6: InternalIP 10.9.0.6 is not on a directly connected subnet; no "
                                   "route to its pod CIDR 10.200.6.0/24"),
            std::string::npos);
  EXPECT_TRUE(w_->route_to(1, pod_cidr(6)).empty());
  EXPECT_TRUE(wait_until([&] { return w_->metric(2, "kubenat_routes") == 3.0; }, 5s));
}

TEST_F(RoutesTest, ARestartedDaemonAdoptsItsRoutes) {
  expect_full_mesh({1, 2, 3});
  const std::size_t before = w_->daemon_log(1).size();
  ASSERT_TRUE(w_->start_daemon(1));
  // The restarted daemon's first route sync finds every route in place.
  std::string first_sync;
  EXPECT_TRUE(wait_until(
      [&] {
        const std::string log = w_->daemon_log(1).substr(before);
        const std::size_t at = log.find("routes: ");
        if (at == std::string::npos) return false;
        first_sync = log.substr(at, log.find('\n', at) - at);
        return true;
      },
      5s));
  EXPECT_EQ(first_sync, "routes: 0 added, 0 replaced, 0 deleted; 2 programmed, 0 in conflict, 0 nodes skipped");
  EXPECT_TRUE(w_->reaches(1, 2));
  EXPECT_TRUE(w_->reaches(2, 1));
}

}  // namespace
}  // namespace kubenat::e2e
