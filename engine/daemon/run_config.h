#pragma once

// Everything `kubenat run` is told: kube-proxy's flags and the fields of its
// KubeProxyConfiguration file, with kube-proxy's defaults.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/routes/backend.h"

namespace kubenat {

// The conntrack limits and timeouts kube-proxy sets on the node at start-up
// (its conntrack section and --conntrack-* flags), with its defaults. Zero
// leaves the kernel's value alone (max_per_core zero ignores min too).
struct ConntrackSettings {
  int max_per_core = 32768;  // --conntrack-max-per-core, conntrack.maxPerCore
  int min = 131072;          // --conntrack-min, conntrack.min
  std::chrono::milliseconds tcp_established_timeout = std::chrono::hours(24);  // conntrack.tcpEstablishedTimeout
  std::chrono::milliseconds tcp_close_wait_timeout = std::chrono::hours(1);    // conntrack.tcpCloseWaitTimeout
  bool tcp_be_liberal = false;                                                 // conntrack.tcpBeLiberal
  std::chrono::milliseconds udp_timeout{0};                                    // conntrack.udpTimeout
  std::chrono::milliseconds udp_stream_timeout{0};                             // conntrack.udpStreamTimeout

  bool operator==(const ConntrackSettings&) const = default;
};

// One proxy mode's section of the config file, iptables.* or nftables.*, with
// kube-proxy's defaults. kube-proxy's v1alpha1 keeps them apart and reads only
// the section of the mode it runs in.
struct ProxyModeSection {
  bool masquerade_all = false;
  int masquerade_bit = 14;
  std::chrono::milliseconds sync_period = std::chrono::seconds(30);
  // Unset unless the file or a flag sets it: see RunConfig::min_sync_period.
  std::optional<std::chrono::milliseconds> min_sync_period;

  bool operator==(const ProxyModeSection&) const = default;
};

struct RunConfig {
  // API server access. Neither set: in-cluster configuration.
  std::string kubeconfig;  // --kubeconfig, clientConnection.kubeconfig
  std::string master;      // --master: overrides the kubeconfig's server

  // This node.
  std::string hostname_override;     // --hostname-override; default: the host name
  std::vector<std::string> node_ips;  // --node-ip (kubenat extension; default: the Node's InternalIP)

  // Rule options (see ProxyConfig).
  // --proxy-mode, mode: iptables, nftables, or none: no service
  // proxying, for --routes alone on clusters that keep kube-proxy.
  std::string proxy_mode = "iptables";
  std::vector<std::string> cluster_cidrs;       // --cluster-cidr, clusterCIDR (comma-separated)
  bool masquerade_all = false;                  // --masquerade-all, iptables.masqueradeAll
  int masquerade_bit = 14;                      // --iptables-masquerade-bit, iptables.masqueradeBit
  bool localhost_nodeports = true;              // --iptables-localhost-nodeports, iptables.localhostNodePorts
  std::vector<std::string> nodeport_addresses;  // --nodeport-addresses, nodePortAddresses
  // How pod traffic is told from the rest (kube-proxy's --detect-local-mode,
  // detectLocalMode): ClusterCIDR, NodeCIDR, BridgeInterface or
  // InterfaceNamePrefix; empty: ClusterCIDR, as kube-proxy defaults.
  std::string detect_local_mode;
  std::string pod_bridge_interface;       // --pod-bridge-interface, detectLocal.bridgeInterface
  std::string pod_interface_name_prefix;  // --pod-interface-name-prefix, detectLocal.interfaceNamePrefix
  // serviceProxyName: proxy only the Services labelled
  // service.kubernetes.io/service-proxy-name with this value; empty: only
  // the Services without the label, as kube-proxy.
  std::string service_proxy_name;
  std::string iptables_mode = "auto";           // kubenat: nft, legacy or auto
  std::string nftables_table = "kubenat";       // --nftables-table: the table of --proxy-mode nftables

  // Static pod-CIDR routes to the other nodes (engine/routes/proxier.h); flags
  // only, KubeProxyConfiguration has no such field.
  bool routes = false;                          // --routes
  int route_protocol = kDefaultRouteProtocol;   // --route-protocol: the rtm_protocol marking our routes

  ConntrackSettings conntrack;

  // Sync timing.
  std::chrono::milliseconds sync_period = std::chrono::seconds(30);     // --iptables-sync-period, iptables.syncPeriod
  // --iptables-min-sync-period, iptables.minSyncPeriod. Set: syncs start at
  // least this far apart, as kube-proxy spaces them. Unset (kubenat's
  // default, where kube-proxy's is 1s): the spacing follows what syncs cost,
  // a change waiting at most 1s (engine/sync_scheduler.h).
  std::optional<std::chrono::milliseconds> min_sync_period;

  // The mode sections as the file and the flags set them. masquerade_all,
  // masquerade_bit, sync_period and min_sync_period above are the values in
  // effect: those of the section of proxy_mode, which
  // select_proxy_mode_section() (engine/daemon/kube_proxy_configuration.h)
  // copies there.
  ProxyModeSection iptables_section;  // iptables.*
  ProxyModeSection nftables_section;  // nftables.*
  // oomScoreAdj: written to /proc/self/oom_score_adj at start, as kube-proxy
  // does; unset leaves the process's score alone.
  std::optional<int> oom_score_adj;

  // HTTP endpoints: "host:port"; empty disables.
  std::string healthz_bind_address = "0.0.0.0:10256";  // --healthz-bind-address, healthzBindAddress
  std::string metrics_bind_address = "127.0.0.1:10249";  // --metrics-bind-address, metricsBindAddress

  int verbosity = 0;        // -v, --v
  std::string config_file;  // --config
};

}  // namespace kubenat
