#include "engine/proxier.h"

#include "rules/iptables_compiler.h"

namespace kubenat {

ProxyConfig with_node_ips_from_state(const ProxyConfig& base, const ClusterState& state) {
  ProxyConfig config = base;
  if (!config.node_ips.empty()) return config;
  auto node = state.nodes.find(config.node_name);
  if (node == state.nodes.end()) return config;
  for (const char* type : {"InternalIP", "ExternalIP"}) {
    for (const NodeAddress& address : node->second.addresses) {
      if (address.type != type) continue;
      auto ip = IpAddress::parse_sloppy(address.address);
      if (ip && ip->family() == config.family) {
        config.node_ips = {*ip};
        return config;
      }
    }
  }
  return config;
}

void IptablesProxier::compile(const ClusterState& state, const std::set<ObjectName>* changed) {
  const ProxyConfig config = with_node_ips_from_state(config_, state);
  const bool same_config = compiled_with_ && compiled_with_->node_ips == config.node_ips;
  std::optional<std::set<ServicePortName>> touched;
  if (plan_ && changed != nullptr && same_config) {
    IptablesPlan next = *plan_;  // shares every fragment
    touched = recompile_services(next, state, config, *changed);
    if (touched) plan_ = std::move(next);
  }
  if (!touched) plan_ = compile_iptables(state, config).plan;
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
  touched_.reset();
  unapplied_ = false;
  return result;
}

}  // namespace kubenat
