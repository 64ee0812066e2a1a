#pragma once

// Which IP families one `kubenat run` proxies. kube-proxy takes its primary
// family from the node's IPs and runs a proxier per family the platform
// supports. kubenat proxies the second family when the node is dual-stack by
// its own account: node IPs of both families (--node-ip, or the Node
// object's InternalIP and ExternalIP addresses) or cluster CIDRs of both
// (--cluster-cidr, clusterCIDR). A single-stack node so gets no rules of a
// family it does not have, and runs as it always did.

#include <optional>
#include <vector>

#include "rules/ip.h"
#include "rules/model.h"

namespace kubenat {

// The families to proxy, the primary first: the family of the first
// --node-ip, else of the Node's first InternalIP (then ExternalIP), else of
// the first cluster CIDR, else IPv4. `node` is this node's Node object when
// it could be read.
std::vector<IpFamily> ip_families(const std::vector<IpAddress>& node_ips, const std::vector<Cidr>& cluster_cidrs,
                                  const std::optional<Node>& node);

// Whether the flags alone already make the node dual-stack (no need to read
// its Node object to find out).
bool dual_stack_by_flags(const std::vector<IpAddress>& node_ips, const std::vector<Cidr>& cluster_cidrs);

}  // namespace kubenat
