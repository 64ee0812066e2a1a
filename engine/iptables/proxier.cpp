#include "engine/iptables/proxier.h"

#include "rules/iptables/compiler.h"

namespace kubenat {

void IptablesProxier::compile(const ClusterState& state, const std::set<ObjectName>* changed) {
  const ProxyConfig config = with_node_ips_from_state(config_, state);
  // What every rule depends on (node IPs; NodeCIDR's pod CIDRs) must not
  // have moved since the plan was compiled, or everything is compiled anew.
  const bool same_config = compiled_with_ && compiled_with_->node_ips == config.node_ips &&
                           compiled_with_->node_pod_cidrs == config.node_pod_cidrs;
  std::optional<std::set<ServicePortName>> touched;
  if (plan_ && changed != nullptr && same_config) {
    IptablesPlan next = *plan_;  // shares every fragment
    touched = recompile_services(next, state, config, *changed);
    if (touched) plan_ = std::move(next);
  }
  if (!touched) {
    IptablesCompileResult compiled = compile_iptables(state, config);
    plan_ = std::move(compiled.plan);
    diagnostics_ = std::move(compiled.diagnostics);
  }
  compiled_with_ = config;
  // A compile whose changes were not applied yet must not be forgotten.
  if (unapplied_) {
    if (touched && touched_) {
      touched->insert(touched_->begin(), touched_->end());
    } else {
      touched.reset();
    }
  }
  touched_ = std::move(touched);
  unapplied_ = true;
}

SyncResult IptablesProxier::apply() {
  // The changed Services are consumed either way: if the sync fails, the
  // syncer's next sync is full, against the desired plan.
  SyncResult result = syncer_.sync(*plan_, touched_ ? &*touched_ : nullptr);
  for (const Diagnostic& diagnostic : diagnostics_) result.warnings.push_back(diagnostic.to_string());
  diagnostics_.clear();
  touched_.reset();
  unapplied_ = false;
  return result;
}

}  // namespace kubenat
