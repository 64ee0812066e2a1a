#pragma once

// What the kernel must do to go from one iptables plan to another, and its
// iptables-restore form. Chains are the unit of change: a chain whose rules
// differ is rewritten whole (declaring it in a --noflush restore flushes it),
// a chain that is gone is flushed and deleted. Everything else is left alone,
// so a one-endpoint change touches that service's chains only.

#include <set>
#include <string>
#include <vector>

#include "rules/iptables/plan.h"

namespace kubenat {

struct ChainWrite {
  IptablesTable table = IptablesTable::Nat;
  IptablesChain chain;
  bool operator==(const ChainWrite&) const = default;
};

struct ChainDelete {
  IptablesTable table = IptablesTable::Nat;
  ChainName name;
  bool operator==(const ChainDelete&) const = default;
};

struct IptablesChange {
  IpFamily family = IpFamily::V4;
  // Chains to create or rewrite, ordered so that every chain is written no
  // later than the rules that jump to it: endpoint chains, then service
  // chains, then external and firewall chains, then the shared chains.
  std::vector<ChainWrite> writes;
  // Chains to flush and delete once the writes are done and nothing jumps to
  // them any more.
  std::vector<ChainDelete> deletes;
  // The service ports whose fragment changed, was added or was removed.
  std::vector<ServicePortName> changed_service_ports;

  bool empty() const { return writes.empty() && deletes.empty(); }
  bool operator==(const IptablesChange&) const = default;
};

// The change from `before` to `after`. Compares every service port; use the
// overload below when the caller knows which ones may have changed.
IptablesChange diff_iptables(const IptablesPlan& before, const IptablesPlan& after);

// The same, looking only at the named service ports (and the shared chains):
// cost follows the number of changed ports, not the size of the plan. Ports
// not named must be equal in both plans.
IptablesChange diff_iptables(const IptablesPlan& before, const IptablesPlan& after,
                             const std::set<ServicePortName>& candidates);

// Everything the plan holds, as writes (no deletes): what a full sync writes
// before it deletes the kernel's stale chains.
IptablesChange full_iptables_change(const IptablesPlan& plan);

// The change as iptables-restore --noflush input, split into payloads of at
// most about `max_bytes` each (a single chain larger than that gets a payload
// of its own). Applied in order, every payload leaves the kernel consistent:
// no rule ever jumps to a chain that does not exist yet, and deletions come
// last, after the rules that jumped to them are gone. One payload when
// max_bytes is 0.
std::vector<std::string> render_iptables_change(const IptablesChange& change, std::size_t max_bytes = 0);

// Which kubenat-owned chains kube-proxy would also recognise as per-service
// chains: KUBE-SVC-, KUBE-SVL-, KUBE-EXT-, KUBE-FW-, KUBE-SEP-.
bool is_service_chain(std::string_view name);

}  // namespace kubenat
