#pragma once

// Compiles the cluster into kubenat's nftables table, for one IP family,
// with kube-proxy's behaviour (its nftables mode: pkg/proxy/nftables) and a
// layout of kubenat's own, chosen for the cost of routine changes (see
// rules/nft_compiler.cpp).

#include <optional>
#include <set>

#include "rules/diagnostic.h"
#include "rules/model.h"
#include "rules/nft_plan.h"
#include "rules/proxy_config.h"

namespace kubenat {

struct NftCompileResult {
  NftPlan plan;
  Diagnostics diagnostics;
};

// The whole table. Pure and deterministic.
NftCompileResult compile_nft(const ClusterState& state, const ProxyConfig& config);

// Recompiles, in place, the service ports of the named Services (removed
// when the Service is gone), keeping the shared references counted. Returns
// the service ports whose rules may have changed, for diff_nft.
std::set<ServicePortName> recompile_services_nft(NftPlan& plan, const ClusterState& state, const ProxyConfig& config,
                                                 const std::set<ObjectName>& services);

}  // namespace kubenat
