#include "engine/dual_stack_proxier.h"

#include <utility>

namespace kubenat {
namespace {

IpFamily other(IpFamily family) { return family == IpFamily::V4 ? IpFamily::V6 : IpFamily::V4; }

std::string label(const SyncResult& result) {
  return result.family ? std::string(ip_family_name(*result.family)) + ": " : std::string();
}

void add(SyncStats& into, const SyncStats& from) {
  into.objects_written += from.objects_written;
  into.objects_deleted += from.objects_deleted;
  into.elements_added += from.elements_added;
  into.elements_removed += from.elements_removed;
  into.bytes += from.bytes;
  into.transactions += from.transactions;
}

}  // namespace

void DualStackProxier::compile(const ClusterState& state, const std::set<ObjectName>* changed) {
  primary_.compile(state, changed);
  secondary_.compile(state, changed);
}

SyncResult DualStackProxier::apply() {
  SyncResult primary = primary_.apply();
  primary.family = primary_family_;
  SyncResult secondary = secondary_.apply();
  secondary.family = other(primary_family_);
  return combine_family_results(std::move(primary), std::move(secondary));
}

void DualStackProxier::force_full_sync(std::string reason) {
  primary_.force_full_sync(reason);
  secondary_.force_full_sync(std::move(reason));
}

SyncResult combine_family_results(SyncResult primary, SyncResult secondary) {
  SyncResult combined;
  combined.ok = primary.ok && secondary.ok;
  combined.full = primary.full || secondary.full;
  combined.reason = primary.full ? primary.reason : secondary.reason;
  add(combined.stats, primary.stats);
  add(combined.stats, secondary.stats);
  combined.summary = label(primary) + primary.summary + "; " + label(secondary) + secondary.summary;
  for (const SyncResult* part : {&primary, &secondary}) {
    if (!part->ok) combined.error += (combined.error.empty() ? "" : "; ") + label(*part) + part->error;
    if (part->conntrack) {
      ConntrackCleanup& total = combined.conntrack.emplace(combined.conntrack.value_or(ConntrackCleanup{}));
      total.filters += part->conntrack->filters;
      total.deleted += part->conntrack->deleted;
      total.took += part->conntrack->took;
    }
    for (const std::string& warning : part->warnings) combined.warnings.push_back(label(*part) + warning);
    for (const std::string& note : part->notes) combined.notes.push_back(label(*part) + note);
    combined.cleanup_failures += part->cleanup_failures;
  }
  combined.by_family.push_back(std::move(primary));
  combined.by_family.push_back(std::move(secondary));
  return combined;
}

}  // namespace kubenat
