#pragma once

// Both IP families behind one Proxier, as kube-proxy's metaproxier: a
// dual-stack node runs one proxier per family (iptables and ip6tables, the
// ip and ip6 nftables tables), and the sync loop drives them as one, so both
// families see every change in the same sync. Each family compiles the same
// state (the compilers keep what is of their family: cluster IPs, slices,
// node IPs) and applies on its own; one family failing does not stop the
// other from applying.

#include <set>
#include <string>

#include "engine/proxier.h"
#include "rules/ip.h"

namespace kubenat {

class DualStackProxier final : public Proxier {
 public:
  // `primary` is the node's own family (its first node IP's); both proxiers
  // must outlive this one.
  DualStackProxier(IpFamily primary_family, Proxier& primary, Proxier& secondary)
      : primary_family_(primary_family), primary_(primary), secondary_(secondary) {}

  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override;
  // Applies the primary family, then the secondary. The result is ok when
  // both are; it is full when either was; stats are summed; `by_family`
  // holds each family's own result (primary first), with its family set.
  SyncResult apply() override;
  void force_full_sync(std::string reason) override;

 private:
  IpFamily primary_family_;
  Proxier& primary_;
  Proxier& secondary_;
};

// The two families' results as one (see DualStackProxier::apply), for
// whoever combines per-family syncs.
SyncResult combine_family_results(SyncResult primary, SyncResult secondary);

}  // namespace kubenat
