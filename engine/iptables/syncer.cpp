#include "engine/iptables/syncer.h"

#include "rules/conntrack_cleanup.h"

namespace kubenat {
namespace {

// What was applied, in the terms all backends share and in iptables' words.
void report(const IptablesApplyStats& applied, SyncResult& result) {
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    result.rules_written_by_table[std::string(table_name(table))] =
        applied.rules_written[static_cast<std::size_t>(table)];
  }
  result.stats.objects_written = applied.chains_written + applied.rules_edited;
  result.stats.objects_deleted = applied.chains_deleted;
  result.stats.bytes = applied.bytes;
  result.stats.transactions = applied.payloads;
  result.summary =
      std::to_string(applied.chains_written) + " chains written, " +
      (applied.rules_edited == 0 ? "" : std::to_string(applied.rules_edited) + " shared rules edited in place, ") +
      std::to_string(applied.chains_deleted) + " deleted, " + std::to_string(applied.bytes) + " bytes in " +
      std::to_string(applied.payloads) + (applied.payloads == 1 ? " iptables-restore call" : " iptables-restore calls");
}

}  // namespace

void IptablesSyncer::force_full_sync(std::string reason) { policy_.force(std::move(reason)); }

std::string IptablesSyncer::describe(const IptablesApplyError& error, const IptablesPlan& plan) const {
  std::string out = error.message;
  if (!error.chain) return out;
  out += " (chain " + *error.chain;
  // A chain being written belongs to the new plan; one being deleted, to the
  // service port that owned it in the applied one.
  auto owner = [&](const IptablesPlan& in) -> const ServicePortName* {
    for (const auto& [name, fragment] : in.service_ports) {
      for (const OwnedChain& chain : fragment->chains) {
        if (chain.name == *error.chain) return &name;
      }
    }
    return nullptr;
  };
  const ServicePortName* name = owner(plan);
  if (name == nullptr && applied_) name = owner(*applied_);
  if (name != nullptr) {
    out += " of service port " + name->to_string() + "/" + std::string(protocol_lower(name->protocol));
  }
  return out + ")";
}

SyncResult IptablesSyncer::sync(IptablesPlan plan, const std::set<ServicePortName>* changed) {
  SyncResult result;
  const std::optional<std::string> reason =
      policy_.reason(applied_.has_value(), [this] { return backend_.canary_intact(); },
                     "canary missing: the tables were flushed or rebuilt");
  result.full = reason.has_value();
  result.reason = reason.value_or("");

  // A switch into or out of large-cluster mode changes every fragment (the
  // comments), whatever `changed` says.
  const bool use_changed = changed != nullptr && applied_ && applied_->large_cluster_mode == plan.large_cluster_mode;
  std::vector<ServicePortName> changed_ports;
  std::expected<IptablesApplyStats, IptablesApplyError> applied;
  if (result.full) {
    applied = backend_.apply_full(plan);
  } else {
    auto diff = [&](const IptablesDiffOptions& options) {
      return use_changed ? diff_iptables(*applied_, plan, *changed, options) : diff_iptables(*applied_, plan, options);
    };
    IptablesChange change = diff({});
    changed_ports = std::move(change.changed_service_ports);
    applied = backend_.apply(change);
    if (!applied && applied.error().in_place_edit) {
      // The edits assume the shared chains hold what kubenat wrote; a
      // rule to delete that is not there, or a position past the end
      // (someone edited the chain), fails the payload holding the edits,
      // which applies nothing of it. The chains are then rewritten whole,
      // as kube-proxy always does; the payloads before it are written
      // again, which changes nothing. Any other failure is left to the
      // next sync, which is full.
      result.warnings.push_back("editing the shared chains in place failed (" + describe(applied.error(), plan) +
                                "); rewriting them");
      applied = backend_.apply(diff({.edit_shared_chains_in_place = false}));
    }
  }
  if (!applied) {
    // The payloads before the refused one are in; what the kernel holds is
    // no longer the last plan. Only a full sync can tell and repair.
    result.error = describe(applied.error(), plan);
    report(applied.error().done, result);
    policy_.synced(result.full, false);
    return result;
  }
  result.ok = true;
  report(*applied, result);
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    result.rules_by_table[std::string(table_name(table))] = plan.rule_count(table);
  }

  if (conntrack_ != nullptr) {
    // A full sync may follow anything (a restart, a flush): every port is
    // compared; a diff sync compares the ports it changed.
    const std::vector<ConntrackFilter> stale =
        result.full ? stale_udp_flows(applied_ ? &*applied_ : nullptr, plan)
                    : stale_udp_flows(plan.family, udp_targets_of(applied_ ? &*applied_ : nullptr),
                                      udp_targets_of(&plan), changed_ports);
    result.conntrack = clean_stale_flows(*conntrack_, stale, result.warnings);
  }
  policy_.synced(result.full, true);
  applied_ = std::move(plan);
  return result;
}

}  // namespace kubenat
