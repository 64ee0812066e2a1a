#pragma once

// A proxier turns the cluster into kernel rules for one backend: it compiles
// (only what changed) and syncs. The sync loop drives it; each backend
// (iptables now, nftables later) has one.

#include <set>

#include "engine/iptables_syncer.h"
#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat {

class Proxier {
 public:
  virtual ~Proxier() = default;
  // Compiles the rules for `state`. `changed` names the Services whose
  // Service, slices or endpoints changed since the last call; nullptr means
  // anything may have changed (start, node change, resync). Reads the state
  // only here, so the caller may hold its lock for this call alone.
  virtual void compile(const ClusterState& state, const std::set<ObjectName>* changed) = 0;
  // Brings the kernel to the rules last compiled.
  virtual SyncResult apply() = 0;

  SyncResult sync(const ClusterState& state, const std::set<ObjectName>* changed) {
    compile(state, changed);
    return apply();
  }
};

// The configuration for a cluster state: node IPs not given in the flags
// come from this node's Node object (InternalIP, then ExternalIP), as
// kube-proxy does.
ProxyConfig with_node_ips_from_state(const ProxyConfig& config, const ClusterState& state);

// The iptables backend's proxier: recompiles the changed Services into the
// last plan (rules/iptables_compiler.h: recompile_services) and syncs
// through an IptablesSyncer.
class IptablesProxier final : public Proxier {
 public:
  IptablesProxier(IptablesSyncer& syncer, ProxyConfig config) : syncer_(syncer), config_(std::move(config)) {}
  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override;
  SyncResult apply() override;

  // The rules as last compiled (what the kernel holds after a successful sync).
  const std::optional<IptablesPlan>& plan() const { return plan_; }

 private:
  IptablesSyncer& syncer_;
  ProxyConfig config_;
  std::optional<ProxyConfig> compiled_with_;
  std::optional<IptablesPlan> plan_;
  // The service ports the next apply() must diff; nullopt: all of them.
  std::optional<std::set<ServicePortName>> touched_;
  bool unapplied_ = false;
};

}  // namespace kubenat
