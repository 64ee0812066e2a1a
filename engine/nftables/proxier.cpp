#include "engine/nftables/proxier.h"

#include <algorithm>

#include "rules/conntrack_cleanup.h"
#include "rules/local_traffic_detector.h"
#include "rules/nftables/affinity_cleanup.h"
#include "rules/nftables/compiler.h"
#include "rules/nftables/diff.h"

namespace kubenat {

NftProxier::NftProxier(NftBackend& backend, ConntrackCleaner* conntrack, const Clock& clock, ProxyConfig config,
                       Options options)
    : backend_(backend),
      conntrack_(conntrack),
      config_(std::move(config)),
      policy_(clock, options.full_sync_period, options.integrity_check_period) {}

namespace {

SyncStats sync_stats_of(const NftApplyStats& applied) {
  return SyncStats{.objects_written = applied.chains_written + applied.sets_added,
                   .objects_deleted = applied.chains_deleted + applied.sets_deleted,
                   .elements_added = applied.elements_added,
                   .elements_removed = applied.elements_removed,
                   .bytes = applied.bytes,
                   .transactions = applied.transactions};
}

std::string summary_of(const NftApplyStats& applied) {
  return std::to_string(applied.elements_added) + " elements added, " + std::to_string(applied.elements_removed) +
         " removed, " + std::to_string(applied.chains_written) + " chains and " + std::to_string(applied.sets_added) +
         " sets written, " + std::to_string(applied.chains_deleted + applied.sets_deleted) + " deleted, " +
         std::to_string(applied.bytes) + " netlink bytes in " + std::to_string(applied.transactions) +
         (applied.transactions == 1 ? " transaction" : " transactions");
}

// The parts of `after`'s counters that the ports in `old_fragments` and
// `new_fragments` refer to, as they were before those ports changed.
void before_refs(const NftAddressRefs& after, const std::vector<const NftServicePortRules*>& old_fragments,
                 const std::vector<const NftServicePortRules*>& new_fragments, NftAddressRefs& before) {
  std::map<IpAddress, long> delta;
  for (const NftServicePortRules* f : old_fragments) {
    for (const IpAddress& ip : f->hairpin_ips) ++delta[ip];
  }
  for (const NftServicePortRules* f : new_fragments) {
    for (const IpAddress& ip : f->hairpin_ips) --delta[ip];
  }
  for (const auto& [ip, d] : delta) {
    const long count = static_cast<long>(after.refs(ip)) + d;
    if (count > 0) before.set(ip, static_cast<std::uint32_t>(count));
  }
}

}  // namespace

void NftProxier::compile(const ClusterState& state, const std::set<ObjectName>* changed) {
  // compile() and apply() alternate; a second compile would lose the first
  // one's change, so the next apply is then full.
  if (compiled_) policy_.force("compiled twice without applying");
  const ProxyConfig config = with_node_ips_from_state(config_, state);
  // What every rule depends on (node IPs; NodeCIDR's pod CIDRs) must not
  // have moved since the plan was compiled, or everything is compiled anew.
  const bool same_config = compiled_with_ && compiled_with_->node_ips == config.node_ips &&
                           compiled_with_->node_pod_cidrs == config.node_pod_cidrs;
  pending_change_.reset();
  before_view_.reset();
  if (plan_ && changed != nullptr && same_config) {
    // The "before" of the change: the layout (pick chains included), the old
    // fragments of the recompiled ports (the changed Services' and those of
    // Services that gained or lost a destination by them), and the hairpin
    // counters they touch.
    NftPlan before;
    before.family = plan_->family;
    before.table = plan_->table;
    before.sets = plan_->sets;
    before.chains = plan_->chains;
    before.fixed_elements = plan_->fixed_elements;
    const std::set<ServicePortName> touched =
        recompile_services_nft(*plan_, state, config, *changed, &before.service_ports);
    std::vector<const NftServicePortRules*> old_fragments, new_fragments;
    for (const auto& [name, fragment] : before.service_ports) old_fragments.push_back(fragment.get());
    for (const ServicePortName& name : touched) {
      if (auto it = plan_->service_ports.find(name); it != plan_->service_ports.end()) new_fragments.push_back(it->second.get());
    }
    before_refs(plan_->hairpin_refs, old_fragments, new_fragments, before.hairpin_refs);
    pending_change_ = diff_nft(before, *plan_, touched);
    before_view_ = std::move(before);
  } else {
    if (plan_) before_view_ = std::move(*plan_);
    NftCompileResult compiled = compile_nft(state, config, before_view_ ? &*before_view_ : nullptr);
    plan_ = std::move(compiled.plan);
    diagnostics_ = std::move(compiled.diagnostics);
    // Everything was recompiled; still, the kernel needs only the difference.
    if (before_view_) pending_change_ = diff_nft(*before_view_, *plan_);
  }
  compiled_with_ = config;
  compiled_ = true;
}

SyncResult NftProxier::apply() {
  SyncResult result;
  compiled_ = false;
  for (const Diagnostic& diagnostic : diagnostics_) result.warnings.push_back(diagnostic.to_string());
  diagnostics_.clear();
  const std::optional<std::string> reason =
      policy_.reason(applied_once_, [this] { return backend_.table_intact(); },
                     "table missing or recreated: someone flushed the ruleset or replaced kubenat's table");
  result.full = reason.has_value();
  result.reason = reason.value_or("");

  std::expected<NftApplyStats, NftApplyError> applied;
  if (result.full) {
    const std::map<std::string, std::vector<NftTimedElement>> carried = remembered_clients(result);
    applied = backend_.apply_full(*plan_, carried);
    if (!applied && !carried.empty()) {
      // A kernel that refuses elements with expirations must not cost the
      // rules: start over without them.
      result.warnings.push_back("session affinity: remembered clients forgotten: " + applied.error().message);
      applied = backend_.apply_full(*plan_);
    }
  } else {
    applied = backend_.apply(*pending_change_, NftApplyContext{before_view_ ? &*before_view_ : nullptr, &*plan_});
  }
  if (!applied) {
    result.error = applied.error().message;
    result.stats = sync_stats_of(applied.error().done);
    policy_.synced(result.full, false);
    return result;
  }
  result.ok = true;
  result.stats = sync_stats_of(*applied);
  result.summary = summary_of(*applied);

  // A full apply made the table afresh: nothing is remembered yet.
  if (!result.full && pending_change_ && before_view_) {
    bool lost = false;
    for (const ServicePortName& name : pending_change_->changed_service_ports) {
      auto was = before_view_->service_ports.find(name);
      auto now = plan_->service_ports.find(name);
      lost = lost || affinity_endpoints_lost(was == before_view_->service_ports.end() ? nullptr : was->second.get(),
                                             now == plan_->service_ports.end() ? nullptr : now->second.get());
    }
    if (lost) forget_stale_affinity(result);
  }

  if (conntrack_ != nullptr) {
    // The ports to compare: the change's; after a full apply, every port.
    const NftPlan* before = before_view_ ? &*before_view_ : nullptr;
    std::vector<ConntrackFilter> stale;
    if (!result.full && pending_change_) {
      std::vector<ServicePortName> ports = pending_change_->changed_service_ports;
      std::sort(ports.begin(), ports.end());
      ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
      stale = stale_udp_flows(plan_->family, udp_targets_of(before), udp_targets_of(&*plan_), ports);
    } else {
      stale = stale_udp_flows(before, *plan_);
    }
    result.conntrack = clean_stale_flows(*conntrack_, stale, result.warnings);
  }
  policy_.synced(result.full, true);
  applied_once_ = true;
  pending_change_.reset();
  before_view_.reset();
  return result;
}

namespace {

const NftSet* affinity_map_of(const NftPlan& plan) {
  for (const NftSet& set : plan.sets) {
    if (set.name == kNftAffinityMap) return &set;
  }
  return nullptr;
}

}  // namespace

std::vector<Cidr> NftProxier::cluster_sources() const {
  std::vector<Cidr> sources;
  const ProxyConfig& config = compiled_with_ ? *compiled_with_ : config_;
  // The pods' range as the rules tell pod traffic: the detector's CIDR
  // (ClusterCIDR, NodeCIDR). With the interface modes an address says
  // nothing, so the cluster CIDRs, when given, still stand for the pods.
  const LocalTrafficDetector detector = local_traffic_detector(config);
  if (detector.match == LocalTrafficDetector::Match::SourceCidr) {
    sources.push_back(detector.cidr);
  } else {
    for (const Cidr& cidr : config.cluster_cidrs) {
      if (cidr.family() == plan_->family) sources.push_back(cidr);
    }
  }
  for (const auto* addresses : {&config.node_ips, &config.local_addresses}) {
    for (const IpAddress& ip : *addresses) {
      if (ip.family() == plan_->family) sources.emplace_back(ip, ip.is_v4() ? 32 : 128);
    }
  }
  return sources;
}

std::vector<NftElement> NftProxier::stale_among(const std::vector<NftTimedElement>& entries) const {
  std::vector<NftElement> elements;
  for (const NftTimedElement& entry : entries) elements.push_back(entry.element);
  return stale_affinity_entries(*plan_, cluster_sources(), elements);
}

std::map<std::string, std::vector<NftTimedElement>> NftProxier::remembered_clients(SyncResult& result) {
  const NftSet* map = affinity_map_of(*plan_);
  if (map == nullptr) return {};
  auto entries = backend_.read_elements(*map);
  if (!entries) {
    // Before the first sync there may well be no table to read.
    if (applied_once_) {
      result.warnings.push_back("session affinity: remembered clients not read, so this full sync forgets them: " +
                                entries.error());
    }
    return {};
  }
  const std::vector<NftElement> stale = stale_among(*entries);
  const std::set<NftElement> gone(stale.begin(), stale.end());
  std::erase_if(*entries, [&](const NftTimedElement& entry) { return gone.contains(entry.element); });
  if (entries->empty()) return {};
  return {{kNftAffinityMap, std::move(*entries)}};
}

void NftProxier::forget_stale_affinity(SyncResult& result) {
  const NftSet* map = affinity_map_of(*plan_);
  if (map == nullptr) return;
  // An entry may time out between the read and the delete, and the kernel
  // refuses a transaction that deletes an element that is not there: read
  // again and retry once.
  std::string error;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto entries = backend_.read_elements(*map);
    if (!entries) {
      error = entries.error();
      break;
    }
    NftChange change;
    change.family = plan_->family;
    change.table = plan_->table;
    for (NftElement& element : stale_among(*entries)) {
      change.elements_removed.emplace_back(kNftAffinityMap, std::move(element));
    }
    auto applied = backend_.apply(change);
    if (applied) {
      result.stats.bytes += applied->bytes;
      result.stats.transactions += applied->transactions;
      result.stats.elements_removed += applied->elements_removed;
      return;
    }
    error = applied.error().message;
  }
  ++result.cleanup_failures;
  result.warnings.push_back("session affinity: stale entries not deleted (they expire by themselves): " + error);
}

}  // namespace kubenat
