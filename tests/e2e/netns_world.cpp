#include "tests/e2e/netns_world.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <thread>

#ifndef KUBENAT_E2E_ECHO
#error "KUBENAT_E2E_ECHO must name the kubenat_e2e_echo binary"
#endif
#ifndef KUBENAT_E2E_PROBE
#error "KUBENAT_E2E_PROBE must name the kubenat_e2e_probe binary"
#endif

namespace kubenat::e2e {
namespace {

std::atomic<int> g_next_world{0};

// The sysctls of every namespace: no reverse-path filter (after the node's
// NAT, replies need not come back the way requests left), and no ICMP
// rate limit (an ICMP type outside icmp_ratemask is never limited, neither
// per destination nor by the global icmp_msgs_per_sec; for ICMPv6 the
// per-destination limit also needs ratelimit=0), so that a probe of 1000
// attempts to a closed UDP port sees 1000 refusals.
// IPv6 as a static network needs it: without duplicate address detection an
// address works at once (a tentative link-local address would even stop the
// node from sending neighbour solicitations for the packets it forwards), and
// nothing learned from routers changes the routes under test.
const std::vector<std::string> kCommonSysctls = {
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.icmp_ratemask=0",
    "net.ipv6.conf.all.disable_ipv6=0",
    "net.ipv6.conf.default.disable_ipv6=0",
    "net.ipv6.icmp.ratemask=",
    "net.ipv6.icmp.ratelimit=0",
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.all.accept_ra=0",
    "net.ipv6.conf.default.accept_ra=0",
    "net.ipv6.conf.all.router_solicitations=0",
    "net.ipv6.conf.default.router_solicitations=0",
    "net.ipv6.conf.all.accept_redirects=0",
    "net.ipv6.conf.default.accept_redirects=0",
};
const std::vector<std::string> kNodeSysctls = {
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.conf.all.route_localnet=1",
    "net.ipv4.conf.default.route_localnet=1",
    // Untranslated service traffic from the client goes back out the link it
    // came in on; no ICMP redirects about that.
    "net.ipv4.conf.all.send_redirects=0",
    "net.ipv4.conf.default.send_redirects=0",
};
// The client is also the node's "upstream router": it forwards only to
// reject (see kUpstreamRuleset), and accept_local lets its own packets in when
// the node sends them back.
const std::vector<std::string> kClientSysctls = {
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.conf.all.accept_local=1",
};
// What the upstream router does with service and load-balancer traffic the
// node did not translate: ICMP net unreachable (ICMPv6 no route), at once and
// for every packet, so that "no rule matched" is fast and recognisable.
constexpr std::string_view kUpstreamRuleset = R"(table inet kubenat_e2e_upstream {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ip daddr { 10.96.0.0/12, 203.0.113.0/24 } reject with icmp type net-unreachable
    ip6 daddr { fd00:96::/108, fd00:203::/64 } reject with icmpv6 type no-route
  }
}
)";

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

// Parses the probe's "<count> <result>" lines.
std::expected<ProbeResult, std::string> parse_probe_output(const std::string& text) {
  ProbeResult result;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t space = line.find(' ');
    int count = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + (space == std::string::npos ? 0 : space), count);
    if (space == std::string::npos || ec != std::errc() || end != line.data() + space || count <= 0) {
      return std::unexpected("unexpected probe output line: '" + line + "'");
    }
    const std::string what = line.substr(space + 1);
    if (what == "refused") {
      result.refused += count;
    } else if (what == "unreachable") {
      result.unreachable += count;
    } else if (what == "timeout") {
      result.timeouts += count;
    } else if (what == "reset" || what == "closed" || what.starts_with("error-")) {
      result.other[what] += count;
    } else {
      result.answers[what] += count;
    }
  }
  return result;
}

}  // namespace

int ProbeResult::answered() const {
  int sum = 0;
  for (const auto& [name, count] : answers) sum += count;
  return sum;
}

int ProbeResult::total() const {
  int sum = answered() + refused + unreachable + timeouts;
  for (const auto& [what, count] : other) sum += count;
  return sum;
}

std::string ProbeResult::to_string() const {
  std::map<std::string, int> all = answers;
  for (const auto& [what, count] : other) all[what] += count;
  if (refused > 0) all["refused"] += refused;
  if (unreachable > 0) all["unreachable"] += unreachable;
  if (timeouts > 0) all["timeout"] += timeouts;
  std::string out;
  for (const auto& [what, count] : all) out += std::to_string(count) + " " + what + "\n";
  return out.empty() ? "(no attempts)\n" : out;
}

std::ostream& operator<<(std::ostream& out, const ProbeResult& result) {
  return out << "probe results:\n" << result.to_string();
}

NetnsWorld::NetnsWorld(std::string prefix, int pods)
    : prefix_(std::move(prefix)), node_ns_(prefix_ + "-node"), client_ns_(prefix_ + "-client") {
  for (int i = 0; i < pods; ++i) pod_ns_.push_back(prefix_ + "-pod" + std::to_string(i));
}

std::expected<std::unique_ptr<NetnsWorld>, std::string> NetnsWorld::create(int pods) {
  if (pods < 0 || pods > kMaxPods) {
    return std::unexpected("NetnsWorld: " + std::to_string(pods) + " pods; at most " + std::to_string(kMaxPods));
  }
  const std::string prefix = "kn" + std::to_string(::getpid()) + "w" + std::to_string(g_next_world++);
  // From here on the destructor deletes whatever part of the world exists.
  std::unique_ptr<NetnsWorld> world(new NetnsWorld(prefix, pods));
  if (auto built = world->build(); !built) return std::unexpected("building network namespace world: " + built.error());
  return world;
}

std::vector<std::string> NetnsWorld::namespaces() const {
  std::vector<std::string> all = {node_ns_, client_ns_};
  all.insert(all.end(), pod_ns_.begin(), pod_ns_.end());
  return all;
}

std::expected<void, std::string> NetnsWorld::build() {
  // 1. From the caller's namespace: the namespaces, their sysctls (before any
  // link exists, so that links inherit the "default" values), and the veth
  // pairs, each end created directly in its namespace.
  std::vector<std::string> root;
  std::vector<std::string> removal;
  for (const std::string& ns : namespaces()) {
    root.push_back("netns add " + ns);
    removal.push_back("netns del " + ns);
  }
  for (const std::string& ns : namespaces()) {
    std::string line = "netns exec " + ns + " sysctl -q -w " + join(kCommonSysctls);
    if (ns == node_ns_) line += " " + join(kNodeSysctls);
    if (ns == client_ns_) line += " " + join(kClientSysctls);
    root.push_back(line);
  }
  // The client's eth0 gets index 3 while its peer, the first link in the
  // node, gets 2: the kernel passes a veth's carrier change on at once only
  // when the two ends' indexes differ (linkwatch_urgent_event), otherwise up
  // to a second later, and until then IPv6 on the link neither answers nor
  // sends neighbour solicitations. (Pod ends are 2, node ends 3 and up.)
  root.push_back("link add eth0 index 3 netns " + client_ns_ + " type veth peer name " + client_link() + " netns " +
                 node_ns_);
  for (int i = 0; i < pods(); ++i) {
    root.push_back("link add " + pod_link(i) + " netns " + node_ns_ + " type veth peer name eth0 netns " + pod_ns(i));
  }
  auto made = ip_batch("", root);
  if (!made && made.error().find("File exists") != std::string::npos) {
    // Our names embed our pid and a counter of this process, so existing
    // namespaces of the same name are leftovers of a dead process that had
    // the same pid: remove them and try once more.
    (void)ip_batch("", removal, /*force=*/true);
    made = ip_batch("", root);
  }
  if (!made) return made;

  // 2. The node: links up, addresses, routes to each pod over its veth, and
  // routes for service and external addresses towards the client, standing
  // in for a real node's default route. They must be unicast routes: a
  // packet must get past the routing decision to reach the FORWARD and OUTPUT
  // hooks, where kube-proxy's filter rules (REJECT for services without
  // endpoints) sit. An "unreachable" route would answer first, and the kernel
  // limits those answers to 5 at once per source (a global sysctl).
  std::vector<std::string> node = {
      "link set lo up",
      "addr add " + std::string(kNodeIp) + "/24 dev " + client_link(),
      "addr add " + std::string(kNodeIp6) + "/64 dev " + client_link() + " nodad",
      "link set " + client_link() + " up",
  };
  for (int i = 0; i < pods(); ++i) {
    node.push_back("addr add " + std::string(kPodGateway) + "/32 dev " + pod_link(i));
    node.push_back("addr add " + std::string(kPodGateway6) + "/128 dev " + pod_link(i) + " nodad");
    node.push_back("link set " + pod_link(i) + " up");
    node.push_back("route add " + pod_ip(i) + "/32 dev " + pod_link(i));
    node.push_back("route add " + pod_ip6(i) + "/128 dev " + pod_link(i));
  }
  for (const char* cidr : {kServiceCidr, kExternalCidr}) {
    node.push_back("route add " + std::string(cidr) + " via " + kClientIp);
  }
  for (const char* cidr : {kServiceCidr6, kExternalCidr6}) {
    node.push_back("route add " + std::string(cidr) + " via " + kClientIp6);
  }
  if (auto done = ip_batch(node_ns_, node); !done) return done;

  // 3. The client and the pods, after the node so that their gateways are
  // on links that are up.
  const std::vector<std::string> client = {
      "link set lo up",
      "addr add " + std::string(kClientIp) + "/24 dev eth0",
      "addr add " + std::string(kClientIp6) + "/64 dev eth0 nodad",
      "link set eth0 up",
      "route add " + std::string(kPodCidr) + " via " + kNodeIp,
      "route add " + std::string(kServiceCidr) + " via " + kNodeIp,
      "route add " + std::string(kExternalCidr) + " via " + kNodeIp,
      "route add " + std::string(kPodCidr6) + " via " + kNodeIp6,
      "route add " + std::string(kServiceCidr6) + " via " + kNodeIp6,
      "route add " + std::string(kExternalCidr6) + " via " + kNodeIp6,
  };
  if (auto done = ip_batch(client_ns_, client); !done) return done;
  const ProcessOptions ruleset{.input = std::string(kUpstreamRuleset), .timeout = std::chrono::seconds(60)};
  if (auto done = exec_checked(client_ns_, {"nft", "-f", "-"}, ruleset); !done) return std::unexpected(done.error());
  for (int i = 0; i < pods(); ++i) {
    const std::vector<std::string> pod = {
        "link set lo up",
        "addr add " + pod_ip(i) + "/32 dev eth0",
        "addr add " + pod_ip6(i) + "/128 dev eth0 nodad",
        "link set eth0 up",
        "route add " + std::string(kPodGateway) + " dev eth0 scope link",
        "route add " + std::string(kPodCidr) + " via " + kPodGateway + " dev eth0",
        "route add " + std::string(kServiceCidr) + " via " + kPodGateway + " dev eth0",
        "route add " + std::string(kClientCidr) + " via " + kPodGateway + " dev eth0",
        "route add " + std::string(kExternalCidr) + " via " + kPodGateway + " dev eth0",
        "route add " + std::string(kPodGateway6) + " dev eth0",
        "route add " + std::string(kPodCidr6) + " via " + kPodGateway6 + " dev eth0",
        "route add " + std::string(kServiceCidr6) + " via " + kPodGateway6 + " dev eth0",
        "route add " + std::string(kClientCidr6) + " via " + kPodGateway6 + " dev eth0",
        "route add " + std::string(kExternalCidr6) + " via " + kPodGateway6 + " dev eth0",
    };
    if (auto done = ip_batch(pod_ns(i), pod); !done) return done;
  }
  return {};
}

NetnsWorld::~NetnsWorld() {
  // Servers first: a namespace with a process in it would outlive its name.
  // All are told at once, so that they exit together rather than one per
  // BackgroundProcess::stop() poll.
  for (auto& [where, server] : echo_) ::kill(server.pid(), SIGTERM);
  echo_.clear();
  std::vector<std::string> removal;
  for (const std::string& ns : namespaces()) removal.push_back("netns del " + ns);
  // -force: a partly built world lacks some of them.
  (void)ip_batch("", removal, /*force=*/true);
}

std::string NetnsWorld::pod_ip(int pod) const { return "10.200.1." + std::to_string(10 + pod); }

std::string NetnsWorld::pod_ip6(int pod) const { return "fd00:200:0:1::" + std::to_string(10 + pod); }

std::string NetnsWorld::pod_ip(int pod, IpFamily family) const {
  return family == IpFamily::V4 ? pod_ip(pod) : pod_ip6(pod);
}

std::string NetnsWorld::pod_name(int pod) const { return "pod-" + std::to_string(pod); }

std::string NetnsWorld::pod_link(int pod) const { return "veth" + std::to_string(pod); }

std::expected<void, std::string> NetnsWorld::start_echo(const std::string& ns, const std::string& name, int port) {
  const auto key = std::make_pair(ns, port);
  if (echo_.contains(key)) return std::unexpected("an echo server already runs in " + ns + " on port " + std::to_string(port));
  const std::vector<std::string> argv = {"ip",   "netns",          "exec", ns, KUBENAT_E2E_ECHO, "--name", name, "--port",
                                         std::to_string(port), "--exit-with-parent"};
  auto started = BackgroundProcess::start(argv);
  if (!started) return std::unexpected(started.error());
  // Ready when it answers; a server that cannot bind exits, which ends the wait.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string last = "no answer yet";
  while (std::chrono::steady_clock::now() < deadline) {
    if (!started->running()) {
      return std::unexpected(describe_command(argv) + " exited with status " + std::to_string(started->stop()));
    }
    auto answer = probe("tcp", ns, "127.0.0.1", port, {.count = 1, .timeout_ms = 200});
    if (answer && answer->answers.contains(name) && started->running()) {
      echo_.emplace(key, std::move(*started));
      return {};
    }
    last = answer ? answer->to_string() : answer.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::unexpected(describe_command(argv) + " did not answer on 127.0.0.1:" + std::to_string(port) +
                         " within 5 s; last probe: " + last);
}

std::expected<void, std::string> NetnsWorld::start_echo(int pod, int port) {
  return start_echo(pod_ns(pod), pod_name(pod), port);
}

void NetnsWorld::stop_echo(const std::string& ns, int port) { echo_.erase(std::make_pair(ns, port)); }

void NetnsWorld::stop_echo(int pod, int port) { stop_echo(pod_ns(pod), port); }

std::expected<ProcessResult, std::string> NetnsWorld::exec(const std::string& ns, std::vector<std::string> argv,
                                                           const ProcessOptions& options) const {
  argv.insert(argv.begin(), {"ip", "netns", "exec", ns});
  return run_process(argv, options);
}

std::expected<std::string, std::string> NetnsWorld::exec_checked(const std::string& ns, std::vector<std::string> argv,
                                                                 const ProcessOptions& options) const {
  const std::string command = describe_command(argv);
  auto result = exec(ns, std::move(argv), options);
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) {
    return std::unexpected(command + " in " + ns + " exited with status " + std::to_string(result->exit_status) +
                           ": " + result->err);
  }
  return std::move(result->out);
}

std::expected<ProbeResult, std::string> NetnsWorld::probe(const std::string& protocol, const std::string& from_ns,
                                                          const std::string& ip, int port,
                                                          const ProbeOptions& options) const {
  std::vector<std::string> argv = {KUBENAT_E2E_PROBE, protocol,     ip,           std::to_string(port), "--count",
                                   std::to_string(options.count), "--timeout-ms", std::to_string(options.timeout_ms)};
  if (options.source_port != 0) argv.insert(argv.end(), {"--source-port", std::to_string(options.source_port)});
  if (options.interval_ms != 0) argv.insert(argv.end(), {"--interval-ms", std::to_string(options.interval_ms)});
  // The probe bounds every attempt itself; this only catches a hung probe.
  const long long budget_ms = static_cast<long long>(options.count) * (options.timeout_ms + options.interval_ms) + 30'000;
  const std::string command = describe_command(argv);
  auto ran = exec(from_ns, std::move(argv), {.input = "", .timeout = std::chrono::milliseconds(budget_ms)});
  if (!ran) return std::unexpected(ran.error());
  if (!ran->ok()) {
    return std::unexpected(command + " in " + from_ns + " exited with status " + std::to_string(ran->exit_status) +
                           ": " + ran->err);
  }
  auto parsed = parse_probe_output(ran->out);
  if (!parsed) return std::unexpected(command + ": " + parsed.error());
  if (parsed->total() != options.count) {
    return std::unexpected(command + ": " + std::to_string(parsed->total()) + " results for " +
                           std::to_string(options.count) + " attempts:\n" + ran->out);
  }
  return parsed;
}

std::expected<ProbeResult, std::string> NetnsWorld::tcp(const std::string& from_ns, const std::string& ip, int port,
                                                        const ProbeOptions& options) const {
  return probe("tcp", from_ns, ip, port, options);
}

std::expected<ProbeResult, std::string> NetnsWorld::udp(const std::string& from_ns, const std::string& ip, int port,
                                                        const ProbeOptions& options) const {
  return probe("udp", from_ns, ip, port, options);
}

std::expected<void, std::string> ip_batch(const std::string& ns, const std::vector<std::string>& lines,
                                          bool force) {
  std::vector<std::string> argv = {"ip"};
  if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
  if (force) argv.push_back("-force");
  argv.insert(argv.end(), {"-batch", "-"});
  std::string input;
  for (const std::string& line : lines) input += line + "\n";
  auto result = run_process(argv, {.input = input, .timeout = std::chrono::seconds(60)});
  if (!result) return std::unexpected(result.error());
  if (result->ok() || force) return {};
  std::string failed = "?";
  constexpr std::string_view kMarker = "Command failed -:";
  if (const std::size_t at = result->err.find(kMarker); at != std::string::npos) {
    std::size_t line = 0;
    const char* begin = result->err.data() + at + kMarker.size();
    std::from_chars(begin, result->err.data() + result->err.size(), line);
    if (line >= 1 && line <= lines.size()) failed = lines[line - 1];
  }
  std::string where = ns.empty() ? "" : " (in namespace " + ns + ")";
  return std::unexpected("ip" + where + " " + failed + ": " + result->err);
}

bool wait_until(const std::function<bool()>& done, std::chrono::steady_clock::duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

bool can_build_worlds() {
  static const bool can = [] {
    if (::geteuid() != 0) return false;
    auto listed = run_process({"ip", "netns", "list"}, {.input = "", .timeout = std::chrono::seconds(10)});
    return listed && listed->ok();
  }();
  return can;
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

}  // namespace kubenat::e2e
