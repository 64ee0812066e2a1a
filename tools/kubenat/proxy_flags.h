#pragma once

// The flags that describe this node and the kube-proxy options that shape
// rules, shared by the commands that compile plans (plan, apply, run).

#include <expected>
#include <string>
#include <vector>

#include "rules/model.h"
#include "rules/proxy_config.h"
#include "tools/kubenat/flags.h"

namespace kubenat {

struct ProxyFlags {
  std::string node;
  std::string ip_family = "ipv4";
  std::vector<std::string> cluster_cidrs;
  std::string detect_local_mode;  // kube-proxy's names; empty: ClusterCIDR
  std::string pod_bridge_interface;
  std::string pod_interface_name_prefix;
  std::vector<std::string> node_ips;
  std::vector<std::string> nodeport_addresses;
  std::vector<std::string> local_addresses;
  bool masquerade_all = false;
  int masquerade_bit = 14;
  bool localhost_nodeports = true;
  bool nfacct = false;
  bool random_fully = false;
  bool conntrack_tcp_liberal = false;
  int large_cluster_threshold = 1000;
  std::string nftables_table = "kubenat";

  void register_flags(FlagSet& flags);
};

// Validates the flags into a ProxyConfig. Where --node-ip is not given, the
// node's InternalIP (then ExternalIP) from the cluster state is used, as
// kube-proxy does; the local addresses default to the node IPs and loopback.
[[nodiscard]] std::expected<ProxyConfig, std::string> make_proxy_config(const ProxyFlags& flags,
                                                                        const ClusterState& state);

}  // namespace kubenat
