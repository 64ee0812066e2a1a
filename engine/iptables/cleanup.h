#pragma once

// Taking kube-proxy's iptables chains off a node (rules/iptables/cleanup.h
// says which): for `kubenat cleanup`, and for `kubenat run` in another mode.

#include <cstddef>
#include <expected>
#include <string>
#include <vector>

#include "engine/iptables/runner.h"

namespace kubenat {

struct IptablesCleanupResult {
  std::size_t chains = 0;  // kube-proxy's chains deleted
  std::size_t jumps = 0;   // rules of other chains deleted with them
};

// One iptables-save per table of `tables` ("mangle", "nat", "filter") and one
// iptables-restore for each table that holds something of kube-proxy's, so
// a table is cleaned whole or not at all. KUBE-FIREWALL goes only when no
// table shows the kubelet. The error names the table.
[[nodiscard]] std::expected<IptablesCleanupResult, std::string> remove_iptables_leftovers(
    IptablesRunner& runner, IpFamily family, const std::vector<std::string>& tables);

}  // namespace kubenat
