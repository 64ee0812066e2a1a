#pragma once

// What the kernel must do to go from one iptables plan to another, and its
// iptables-restore form. Chains are the unit of change: a chain whose rules
// differ is rewritten whole (declaring it in a --noflush restore flushes it),
// a chain that is gone is flushed and deleted. Everything else is left alone,
// so a one-endpoint change touches that service's chains only.
//
// The shared chains (KUBE-SERVICES, KUBE-NODEPORTS, ...) are the exception:
// they hold a rule or two of every service port, so rewriting one for a
// Service added or removed costs the size of the cluster (2.3 s at 10,000
// Services on iptables-nft). When only some service ports' contributions to
// such a chain changed, those rules are edited in place instead: `-D` by rule
// text for the old ones, `-I <position>` for the new ones, at the position a
// full rewrite would give them, so the chain ends up rule for rule (order
// included) what a full sync writes.

#include <cstddef>
#include <cstdint>
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

// One rule deleted from or inserted into a shared chain that is not
// rewritten.
struct RuleEdit {
  enum class Kind : std::uint8_t { Delete, Insert };
  Kind kind = Kind::Insert;
  IptablesTable table = IptablesTable::Nat;
  std::string chain;
  std::string rule;  // the text after "-A <chain> ", as written
  // Insert: the rule's 1-based position in the chain once every edit of the
  // chain is done.
  std::size_t position = 0;
  bool operator==(const RuleEdit&) const = default;
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
  // Rules of shared chains edited in place (such a chain is not among the
  // writes), applied after the writes and before the deletes: per chain the
  // deletions first, then the insertions by ascending position, so each
  // insertion finds every rule before it in place.
  std::vector<RuleEdit> edits;
  // The service ports whose fragment changed, was added or was removed.
  std::vector<ServicePortName> changed_service_ports;

  bool empty() const { return writes.empty() && deletes.empty() && edits.empty(); }
  bool operator==(const IptablesChange&) const = default;
};

struct IptablesDiffOptions {
  // Edit the shared chains in place where only some service ports' rules in
  // them changed. False: rewrite every shared chain that changed, as
  // kube-proxy does (the fallback when the kernel refuses an edit, because
  // someone else changed the chain).
  bool edit_shared_chains_in_place = true;
};

// The change from `before` to `after`. Compares every service port; use the
// overload below when the caller knows which ones may have changed.
IptablesChange diff_iptables(const IptablesPlan& before, const IptablesPlan& after,
                             const IptablesDiffOptions& options = {});

// The same, looking only at the named service ports (and the shared chains):
// cost follows the number of changed ports, not the size of the plan. Ports
// not named must be equal in both plans.
IptablesChange diff_iptables(const IptablesPlan& before, const IptablesPlan& after,
                             const std::set<ServicePortName>& candidates, const IptablesDiffOptions& options = {});

// Everything the plan holds, as writes (no deletes): what a full sync writes
// before it deletes the kernel's stale chains.
IptablesChange full_iptables_change(const IptablesPlan& plan);

// The change as iptables-restore --noflush input, split into payloads of at
// most about `max_bytes` each (a single chain larger than that gets a payload
// of its own). Applied in order, every payload leaves the kernel consistent:
// no rule ever jumps to a chain that does not exist yet, and deletions come
// last, after the rules that jumped to them are gone; the in-place edits go
// with the last writes, before the deletions. One payload when max_bytes
// is 0.
std::vector<std::string> render_iptables_change(const IptablesChange& change, std::size_t max_bytes = 0);

// Which kubenat-owned chains kube-proxy would also recognise as per-service
// chains: KUBE-SVC-, KUBE-SVL-, KUBE-EXT-, KUBE-FW-, KUBE-SEP-.
bool is_service_chain(std::string_view name);

}  // namespace kubenat
