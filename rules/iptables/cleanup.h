#pragma once

// What kube-proxy's iptables mode leaves in iptables (kubenat's iptables mode
// writes the same chains), and the iptables-restore input that takes it away,
// as `kube-proxy --cleanup` does (pkg/proxy/iptables/cleanup.go): kube-proxy's
// chains and every rule of another chain that jumps to one of them.
//
// The kubelet's chains stay, as kube-proxy leaves them: KUBE-FIREWALL (the
// localnet guard kube-proxy also writes) and its jumps, KUBE-MARK-DROP,
// KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT.

#include <string>
#include <string_view>
#include <vector>

#include "rules/iptables/save.h"

namespace kubenat {

// Whether `chain` of `table` ("nat", "filter", "mangle") is kube-proxy's.
bool is_proxy_chain(std::string_view table, std::string_view chain);

struct IptablesLeftovers {
  std::vector<std::string> chains;  // kube-proxy's chains in the table
  std::vector<std::string> jumps;   // rules of other chains that reach them, as "-A CHAIN rule"
  // iptables-restore --noflush input removing both; empty when there is
  // nothing to remove.
  std::string payload;
};

IptablesLeftovers iptables_leftovers(const SavedTable& table);

}  // namespace kubenat
