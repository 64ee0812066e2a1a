#pragma once

// Compiles the cluster into kubenat's nftables table, for one IP family,
// with kube-proxy's behaviour (its nftables mode: pkg/proxy/nftables) and a
// layout of kubenat's own, chosen for the cost of routine changes (see
// rules/nftables/compiler.cpp).

#include <map>
#include <memory>
#include <optional>
#include <set>

#include "rules/diagnostic.h"
#include "rules/model.h"
#include "rules/nftables/plan.h"
#include "rules/proxy_config.h"

namespace kubenat {

struct NftCompileResult {
  NftPlan plan;
  Diagnostics diagnostics;
};

// The whole table. Pure and deterministic. A service port whose rules come
// out as they are in `reuse` (the plan this one replaces; may be null) gets
// reuse's fragment, the same object rather than an equal copy, so that
// keeping the old plan for the diff does not double the memory.
NftCompileResult compile_nft(const ClusterState& state, const ProxyConfig& config, const NftPlan* reuse = nullptr);

// The fragments a recompile took out of the plan, as they were.
using NftReplacedPorts = std::map<ServicePortName, std::shared_ptr<const NftServicePortRules>>;

// Recompiles, in place, the service ports of the named Services (removed
// when the Service is gone), keeping the shared references counted, and
// those of any other Service that gains or loses a destination by it (see
// NftPlan::claims). Returns the service ports whose rules may have changed,
// for diff_nft; `replaced`, when given, receives their fragments from
// before (the "before" of that diff).
std::set<ServicePortName> recompile_services_nft(NftPlan& plan, const ClusterState& state, const ProxyConfig& config,
                                                 const std::set<ObjectName>& services,
                                                 NftReplacedPorts* replaced = nullptr);

}  // namespace kubenat
