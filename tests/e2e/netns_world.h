#pragma once

// A small routed cluster in network namespaces, in which real packets prove
// kubenat's NAT rules. One NetnsWorld is one worker node with its pods and an
// outside client, dual-stack: every namespace has IPv4 and IPv6 addresses and
// routes, the same shape in both families.
//
//        client ns                    node ns                     pod ns (i = 0..N-1)
//   eth0 192.168.50.2/24 ── client0 192.168.50.1/24
//        fd00:50::2/64                fd00:50::1/64
//                                     veth<i> 10.200.1.1/32 ──── eth0 10.200.1.(10+i)/32
//                                             fd00:200:0:1::1/128     fd00:200:0:1::(10+i)/128
//
// The node's pods take fd00:200:0:1::/64 of the cluster's fd00:200::/48, as a
// node gets a /64 of the cluster CIDR; a pod's IPv6 address ends in the same
// decimal digits as its IPv4 one (pod 2 is 10.200.1.12 and fd00:200:0:1::12,
// read as hex by the kernel): easy to read, and still canonical text (RFC
// 5952), as the kernel and the rule listings print it.
//
// Routed, Calico style, no bridge: every packet between client, pods and
// services crosses the node namespace's netfilter hooks, where the rules under
// test go (`exec(node_ns(), {"iptables-restore", ...})`, ip6tables-restore
// for IPv6).
//
// Routes (no default route anywhere), IPv4 / IPv6:
// - pod i: 10.200.1.1 dev eth0 scope link; 10.200.0.0/16, 10.96.0.0/12,
//   192.168.50.0/24 and 203.0.113.0/24 via 10.200.1.1.
//   fd00:200:0:1::1 dev eth0; fd00:200::/48, fd00:96::/108, fd00:50::/64 and
//   fd00:203::/64 via fd00:200:0:1::1.
// - client: 10.200.0.0/16, 10.96.0.0/12 and 203.0.113.0/24 via 192.168.50.1;
//   fd00:200::/48, fd00:96::/108 and fd00:203::/64 via fd00:50::1.
// - node: 10.200.1.(10+i)/32 and fd00:200:0:1::(10+i)/128 dev veth<i>;
//   192.168.50.0/24 and fd00:50::/64 on client0; 10.96.0.0/12 and
//   203.0.113.0/24 via 192.168.50.2, fd00:96::/108 and fd00:203::/64 via
//   fd00:50::2, standing in for a real node's default route.
// The node's service routes must be ordinary unicast routes: only a packet
// that gets past the routing decision reaches the FORWARD and OUTPUT hooks,
// where kube-proxy's filter rules sit (an "unreachable" route there would
// answer before kube-proxy's REJECT for a service without endpoints could).
// The client plays the node's upstream router too: it forwards nothing
// (policy drop) but rejects packets for 10.96.0.0/12 and 203.0.113.0/24 with
// ICMP net unreachable, and packets for fd00:96::/108 and fd00:203::/64 with
// ICMPv6 no route (nft table "inet kubenat_e2e_upstream" in the client
// namespace). So traffic that no rule translates is "unreachable", at once,
// for every attempt and from everywhere (client, pods, node); "refused" means
// a REJECT rule or a closed port; "timeout" means dropped.
//
// Sysctls: in every namespace rp_filter 0 (all and default), no ICMP rate
// limit (net.ipv4.icmp_ratemask=0, net.ipv6.icmp.ratemask empty and
// net.ipv6.icmp.ratelimit=0), so that 1000 attempts at a closed port, a
// REJECT rule or an untranslated address get 1000 ICMP answers; no IPv6
// duplicate address detection (accept_dad=0, and `nodad` on every address),
// so addresses work at once; no router advertisements, solicitations or
// redirects taken. In the node ip_forward=1 and IPv6 forwarding=1,
// route_localnet=1 (kube-proxy sets it for localhost NodePorts) and
// send_redirects=0; in the client ip_forward=1, IPv6 forwarding=1 and
// accept_local=1 (for its upstream role). One limit remains that no namespace
// can lift: ICMP errors for packets that hit an IPv4 "unreachable" route come
// at most 5 at once per source address, then 1 per second
// (net.ipv4.route.error_burst/error_cost, global), so tests should not add
// such routes and count on "unreachable" beyond 5 attempts. (IPv6
// "unreachable" routes answer through the ICMPv6 limits above, lifted.)
//
// Names: every namespace is "kn<pid>w<k>-<role>" (k counts worlds within the
// process), so worlds of one process or of several coexist, and
// cleanup_stale_namespaces.sh can find those of dead processes. Links are
// created directly inside the namespaces and never exist in the caller's
// namespace, so their names need not be unique.

#include <gtest/gtest.h>

#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "engine/process.h"
#include "rules/ip.h"

namespace kubenat::e2e {

// What a series of probe attempts got: each attempt counts once.
struct ProbeResult {
  std::map<std::string, int> answers;  // echo server name -> attempts it answered
  int refused = 0;                     // TCP reset or ICMP port unreachable
  int unreachable = 0;                 // ICMP net/host/protocol unreachable or prohibited, or no local route
  int timeouts = 0;                    // nothing within the timeout
  std::map<std::string, int> other;    // "reset", "closed", "error-<ERRNO>": the probe's other results

  int total() const;     // all attempts
  int answered() const;  // the attempts some server answered
  // The probe's own output: one "<count> <result>" line per result, sorted.
  std::string to_string() const;
};
// For GoogleTest messages: `EXPECT_EQ(r.answered(), 10) << r;`.
std::ostream& operator<<(std::ostream& out, const ProbeResult& result);

struct ProbeOptions {
  int count = 1;          // attempts, one after the other
  int timeout_ms = 1000;  // per attempt, for connect and answer together
  int source_port = 0;    // UDP only: send every datagram from this port (one conntrack flow)
  int interval_ms = 0;    // pause between attempts
};

class NetnsWorld {
 public:
  static constexpr const char* kNodeIp = "192.168.50.1";       // the node's address on the client link
  static constexpr const char* kClientIp = "192.168.50.2";     // the client, outside the cluster
  static constexpr const char* kClientCidr = "192.168.50.0/24";
  static constexpr const char* kPodGateway = "10.200.1.1";     // on every veth<i> in the node
  static constexpr const char* kPodCidr = "10.200.0.0/16";     // the cluster CIDR
  static constexpr const char* kServiceCidr = "10.96.0.0/12";  // where ClusterIPs go
  static constexpr const char* kExternalCidr = "203.0.113.0/24";  // for load-balancer and external IPs
  static constexpr int kMaxPods = 245;                             // pod IPs end at 10.200.1.254
  // The same roles in IPv6.
  static constexpr const char* kNodeIp6 = "fd00:50::1";
  static constexpr const char* kClientIp6 = "fd00:50::2";
  static constexpr const char* kClientCidr6 = "fd00:50::/64";
  static constexpr const char* kPodGateway6 = "fd00:200:0:1::1";
  static constexpr const char* kPodCidr6 = "fd00:200::/48";
  static constexpr const char* kServiceCidr6 = "fd00:96::/108";
  static constexpr const char* kExternalCidr6 = "fd00:203::/64";

  // The role's address (or range) in `family`: kNodeIp or kNodeIp6, ...
  static const char* node_ip(IpFamily family) { return family == IpFamily::V4 ? kNodeIp : kNodeIp6; }
  static const char* client_ip(IpFamily family) { return family == IpFamily::V4 ? kClientIp : kClientIp6; }
  static const char* pod_cidr(IpFamily family) { return family == IpFamily::V4 ? kPodCidr : kPodCidr6; }
  static const char* service_cidr(IpFamily family) { return family == IpFamily::V4 ? kServiceCidr : kServiceCidr6; }
  static const char* external_cidr(IpFamily family) {
    return family == IpFamily::V4 ? kExternalCidr : kExternalCidr6;
  }

  // Builds a world with `pods` pod namespaces (0..kMaxPods). The node
  // namespace starts without any netfilter rule: all of them are the test's.
  // The error names the step that failed (the command and its stderr); a
  // partly built world is torn down before it returns. Leftover namespaces
  // with this world's names (of a dead process that had our pid) are
  // replaced. Needs root.
  [[nodiscard]] static std::expected<std::unique_ptr<NetnsWorld>, std::string> create(int pods);

  NetnsWorld(const NetnsWorld&) = delete;
  NetnsWorld& operator=(const NetnsWorld&) = delete;
  // Stops the echo servers, then deletes every namespace of the world, and
  // with them their links, routes, rules and conntrack entries.
  ~NetnsWorld();

  // Namespace names, for exec() and for `ip netns exec`.
  const std::string& node_ns() const { return node_ns_; }
  const std::string& client_ns() const { return client_ns_; }
  const std::string& pod_ns(int pod) const { return pod_ns_.at(static_cast<std::size_t>(pod)); }
  int pods() const { return static_cast<int>(pod_ns_.size()); }
  // "kn<pid>w<k>": the prefix of every namespace of this world.
  const std::string& prefix() const { return prefix_; }

  std::string pod_ip(int pod) const;    // "10.200.1.<10+pod>"
  std::string pod_ip6(int pod) const;   // "fd00:200:0:1::<10+pod>", the same digits
  std::string pod_ip(int pod, IpFamily family) const;
  std::string pod_name(int pod) const;  // "pod-<pod>": what pod's echo server answers
  // The node-side link names, for rules that match interfaces.
  std::string pod_link(int pod) const;        // "veth<pod>"
  std::string client_link() const { return "client0"; }

  // Starts the echo server (kubenat_e2e_echo) in namespace `ns`, answering
  // `name` on TCP and UDP `port` of every address, IPv4 and IPv6 (it binds
  // both wildcards at once), and returns once it answers on 127.0.0.1 there
  // (within 5 s). Fails when a server of this world already has that
  // namespace and port, or the server does not come up (the port is taken).
  // The world owns the server until stop_echo() or its destruction; it also
  // ends when the thread that started it exits (PR_SET_PDEATHSIG), so a
  // crashed test leaves no server behind. `name` must be one line and not
  // one of the probe's result words (refused, unreachable, timeout, reset,
  // closed, error-*).
  [[nodiscard]] std::expected<void, std::string> start_echo(const std::string& ns, const std::string& name, int port);
  // The echo server of pod `pod`: answers pod_name(pod) on `port`.
  [[nodiscard]] std::expected<void, std::string> start_echo(int pod, int port = 8080);
  // Stops (SIGTERM) the server started on `ns`/`port`; nothing if there is none.
  void stop_echo(const std::string& ns, int port);
  void stop_echo(int pod, int port = 8080);

  // Runs `ip netns exec ns argv...` and returns how it ended. The error is
  // for failing to run it at all (see run_process).
  [[nodiscard]] std::expected<ProcessResult, std::string> exec(const std::string& ns, std::vector<std::string> argv,
                                                               const ProcessOptions& options = {}) const;
  // Like exec(), but an exit status other than 0 is an error too, with the
  // command and its stderr; on success, the command's stdout.
  [[nodiscard]] std::expected<std::string, std::string> exec_checked(const std::string& ns,
                                                                     std::vector<std::string> argv,
                                                                     const ProcessOptions& options = {}) const;

  // Probes ip:port from namespace `from_ns` with kubenat_e2e_probe. The error
  // is for a probe that could not run or whose output made no sense; what
  // the attempts got (answers, refusals, timeouts) is the ProbeResult.
  [[nodiscard]] std::expected<ProbeResult, std::string> tcp(const std::string& from_ns, const std::string& ip, int port,
                                                            const ProbeOptions& options = {}) const;
  [[nodiscard]] std::expected<ProbeResult, std::string> udp(const std::string& from_ns, const std::string& ip, int port,
                                                            const ProbeOptions& options = {}) const;

 private:
  NetnsWorld(std::string prefix, int pods);
  std::expected<void, std::string> build();
  std::expected<ProbeResult, std::string> probe(const std::string& protocol, const std::string& from_ns,
                                                const std::string& ip, int port, const ProbeOptions& options) const;
  std::vector<std::string> namespaces() const;

  std::string prefix_;
  std::string node_ns_;
  std::string client_ns_;
  std::vector<std::string> pod_ns_;
  std::map<std::pair<std::string, int>, BackgroundProcess> echo_;  // by namespace and port
};

// Runs `ip [-n ns] -batch -` with `lines`, one command each: one process for
// a whole namespace's configuration instead of one per command. ip stops at
// the first failing line (unless `force`), and the error names that line.
std::expected<void, std::string> ip_batch(const std::string& ns, const std::vector<std::string>& lines,
                                          bool force = false);

// Polls `done` every 50 ms until it holds or `limit` passes; its last
// answer. For the changes a test waits to see take effect.
bool wait_until(const std::function<bool()>& done, std::chrono::steady_clock::duration limit);

// Whether this process can build worlds: it is root and `ip netns` works.
bool can_build_worlds();
// Whether the environment variable CI is "true".
bool running_in_ci();

}  // namespace kubenat::e2e

// The first statement of every test that builds a world: without root and
// network namespaces the test is skipped, but in CI (CI=true) it fails, since
// kernel tests must not skip silently there. Works in TEST bodies and SetUp().
#define KUBENAT_REQUIRE_NETNS()                                                                    \
  do {                                                                                             \
    if (!::kubenat::e2e::can_build_worlds()) {                                                     \
      if (::kubenat::e2e::running_in_ci()) {                                                       \
        FAIL() << "this kernel test needs root and network namespaces, and CI must run it";        \
      }                                                                                            \
      GTEST_SKIP() << "needs root and network namespaces";                                         \
    }                                                                                              \
  } while (false)
