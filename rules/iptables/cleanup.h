#pragma once

// What kube-proxy's iptables mode leaves in iptables (kubenat's iptables mode
// writes the same chains), and the iptables-restore input that takes it away,
// as `kube-proxy --cleanup` does (pkg/proxy/iptables/cleanup.go): kube-proxy's
// chains and every rule of another chain that jumps to one of them.
//
// The kubelet's chains stay: KUBE-MARK-DROP, KUBE-KUBELET-CANARY,
// KUBE-IPTABLES-HINT, and KUBE-FIREWALL, the localnet guard that kube-proxy's
// iptables mode writes too, while the kubelet is there to own it (its canary
// or hint chain exists); on a node without one it is kube-proxy's and goes.

#include <string>
#include <string_view>
#include <vector>

#include "rules/iptables/save.h"

namespace kubenat {

// Whether the kubelet keeps rules in these tables (one family, one
// iptables flavour): its KUBE-KUBELET-CANARY or KUBE-IPTABLES-HINT chain is
// in one of them.
bool kubelet_present(const std::vector<SavedTable>& tables);

// Whether `chain` of `table` ("nat", "filter", "mangle") is kube-proxy's.
bool is_proxy_chain(std::string_view table, std::string_view chain, bool kubelet = true);

struct IptablesLeftovers {
  std::vector<std::string> chains;  // kube-proxy's chains in the table
  std::vector<std::string> jumps;   // rules of other chains that reach them, as "-A CHAIN rule"
  // iptables-restore --noflush input removing both; empty when there is
  // nothing to remove.
  std::string payload;
};

IptablesLeftovers iptables_leftovers(const SavedTable& table, bool kubelet = true);

}  // namespace kubenat
