#pragma once

// What tells traffic from this node's pods (or the cluster's) apart from the
// rest, for one family: kube-proxy's LocalTrafficDetector
// (pkg/proxy/util/localdetector.go, chosen in cmd/kube-proxy/app/
// server_linux.go getLocalDetectors). Both compilers match on it: the
// masquerade rule for cluster IPs takes traffic that is not local, the
// externalTrafficPolicy Local short-circuit takes traffic that is.
//
// | mode                | iptables            | nftables                  |
// |---------------------|---------------------|---------------------------|
// | ClusterCIDR         | -s CIDR / ! -s CIDR | ip saddr CIDR / != CIDR   |
// | NodeCIDR            | the same            | the same                  |
// | BridgeInterface     | -i br0 / ! -i br0   | iifname "br0" / != "br0"  |
// | InterfaceNamePrefix | -i veth+ / ! -i ... | iifname "veth*" / != ...  |
//
// Per family, as kube-proxy: ClusterCIDR and NodeCIDR take the first CIDR
// of the plan's family (a family without one gets no detector); the
// interface modes apply to both families. Without a detector the rules
// that need one are left out (kube-proxy's no-op detector).

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "rules/ip.h"
#include "rules/proxy_config.h"

namespace kubenat {

struct LocalTrafficDetector {
  enum class Match : std::uint8_t {
    None,             // no detector
    SourceCidr,       // the source address is in `cidr`
    Interface,        // the packet came in on the interface named `interface`
    InterfacePrefix,  // it came in on an interface whose name starts with `interface`
  };
  Match match = Match::None;
  Cidr cidr;              // SourceCidr
  std::string interface;  // Interface: the name; InterfacePrefix: the prefix

  bool implemented() const { return match != Match::None; }
  bool operator==(const LocalTrafficDetector&) const = default;
};

// The detector for `config.family`, from config.detect_local_mode and its
// settings (NodeCIDR: config.node_pod_cidrs, which with_node_ips_from_state
// fills from the cluster state).
LocalTrafficDetector local_traffic_detector(const ProxyConfig& config);

// Why `name` cannot be a network interface name or prefix (empty, longer
// than the kernel's 15 bytes, or holding what Linux refuses in one: '/', ':',
// whitespace; or '"', which neither iptables-restore nor nft input can
// carry), or nullopt when it can be. kube-proxy itself refuses only an empty
// name.
std::optional<std::string> invalid_interface_name(std::string_view name);

}  // namespace kubenat
