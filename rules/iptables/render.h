#pragma once

#include <string>

#include "rules/iptables/plan.h"

namespace kubenat {

struct IptablesRenderOptions {
  // Include the jumps from the built-in chains. The full plan shows them;
  // a restore payload applied with --noflush leaves them out, because they
  // are ensured one by one.
  bool include_jumps = true;
};

// iptables-restore input for the whole plan in iptables-save layout: per
// table (filter, then nat) the chain declarations, then the rules grouped by
// chain. Deterministic; `iptables-restore --test` accepts it.
std::string render_iptables_restore(const IptablesPlan& plan, const IptablesRenderOptions& options = {});

}  // namespace kubenat
