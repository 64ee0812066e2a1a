#pragma once

// Stale session-affinity entries in the nftables table. The packet path
// remembers each client of a session-affinity service in the affinity map
// (kNftAffinityMap: client . destination address . protocol . port to the
// endpoint it was sent to; rules/nftables/compiler.cpp says why it is built that
// way). The kernel cannot tell when a remembered endpoint goes away, so after
// a sync that took endpoints from a session-affinity service, the proxier
// reads the map back and deletes what these functions call stale: without
// that, a remembered client would be sent to the gone endpoint until its
// entry timed out.

#include <vector>

#include "rules/ip.h"
#include "rules/nftables/plan.h"

namespace kubenat {

// Whether a service port going from `before` to `after` (either may be null:
// added, removed) can leave entries stale: an endpoint a client could be
// remembered with, for a destination, is no longer one the port would pick
// there for the same kind of client.
bool affinity_endpoints_lost(const NftServicePortRules* before, const NftServicePortRules* after);

// The elements of the affinity map (as read back: keys of client .
// address . protocol . port, data of address . port) that `plan` no longer
// allows: the destination is no session-affinity service's, or the endpoint
// is not among those its service picks for that client. A client in
// `cluster_sources` (the pod CIDRs, the node's own addresses) is judged by
// the endpoints pods and the node get, any other by those outside clients
// get. A NodePort's entries carry the address the client used, which is
// not a service's own destination.
std::vector<NftElement> stale_affinity_entries(const NftPlan& plan, const std::vector<Cidr>& cluster_sources,
                                               const std::vector<NftElement>& entries);

}  // namespace kubenat
