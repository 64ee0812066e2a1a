#pragma once

// The change between two nftables plans (rules/nftables/change.h).

#include <set>

#include "rules/nftables/change.h"
#include "rules/nftables/plan.h"

namespace kubenat {

// Compares every service port.
NftChange diff_nft(const NftPlan& before, const NftPlan& after);

// Compares the fixed layout and only the named service ports, which must be
// the only ones that may differ: the cost follows the change.
NftChange diff_nft(const NftPlan& before, const NftPlan& after, const std::set<ServicePortName>& candidates);

}  // namespace kubenat
