#pragma once

// The iptables backend's proxier: recompiles the changed Services into the
// last plan (rules/iptables/compiler.h: recompile_services) and syncs
// through an IptablesSyncer. What a complete compile finds wrong in the
// objects (rules/diagnostic.h) is reported in the next apply()'s warnings.

#include <optional>
#include <set>

#include "engine/iptables/syncer.h"
#include "engine/proxier.h"
#include "rules/diagnostic.h"
#include "rules/iptables/plan.h"
#include "rules/proxy_config.h"

namespace kubenat {

class IptablesProxier final : public Proxier {
 public:
  IptablesProxier(IptablesSyncer& syncer, ProxyConfig config) : syncer_(syncer), config_(std::move(config)) {}
  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override;
  SyncResult apply() override;
  void force_full_sync(std::string reason) override { syncer_.force_full_sync(std::move(reason)); }

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
  // What the last complete compile found wrong in the objects, for the next
  // apply()'s warnings.
  Diagnostics diagnostics_;
};

}  // namespace kubenat
