#include "tools/kubenat/proxy_flags.h"

#include <algorithm>
#include <optional>

#include "rules/local_traffic_detector.h"

namespace kubenat {

void ProxyFlags::register_flags(FlagSet& flags) {
  flags.add_string("node", &node, "this node's name: endpoints on it are local (required)");
  flags.add_alias("hostname-override", "node");
  flags.add_string("ip-family", &ip_family, "ipv4 or ipv6: the family of the plan (default ipv4)");
  flags.add_list("cluster-cidr", &cluster_cidrs, "pod CIDRs: traffic from them is pod traffic (detect-local-mode ClusterCIDR)");
  flags.add_string("detect-local-mode", &detect_local_mode,
                   "what tells pod traffic from the rest: ClusterCIDR (its source is in --cluster-cidr; default), "
                   "NodeCIDR (in the Node's spec.podCIDRs), BridgeInterface (it came in on --pod-bridge-interface) "
                   "or InterfaceNamePrefix (on an interface named --pod-interface-name-prefix*)");
  flags.add_string("pod-bridge-interface", &pod_bridge_interface,
                   "the pods' bridge, with --detect-local-mode BridgeInterface");
  flags.add_string("pod-interface-name-prefix", &pod_interface_name_prefix,
                   "the name prefix of the pods' interfaces, with --detect-local-mode InterfaceNamePrefix");
  flags.add_list("node-ip", &node_ips, "this node's IPs (default: the Node object's InternalIP)");
  flags.add_list("nodeport-addresses", &nodeport_addresses,
                 "CIDRs (or \"primary\") of the local addresses that accept NodePorts (default: all)");
  flags.add_list("local-address", &local_addresses,
                 "the node's interface addresses, for --nodeport-addresses (default: node IPs and loopback)");
  flags.add_bool("masquerade-all", &masquerade_all, "SNAT all traffic sent to cluster IPs");
  flags.add_int("masquerade-bit", &masquerade_bit, "the fwmark bit that marks packets for SNAT (default 14)");
  flags.add_alias("iptables-masquerade-bit", "masquerade-bit");
  flags.add_bool("iptables-localhost-nodeports", &localhost_nodeports,
                 "accept NodePort connections to 127.0.0.1 (IPv4; default true)");
  flags.add_bool("nfacct", &nfacct, "count invalid drops and localhost NodePorts with nfacct objects");
  flags.add_bool("random-fully", &random_fully, "add --random-fully to MASQUERADE");
  flags.add_bool("conntrack-tcp-liberal", &conntrack_tcp_liberal,
                 "nf_conntrack_tcp_be_liberal is set: no INVALID drop rule");
  flags.add_int("large-cluster-threshold", &large_cluster_threshold,
                "endpoints beyond which per-endpoint comments are left out (default 1000)");
  flags.add_string("nftables-table", &nftables_table,
                   "the nftables table kubenat owns in nftables mode, in family ip or ip6 (default kubenat)");
}

namespace {

std::vector<IpAddress> node_ips_from_state(const ClusterState& state, const std::string& node, IpFamily family) {
  std::vector<IpAddress> out;
  auto it = state.nodes.find(node);
  if (it == state.nodes.end()) return out;
  for (const char* type : {"InternalIP", "ExternalIP"}) {
    for (const NodeAddress& address : it->second.addresses) {
      if (address.type != type) continue;
      auto ip = IpAddress::parse_sloppy(address.address);
      if (ip && ip->family() == family) return {*ip};
    }
  }
  return out;
}

// nft's own syntax for identifiers (a letter, then letters, digits, '_',
// '-', '.' or '/'), within the kernel's NFT_NAME_MAXLEN.
std::optional<std::string> invalid_nft_table_name(const std::string& name) {
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto other = [&](char c) { return letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '/'; };
  if (name.empty() || name.size() > 255 || !letter(name.front()) ||
      !std::all_of(name.begin(), name.end(), other)) {
    return "expects a letter followed by letters, digits, '_', '-', '.' or '/' (at most 255), got \"" + name + "\"";
  }
  return std::nullopt;
}

// kube-proxy's validateDetectLocalMode and validateDetectLocalConfiguration:
// the mode by its exact name, and the interface mode's own flag. The
// interface flags of the other modes are left unused, as kube-proxy leaves
// them. NodeCIDR's CIDRs come from the state (with_node_ips_from_state).
std::expected<void, std::string> detect_local_settings(const ProxyFlags& flags, ProxyConfig& config) {
  const std::optional<DetectLocalMode> mode = parse_detect_local_mode(flags.detect_local_mode);
  if (!mode) {
    return std::unexpected(
        "--detect-local-mode: expects ClusterCIDR, NodeCIDR, BridgeInterface or "
        "InterfaceNamePrefix, got \"" +
        flags.detect_local_mode + "\"");
  }
  config.detect_local_mode = *mode;
  if (*mode == DetectLocalMode::BridgeInterface) {
    if (auto invalid = invalid_interface_name(flags.pod_bridge_interface)) {
      return std::unexpected("--pod-bridge-interface (with --detect-local-mode BridgeInterface): " + *invalid);
    }
    config.pod_bridge_interface = flags.pod_bridge_interface;
  }
  if (*mode == DetectLocalMode::InterfaceNamePrefix) {
    if (auto invalid = invalid_interface_name(flags.pod_interface_name_prefix)) {
      return std::unexpected("--pod-interface-name-prefix (with --detect-local-mode InterfaceNamePrefix): " + *invalid);
    }
    config.pod_interface_name_prefix = flags.pod_interface_name_prefix;
  }
  return {};
}

}  // namespace

std::expected<ProxyConfig, std::string> make_proxy_config(const ProxyFlags& flags, const ClusterState& state) {
  ProxyConfig config;
  if (flags.node.empty()) return std::unexpected("--node is required");
  config.node_name = flags.node;
  if (flags.ip_family == "ipv4" || flags.ip_family == "IPv4") {
    config.family = IpFamily::V4;
  } else if (flags.ip_family == "ipv6" || flags.ip_family == "IPv6") {
    config.family = IpFamily::V6;
  } else {
    return std::unexpected("--ip-family: expects ipv4 or ipv6, got \"" + flags.ip_family + "\"");
  }
  for (const std::string& text : flags.cluster_cidrs) {
    auto cidr = Cidr::parse_sloppy(text);
    if (!cidr) return std::unexpected("--cluster-cidr: invalid CIDR \"" + text + "\"");
    config.cluster_cidrs.push_back(*cidr);
  }
  if (auto detect_local = detect_local_settings(flags, config); !detect_local) {
    return std::unexpected(detect_local.error());
  }
  for (const std::string& text : flags.node_ips) {
    auto ip = IpAddress::parse_sloppy(text);
    if (!ip) return std::unexpected("--node-ip: invalid IP \"" + text + "\"");
    config.node_ips.push_back(*ip);
  }
  if (config.node_ips.empty()) config.node_ips = node_ips_from_state(state, config.node_name, config.family);
  if (config.detect_local_mode == DetectLocalMode::NodeCidr) {
    config = with_node_ips_from_state(config, state);
  }

  for (const std::string& text : flags.local_addresses) {
    auto ip = IpAddress::parse_sloppy(text);
    if (!ip) return std::unexpected("--local-address: invalid IP \"" + text + "\"");
    config.local_addresses.push_back(*ip);
  }
  if (flags.local_addresses.empty()) {
    config.local_addresses = config.node_ips;
    config.local_addresses.push_back(IpAddress::v4(127, 0, 0, 1));
    config.local_addresses.push_back(*IpAddress::parse("::1"));
  }
  for (const std::string& text : flags.nodeport_addresses) {
    if (text == "primary") {
      // kube-proxy's "primary": the node's primary IPs only.
      for (const IpAddress& ip : config.node_ips) config.nodeport_addresses.emplace_back(ip, ip.is_v4() ? 32 : 128);
      continue;
    }
    auto cidr = Cidr::parse_sloppy(text);
    if (!cidr) return std::unexpected("--nodeport-addresses: invalid CIDR \"" + text + "\"");
    config.nodeport_addresses.push_back(*cidr);
  }
  if (flags.masquerade_bit < 0 || flags.masquerade_bit > 31) {
    return std::unexpected("--masquerade-bit: must be in 0..31, got " + std::to_string(flags.masquerade_bit));
  }
  config.masquerade_bit = flags.masquerade_bit;
  config.masquerade_all = flags.masquerade_all;
  config.localhost_nodeports = flags.localhost_nodeports;
  config.nfacct_counters = flags.nfacct;
  config.masquerade_random_fully = flags.random_fully;
  config.conntrack_tcp_liberal = flags.conntrack_tcp_liberal;
  if (flags.large_cluster_threshold < 0) return std::unexpected("--large-cluster-threshold: must not be negative");
  config.large_cluster_endpoints_threshold = static_cast<std::size_t>(flags.large_cluster_threshold);
  if (auto invalid = invalid_nft_table_name(flags.nftables_table)) {
    return std::unexpected("--nftables-table: " + *invalid);
  }
  config.nftables_table = flags.nftables_table;
  return config;
}

}  // namespace kubenat
