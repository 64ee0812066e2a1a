#include "tools/kubenat/run_flags.h"

#include <climits>
#include <ostream>
#include <tuple>
#include <vector>

#include "engine/daemon/duration.h"
#include "engine/daemon/http_server.h"
#include "engine/daemon/kube_proxy_configuration.h"
#include "rules/decode.h"
#include "rules/ip.h"
#include "rules/local_traffic_detector.h"
#include "tools/kubenat/flags.h"

namespace kubenat {
namespace {

constexpr int kHealthzPort = 10256;
constexpr int kMetricsPort = 10249;

// The flags as text, before they are merged and validated. Durations are
// strings because FlagSet has no duration type.
struct RawFlags {
  std::string config;
  std::string kubeconfig;
  std::string master;
  std::string hostname_override;
  std::vector<std::string> node_ips;
  std::string proxy_mode;
  std::string iptables_mode;
  std::string nftables_table;
  std::vector<std::string> cluster_cidrs;
  std::string detect_local_mode;
  std::string pod_bridge_interface;
  std::string pod_interface_name_prefix;
  bool masquerade_all = false;
  int masquerade_bit = 0;
  bool localhost_nodeports = false;
  std::vector<std::string> nodeport_addresses;
  std::string sync_period;
  std::string min_sync_period;
  std::string service_proxy_name;
  std::string healthz_bind_address;
  std::string metrics_bind_address;
  int conntrack_max_per_core = 0;
  int conntrack_min = 0;
  std::string conntrack_tcp_timeout_established;
  std::string conntrack_tcp_timeout_close_wait;
  bool conntrack_tcp_be_liberal = false;
  std::string conntrack_udp_timeout;
  std::string conntrack_udp_timeout_stream;
  bool routes = false;
  int route_protocol = 0;
  int oom_score_adj = 0;
  int verbosity = 0;
  bool help = false;
};

// FlagSet cannot say which flags were given, so the arguments are parsed
// twice, onto two sets of different sentinels: a scalar flag was given
// exactly when both parses agree. Lists start empty and were given when not
// empty.
RawFlags sentinels(bool second) {
  RawFlags raw;
  const std::string text = second ? "\x01second" : "\x01first";
  for (std::string* field :
       {&raw.config, &raw.kubeconfig, &raw.master, &raw.hostname_override, &raw.proxy_mode, &raw.iptables_mode,
        &raw.nftables_table, &raw.sync_period, &raw.min_sync_period, &raw.healthz_bind_address,
        &raw.metrics_bind_address, &raw.conntrack_tcp_timeout_established, &raw.conntrack_tcp_timeout_close_wait,
        &raw.conntrack_udp_timeout, &raw.conntrack_udp_timeout_stream, &raw.detect_local_mode,
        &raw.pod_bridge_interface, &raw.pod_interface_name_prefix}) {
    *field = text;
  }
  raw.service_proxy_name = text;
  raw.masquerade_all = raw.localhost_nodeports = raw.routes = raw.conntrack_tcp_be_liberal = second;
  for (int* field :
       {&raw.masquerade_bit, &raw.verbosity, &raw.route_protocol, &raw.conntrack_max_per_core, &raw.conntrack_min,
        &raw.oom_score_adj}) {
    *field = second ? INT_MAX : INT_MIN;
  }
  return raw;
}

FlagSet make_flag_set(RawFlags& raw) {
  FlagSet flags("kubenat run");
  flags.add_string("config", &raw.config,
                   "a KubeProxyConfiguration file; flags given explicitly override its fields");
  flags.add_string("kubeconfig", &raw.kubeconfig,
                   "kubeconfig file for the API server (default: in-cluster configuration)");
  flags.add_string("master", &raw.master, "the API server's address; overrides the kubeconfig's server");
  flags.add_string("hostname-override", &raw.hostname_override, "this node's name (default: the host name)");
  flags.add_list("node-ip", &raw.node_ips, "this node's IPs (default: the Node object's InternalIP)");
  flags.add_string("proxy-mode", &raw.proxy_mode,
                   "iptables, nftables (kubenat's own table over netlink), or none: no service proxying "
                   "(with --routes, for routes alone; default iptables)");
  flags.add_string("iptables-mode", &raw.iptables_mode,
                   "which iptables to drive: nft, legacy or auto (the one holding rules; default auto)");
  flags.add_string("nftables-table", &raw.nftables_table,
                   "the nftables table kubenat owns with --proxy-mode nftables (default kubenat)");
  flags.add_list("cluster-cidr", &raw.cluster_cidrs,
                 "pod CIDRs: traffic from them is local pod traffic (comma-separated for dual-stack)");
  flags.add_string("detect-local-mode", &raw.detect_local_mode,
                   "what tells pod traffic from the rest: ClusterCIDR (its source is in --cluster-cidr; default), "
                   "NodeCIDR (in the Node's spec.podCIDRs), BridgeInterface (it came in on --pod-bridge-interface) "
                   "or InterfaceNamePrefix (on an interface named --pod-interface-name-prefix*)");
  flags.add_string("pod-bridge-interface", &raw.pod_bridge_interface,
                   "the pods' bridge, with --detect-local-mode BridgeInterface");
  flags.add_string("pod-interface-name-prefix", &raw.pod_interface_name_prefix,
                   "the name prefix of the pods' interfaces, with --detect-local-mode InterfaceNamePrefix");
  flags.add_bool("masquerade-all", &raw.masquerade_all, "SNAT all traffic sent to cluster IPs");
  flags.add_int("iptables-masquerade-bit", &raw.masquerade_bit,
                "the fwmark bit that marks packets for SNAT, 0..31 (default 14)");
  flags.add_bool("iptables-localhost-nodeports", &raw.localhost_nodeports,
                 "accept NodePort connections to 127.0.0.1 (default true)");
  flags.add_list("nodeport-addresses", &raw.nodeport_addresses,
                 "CIDRs (or \"primary\") of the local addresses that accept NodePorts (default: all)");
  flags.add_string("service-proxy-name", &raw.service_proxy_name,
                   "kubenat extension: proxy only the Services labelled service.kubernetes.io/service-proxy-name "
                   "with this name (default: only the Services without that label, as kube-proxy)");
  flags.add_string("iptables-sync-period", &raw.sync_period,
                   "the longest time between full resyncs, e.g. 30s, 1m0s (default 30s)");
  flags.add_string("iptables-min-sync-period", &raw.min_sync_period,
                   "the shortest time between syncs, e.g. 1s, 500ms, as kube-proxy spaces them (default: unset, "
                   "syncs spaced by what they cost, a change waiting at most 1s; kube-proxy's default is 1s)");
  flags.add_string("healthz-bind-address", &raw.healthz_bind_address,
                   "IP:port of /healthz and /livez; empty disables (default 0.0.0.0:10256)");
  flags.add_string("metrics-bind-address", &raw.metrics_bind_address,
                   "IP:port of /metrics; empty disables (default 127.0.0.1:10249)");
  flags.add_int("conntrack-max-per-core", &raw.conntrack_max_per_core,
                "conntrack entries to allow per CPU core; 0 leaves nf_conntrack_max as it is and ignores "
                "--conntrack-min (default 32768)");
  flags.add_int("conntrack-min", &raw.conntrack_min,
                "the least nf_conntrack_max to ask for, whatever the cores (default 131072)");
  flags.add_string("conntrack-tcp-timeout-established", &raw.conntrack_tcp_timeout_established,
                   "idle timeout of established TCP connections; 0 leaves it as it is (default 24h0m0s)");
  flags.add_string("conntrack-tcp-timeout-close-wait", &raw.conntrack_tcp_timeout_close_wait,
                   "timeout of TCP connections in CLOSE_WAIT; 0 leaves it as it is (default 1h0m0s)");
  flags.add_bool("conntrack-tcp-be-liberal", &raw.conntrack_tcp_be_liberal,
                 "set nf_conntrack_tcp_be_liberal to 1: out-of-window TCP packets are not marked INVALID "
                 "(default false)");
  flags.add_string("conntrack-udp-timeout", &raw.conntrack_udp_timeout,
                   "idle timeout of unreplied UDP flows; 0 leaves it as it is (default 0)");
  flags.add_string("conntrack-udp-timeout-stream", &raw.conntrack_udp_timeout_stream,
                   "idle timeout of assured UDP flows; 0 leaves it as it is (default 0)");
  flags.add_bool("routes", &raw.routes,
                 "program a route to every other node's pod CIDRs via its InternalIP (static-route mode, for "
                 "clusters without BGP; default false)");
  flags.add_int("route-protocol", &raw.route_protocol,
                "the route protocol number that marks kubenat's routes, " +
                    std::to_string(kMaxReservedRouteProtocol + 1) + "..255 (default " +
                    std::to_string(kDefaultRouteProtocol) + ")");
  flags.add_int("oom-score-adj", &raw.oom_score_adj,
                "the daemon's /proc/self/oom_score_adj, -1000..1000 (default: left as it is; kube-proxy's -999)");
  flags.add_int("v", &raw.verbosity, "log verbosity (default 0)");
  flags.add_bool("help", &raw.help, "show this help");
  return flags;
}

std::unexpected<std::string> error(const std::string& message) {
  return std::unexpected("kubenat run: " + message);
}

std::expected<std::chrono::milliseconds, std::string> duration_flag(const std::string& name,
                                                                    const std::string& text) {
  auto duration = parse_duration(text);
  if (!duration) return error("--" + name + ": " + duration.error());
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

// kube-proxy's validation (validateKubeProxyIPTablesConfiguration and
// friends), naming the flag and the config field that set each value.
std::expected<void, std::string> validate(const RunConfig& config) {
  const ConntrackSettings& conntrack = config.conntrack;
  if (conntrack.max_per_core < 0) return error("--conntrack-max-per-core (conntrack.maxPerCore): must not be negative");
  if (conntrack.min < 0) return error("--conntrack-min (conntrack.min): must not be negative");
  for (auto [value, name] :
       {std::pair{conntrack.tcp_established_timeout,
                  "--conntrack-tcp-timeout-established (conntrack.tcpEstablishedTimeout)"},
        std::pair{conntrack.tcp_close_wait_timeout,
                  "--conntrack-tcp-timeout-close-wait (conntrack.tcpCloseWaitTimeout)"},
        std::pair{conntrack.udp_timeout, "--conntrack-udp-timeout (conntrack.udpTimeout)"},
        std::pair{conntrack.udp_stream_timeout, "--conntrack-udp-timeout-stream (conntrack.udpStreamTimeout)"}}) {
    if (value.count() < 0) return error(std::string(name) + ": must not be negative");
  }
  if (config.proxy_mode != "iptables" && config.proxy_mode != "nftables" && config.proxy_mode != "none") {
    return error("--proxy-mode (mode): kubenat supports iptables, nftables (and none, for --routes alone), got \"" +
                 config.proxy_mode + "\"");
  }
  if (config.proxy_mode == "none" && !config.routes) {
    return error("--proxy-mode none: nothing to do without --routes");
  }
  if (config.route_protocol <= kMaxReservedRouteProtocol || config.route_protocol > 255) {
    return error("--route-protocol: must be within " + std::to_string(kMaxReservedRouteProtocol + 1) +
                 "..255 (0-" + std::to_string(kMaxReservedRouteProtocol) + " are the kernel's), got " +
                 std::to_string(config.route_protocol));
  }
  if (config.iptables_mode != "auto" && config.iptables_mode != "nft" && config.iptables_mode != "legacy") {
    return error("--iptables-mode: expects nft, legacy or auto, got \"" + config.iptables_mode + "\"");
  }
  // The values in effect come from the mode's section of the file
  // (select_proxy_mode_section()); the flags set it in either mode.
  const std::string section = config.proxy_mode == "nftables" ? "nftables" : "iptables";
  if (config.masquerade_bit < 0 || config.masquerade_bit > 31) {
    return error((section == "iptables" ? "--iptables-masquerade-bit (" : "(") + section +
                 ".masqueradeBit): must be within 0..31, got " + std::to_string(config.masquerade_bit));
  }
  if (config.sync_period.count() <= 0) {
    return error("--iptables-sync-period (" + section + ".syncPeriod): must be greater than 0");
  }
  if (config.min_sync_period && config.min_sync_period->count() < 0) {
    return error("--iptables-min-sync-period (" + section + ".minSyncPeriod): must not be negative");
  }
  if (config.min_sync_period && *config.min_sync_period > config.sync_period) {
    return error("--iptables-sync-period (" + section + ".syncPeriod): must be at least --iptables-min-sync-period (" +
                 format_duration(*config.min_sync_period) + "), got " + format_duration(config.sync_period));
  }
  if (!is_valid_label_value(config.service_proxy_name)) {
    return error("--service-proxy-name (serviceProxyName): \"" + config.service_proxy_name +
                 "\" is not a label value (at most 63 characters: letters, digits, '-', '_', '.', a letter or "
                 "digit at each end)");
  }
  if (config.oom_score_adj && (*config.oom_score_adj < -1000 || *config.oom_score_adj > 1000)) {
    return error("--oom-score-adj (oomScoreAdj): must be within -1000..1000, got " +
                 std::to_string(*config.oom_score_adj));
  }
  if (config.verbosity < 0) return error("-v: must not be negative");
  for (const std::string& text : config.cluster_cidrs) {
    if (!Cidr::parse_sloppy(text)) return error("--cluster-cidr (clusterCIDR): invalid CIDR \"" + text + "\"");
  }
  for (const std::string& text : config.node_ips) {
    if (!IpAddress::parse_sloppy(text)) return error("--node-ip: invalid IP \"" + text + "\"");
  }
  const std::optional<DetectLocalMode> detect_local = parse_detect_local_mode(config.detect_local_mode);
  if (!detect_local) {
    return error(
        "--detect-local-mode (detectLocalMode): expects ClusterCIDR, NodeCIDR, BridgeInterface or "
        "InterfaceNamePrefix, got \"" +
        config.detect_local_mode + "\"");
  }
  if (*detect_local == DetectLocalMode::BridgeInterface) {
    if (auto invalid = invalid_interface_name(config.pod_bridge_interface)) {
      return error("--pod-bridge-interface (detectLocal.bridgeInterface), with detect-local-mode BridgeInterface: " +
                   *invalid);
    }
  }
  if (*detect_local == DetectLocalMode::InterfaceNamePrefix) {
    if (auto invalid = invalid_interface_name(config.pod_interface_name_prefix)) {
      return error(
          "--pod-interface-name-prefix (detectLocal.interfaceNamePrefix), with detect-local-mode "
          "InterfaceNamePrefix: " +
          *invalid);
    }
  }
  for (const std::string& text : config.nodeport_addresses) {
    if (text != "primary" && !Cidr::parse_sloppy(text)) {
      return error("--nodeport-addresses (nodePortAddresses): invalid CIDR \"" + text + "\"");
    }
  }
  if (!config.healthz_bind_address.empty()) {
    if (auto bind = parse_bind_address(config.healthz_bind_address); !bind) {
      return error("--healthz-bind-address (healthzBindAddress): " + bind.error());
    }
  }
  if (!config.metrics_bind_address.empty()) {
    if (auto bind = parse_bind_address(config.metrics_bind_address); !bind) {
      return error("--metrics-bind-address (metricsBindAddress): " + bind.error());
    }
  }
  return {};
}

}  // namespace

std::expected<RunConfig, std::string> parse_run_flags(std::span<const std::string> args, std::ostream& warnings) {
  RawFlags first = sentinels(false);
  RawFlags second = sentinels(true);
  auto positional = make_flag_set(first).parse(args);
  if (!positional) return std::unexpected(positional.error());
  if (!positional->empty()) return error("unexpected argument \"" + positional->front() + "\"");
  if (auto again = make_flag_set(second).parse(args); !again) return std::unexpected(again.error());
  const auto given = [&](auto RawFlags::*field) { return first.*field == second.*field; };

  RunConfig config;
  if (given(&RawFlags::config)) {
    auto load = load_kube_proxy_configuration(first.config, config);
    if (!load) return error("--config: " + load.error());
    // load->warnings are about the file's mode; the flags may change it, so
    // the notes of the merged configuration are what is reported below.
    config = std::move(load->config);
  }

  if (given(&RawFlags::kubeconfig)) config.kubeconfig = first.kubeconfig;
  if (given(&RawFlags::master)) config.master = first.master;
  if (given(&RawFlags::hostname_override)) config.hostname_override = first.hostname_override;
  if (!first.node_ips.empty()) config.node_ips = first.node_ips;
  if (given(&RawFlags::proxy_mode)) config.proxy_mode = first.proxy_mode.empty() ? "iptables" : first.proxy_mode;
  if (given(&RawFlags::iptables_mode)) config.iptables_mode = first.iptables_mode;
  if (given(&RawFlags::nftables_table)) config.nftables_table = first.nftables_table;
  if (!first.cluster_cidrs.empty()) config.cluster_cidrs = first.cluster_cidrs;
  if (given(&RawFlags::detect_local_mode)) config.detect_local_mode = first.detect_local_mode;
  if (given(&RawFlags::pod_bridge_interface)) config.pod_bridge_interface = first.pod_bridge_interface;
  if (given(&RawFlags::pod_interface_name_prefix)) config.pod_interface_name_prefix = first.pod_interface_name_prefix;
  // As kube-proxy maps them: --masquerade-all and the sync periods apply in
  // iptables and nftables mode alike, --iptables-masquerade-bit to iptables
  // (and ipvs) mode only.
  if (given(&RawFlags::masquerade_all)) {
    config.iptables_section.masquerade_all = config.nftables_section.masquerade_all = first.masquerade_all;
  }
  if (given(&RawFlags::masquerade_bit)) config.iptables_section.masquerade_bit = first.masquerade_bit;
  if (given(&RawFlags::localhost_nodeports)) config.localhost_nodeports = first.localhost_nodeports;
  if (!first.nodeport_addresses.empty()) config.nodeport_addresses = first.nodeport_addresses;
  if (given(&RawFlags::sync_period)) {
    auto period = duration_flag("iptables-sync-period", first.sync_period);
    if (!period) return std::unexpected(period.error());
    config.iptables_section.sync_period = config.nftables_section.sync_period = *period;
  }
  if (given(&RawFlags::min_sync_period)) {
    auto period = duration_flag("iptables-min-sync-period", first.min_sync_period);
    if (!period) return std::unexpected(period.error());
    config.iptables_section.min_sync_period = config.nftables_section.min_sync_period = *period;
  }
  // A bare IP gets the default port, as in the config file.
  if (given(&RawFlags::healthz_bind_address)) {
    config.healthz_bind_address = append_port_if_needed(first.healthz_bind_address, kHealthzPort);
  }
  if (given(&RawFlags::metrics_bind_address)) {
    config.metrics_bind_address = append_port_if_needed(first.metrics_bind_address, kMetricsPort);
  }
  if (given(&RawFlags::conntrack_max_per_core)) config.conntrack.max_per_core = first.conntrack_max_per_core;
  if (given(&RawFlags::conntrack_min)) config.conntrack.min = first.conntrack_min;
  if (given(&RawFlags::conntrack_tcp_be_liberal)) config.conntrack.tcp_be_liberal = first.conntrack_tcp_be_liberal;
  for (auto [field, name, target] :
       {std::tuple{&RawFlags::conntrack_tcp_timeout_established, "conntrack-tcp-timeout-established",
                   &config.conntrack.tcp_established_timeout},
        std::tuple{&RawFlags::conntrack_tcp_timeout_close_wait, "conntrack-tcp-timeout-close-wait",
                   &config.conntrack.tcp_close_wait_timeout},
        std::tuple{&RawFlags::conntrack_udp_timeout, "conntrack-udp-timeout", &config.conntrack.udp_timeout},
        std::tuple{&RawFlags::conntrack_udp_timeout_stream, "conntrack-udp-timeout-stream",
                   &config.conntrack.udp_stream_timeout}}) {
    if (!given(field)) continue;
    auto duration = duration_flag(name, first.*field);
    if (!duration) return std::unexpected(duration.error());
    *target = *duration;
  }
  if (given(&RawFlags::routes)) config.routes = first.routes;
  if (given(&RawFlags::route_protocol)) config.route_protocol = first.route_protocol;
  if (given(&RawFlags::oom_score_adj)) config.oom_score_adj = first.oom_score_adj;
  if (given(&RawFlags::verbosity)) config.verbosity = first.verbosity;

  if (given(&RawFlags::service_proxy_name)) config.service_proxy_name = first.service_proxy_name;

  const std::vector<std::string> notes = select_proxy_mode_section(config);
  if (auto ok = validate(config); !ok) return std::unexpected(ok.error());
  for (const std::string& note : notes) warnings << "kubenat run: warning: " << note << "\n";
  return config;
}

bool run_help_requested(std::span<const std::string> args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "--h" || arg == "-help" || arg == "--help" || arg == "--help=true" ||
        arg == "-help=true") {
      return true;
    }
  }
  return false;
}

std::string run_flags_usage() {
  RawFlags raw;
  return "usage: kubenat run [flags]\n\n"
         "Runs kubenat in place of kube-proxy: watches Services, EndpointSlices and Nodes and keeps\n"
         "this node's iptables rules in sync. Takes kube-proxy's flags and configuration file.\n"
         "With --routes it also routes every other node's pod CIDRs via that node's InternalIP;\n"
         "with --proxy-mode none --routes it does only that.\n"
         "The --config file is read first; flags given on the command line override its fields\n"
         "(kube-proxy ignores most flags when --config is given).\n\n" +
         make_flag_set(raw).usage();
}

}  // namespace kubenat
