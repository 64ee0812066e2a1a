#pragma once

// The node-side settings that shape the rules: who this node is and the
// kube-proxy options that change rule text.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ip.h"
#include "rules/model.h"

namespace kubenat {

// kube-proxy's --detect-local-mode: what tells traffic from the pods apart
// from the rest (rules/local_traffic_detector.h turns it into a match).
enum class DetectLocalMode : std::uint8_t {
  ClusterCidr,          // "ClusterCIDR": the source is in the cluster CIDR of its family
  NodeCidr,             // "NodeCIDR": the source is in this Node's spec.podCIDRs of its family
  BridgeInterface,      // "BridgeInterface": the packet came in on the pods' bridge
  InterfaceNamePrefix,  // "InterfaceNamePrefix": it came in on an interface whose name has the pods' prefix
};

// The mode named as kube-proxy names it ("ClusterCIDR", "NodeCIDR",
// "BridgeInterface", "InterfaceNamePrefix"; empty means ClusterCIDR, its
// default); nullopt for any other name.
std::optional<DetectLocalMode> parse_detect_local_mode(std::string_view name);
// kube-proxy's name of the mode.
std::string_view detect_local_mode_name(DetectLocalMode mode);

struct ProxyConfig {
  // This node's name (--hostname-override): endpoints whose nodeName equals
  // it are local.
  std::string node_name;
  // The one family a plan is for; a dual-stack node runs one plan per family.
  IpFamily family = IpFamily::V4;
  // The node's own IPs (--node-ip). Used to decide whether a
  // loadBalancerSourceRange lets the node reach its own LoadBalancer IPs.
  std::vector<IpAddress> node_ips;
  // --cluster-cidr: pod traffic detection (detect-local-mode ClusterCIDR).
  // Empty: no detector, as kube-proxy's no-op detector.
  std::vector<Cidr> cluster_cidrs;
  // --detect-local-mode, and what the other modes match on.
  DetectLocalMode detect_local_mode = DetectLocalMode::ClusterCidr;
  // NodeCIDR: this node's pod CIDRs. with_node_ips_from_state() fills them
  // from the Node's spec.podCIDRs at each compile, so the rules follow the
  // Node (kube-proxy reads them once at start-up).
  std::vector<Cidr> node_pod_cidrs;
  std::string pod_bridge_interface;       // BridgeInterface: --pod-bridge-interface
  std::string pod_interface_name_prefix;  // InterfaceNamePrefix: --pod-interface-name-prefix
  // 1 << masquerade_bit marks packets for SNAT (--iptables-masquerade-bit).
  int masquerade_bit = 14;
  // --masquerade-all: SNAT every packet sent to a cluster IP.
  bool masquerade_all = false;
  // --nodeport-addresses. Empty (or a zero-length prefix) means every local
  // address; otherwise NodePorts answer only on local_addresses inside them.
  std::vector<Cidr> nodeport_addresses;
  // The node's interface addresses, which --nodeport-addresses selects from.
  std::vector<IpAddress> local_addresses;
  // Accept NodePort connections to 127.0.0.0/8 (IPv4 only; kube-proxy's
  // localhostNodePorts, default true).
  bool localhost_nodeports = true;
  // Count dropped invalid packets and localhost NodePort hits with nfacct
  // objects (kube-proxy does when the kernel has nfnetlink_acct). The
  // objects must exist before the rules are loaded.
  bool nfacct_counters = false;
  // The kernel's nf_conntrack_tcp_be_liberal is set: no INVALID drop rule.
  bool conntrack_tcp_liberal = false;
  // iptables supports MASQUERADE --random-fully.
  bool masquerade_random_fully = false;
  // Beyond this many endpoints in all, per-endpoint comments are left out
  // (kube-proxy's largeClusterEndpointsThreshold).
  std::size_t large_cluster_endpoints_threshold = 1000;
  // The nftables backend's own table (--nftables-table), in family ip or
  // ip6 by `family`. kube-proxy's nftables mode calls its table "kube-proxy";
  // a different default lets the two run side by side while migrating.
  std::string nftables_table = "kubenat";
};

// The configuration for a cluster state: node IPs not given in the flags
// come from this node's Node object (InternalIP, then ExternalIP), as
// kube-proxy does; in detect-local-mode NodeCIDR the pod CIDRs come from its
// spec.podCIDRs (while the Node is unknown, `config`'s stay).
ProxyConfig with_node_ips_from_state(const ProxyConfig& config, const ClusterState& state);

}  // namespace kubenat
