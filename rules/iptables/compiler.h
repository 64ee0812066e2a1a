#pragma once

// Compiles the cluster into the rules kube-proxy's iptables mode writes, rule
// for rule and with the same chain names, for one IP family.

#include <optional>
#include <set>
#include <string_view>

#include "rules/diagnostic.h"
#include "rules/endpoint_selection.h"
#include "rules/iptables/plan.h"
#include "rules/model.h"
#include "rules/proxy_config.h"
#include "rules/service_port_info.h"

namespace kubenat {

struct IptablesCompileResult {
  IptablesPlan plan;
  Diagnostics diagnostics;
};

// The whole plan. Pure and deterministic: the same state and config give the
// same plan.
IptablesCompileResult compile_iptables(const ClusterState& state, const ProxyConfig& config);

// Recompiles, in place, the service ports of the named Services: their
// fragments are replaced, or removed when the Service is gone from `state`.
// `plan` must be the plan compile_iptables (or this function) made for the
// same config. Returns the service ports whose fragments may have changed,
// for diff_iptables; or nullopt when the cluster crossed the large-cluster
// threshold, which changes every fragment: then compile_iptables anew.
std::optional<std::set<ServicePortName>> recompile_services(IptablesPlan& plan, const ClusterState& state,
                                                            const ProxyConfig& config,
                                                            const std::set<ObjectName>& services);

// The plan without any service port: the shared chains with their fixed
// rules, and the jumps from the built-in chains.
IptablesPlan iptables_base_plan(const ProxyConfig& config);

// One service port's fragment. Exposed so that a sync can recompile only
// the service ports that changed; large_cluster_mode must be the plan's.
ServicePortRules compile_service_port(const ServicePortInfo& port,
                                      const EndpointSelection& selection,
                                      const ProxyConfig& config, bool large_cluster_mode);

// "0x00004000" for bit 14: Go's %#08x, as kube-proxy formats its mark.
std::string masquerade_mark(int masquerade_bit);

// Whether the plan accepts NodePorts on 127.0.0.1: --iptables-localhost-nodeports,
// IPv4, and --nodeport-addresses letting loopback through. The node then
// needs net.ipv4.conf.all.route_localnet = 1 (engine/daemon/node_sysctls.h).
bool accepts_localhost_nodeports(const ProxyConfig& config);

// "%0.10f" of 1/n, as kube-proxy formats statistic probabilities.
std::string probability(std::size_t n);

}  // namespace kubenat
