#include "bench/control_plane_scenario.h"

#include <chrono>
#include <set>

#include "bench/bench_cluster.h"
#include "bench/kube_proxy_baseline.h"
#include "bench/kube_proxy_nftables_baseline.h"
#include "engine/daemon/duration.h"
#include "rules/iptables/change.h"
#include "rules/iptables/compiler.h"
#include "rules/nftables/compiler.h"

namespace kubenat::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string sample_phase(std::string_view what, int sample, int of) {
  return std::string(what) + " " + std::to_string(sample + 1) + "/" + std::to_string(of);
}

// Times one apply() of the proxier after compiling `changed`; the apply
// must be a diff.
std::expected<void, std::string> time_change(Proxier& proxier, const ClusterState& state, const ObjectName& changed,
                                             std::string_view what, Figure time, Figure bytes, CellResult& cell) {
  const std::set<ObjectName> services = {changed};
  proxier.compile(state, &services);
  const auto start = Clock::now();
  const SyncResult result = proxier.apply();
  const double ms = ms_since(start);
  if (!result.ok) return std::unexpected(std::string(what) + " (" + changed.to_string() + "): " + result.error);
  if (result.full) {
    return std::unexpected(std::string(what) + " (" + changed.to_string() + ") was applied as a full sync: " +
                           result.reason);
  }
  cell.figures[time].values.push_back(ms);
  cell.figures[bytes].values.push_back(static_cast<double>(result.stats.bytes));
  return {};
}

void time_compile(const ControlPlaneSettings& settings, const ClusterState& state, CellResult& cell) {
  for (int run = 0; run < settings.runs; ++run) {
    const auto start = Clock::now();
    // The plan is freed within the sample: a daemon pays for that too.
    if (settings.backend == BenchBackend::Nftables) {
      (void)compile_nft(state, settings.config);
    } else {
      (void)compile_iptables(state, settings.config);
    }
    cell.figures[Figure::Compile].values.push_back(ms_since(start));
  }
}

// One of upstream's partial syncs: the diff from `current` to `state`'s plan
// with `changed` recompiled, written as kube-proxy writes it. Times the
// diff, the payload and the restore, not the recompile (kubenat's figures
// leave compiling out too).
std::expected<void, std::string> time_partial_sync(const ControlPlaneSettings& settings, const std::string& netns,
                                                   const ClusterState& state, const ObjectName& changed,
                                                   IptablesPlan& current, std::string_view what, Figure time,
                                                   Figure bytes, CellResult& cell) {
  IptablesPlan next = current;  // shares every fragment
  std::optional<std::set<ServicePortName>> touched = recompile_services(next, state, settings.config, {changed});
  if (!touched) next = compile_iptables(state, settings.config).plan;  // crossed the large-cluster threshold
  const auto start = Clock::now();
  const IptablesChange minimal = touched ? diff_iptables(current, next, *touched) : diff_iptables(current, next);
  const std::string payload = kube_proxy_partial_payload(next, minimal);
  auto restored = restore_in_one_call(netns, payload, settings.baseline_timeout);
  const double ms = ms_since(start);
  if (!restored) return std::unexpected(std::string(what) + " (" + changed.to_string() + "): " + restored.error());
  cell.figures[bytes].values.push_back(static_cast<double>(payload.size()));
  if (!*restored) {
    // Every later sample would be refused the same way.
    return std::unexpected(std::string(what) + " (" + changed.to_string() + "): did not finish within " +
                           format_duration(settings.baseline_timeout));
  }
  cell.figures[time].values.push_back(ms);
  current = std::move(next);
  return {};
}

// Service ports per transaction when loading the nftables baseline's table
// for its partial syncs: one transaction of 10,000 costs minutes in the
// kernel (../shared/KERNEL_COSTS.md), a few hundred at a time seconds.
constexpr std::size_t kNftLoadServicePorts = 500;

std::string timed_out_note(const ControlPlaneSettings& settings, std::string_view killed) {
  return "did not finish within " + format_duration(settings.baseline_timeout) + " (" + std::string(killed) +
         " killed)";
}

// One sync of the nftables baseline, as kube-proxy's syncProxyRules runs
// it: list the chains and sets, write the transaction, run `nft -f -`.
// `changed` null: a full sync. Returns false when nft was killed at the
// timeout (the bytes are recorded, the time not).
std::expected<bool, std::string> time_nft_sync(const ControlPlaneSettings& settings, const std::string& netns,
                                               KubeProxyNftables& proxier, const ClusterState& state,
                                               const std::set<ObjectName>* changed, Figure time, Figure bytes,
                                               CellResult& cell) {
  const auto start = Clock::now();
  auto chains = nft_list_names(netns, "chains");
  if (!chains) return std::unexpected(chains.error());
  auto sets = nft_list_names(netns, "sets");
  if (!sets) return std::unexpected(sets.error());
  const std::string text = changed == nullptr ? proxier.full_sync(state).text()
                                              : proxier.partial_sync(state, *changed, *chains, *sets).text();
  auto applied = nft_transaction(netns, text, settings.baseline_timeout);
  const double ms = ms_since(start);
  if (!applied) return std::unexpected(applied.error());
  cell.figures[bytes].values.push_back(static_cast<double>(text.size()));
  if (!*applied) return false;
  cell.figures[time].values.push_back(ms);
  return true;
}

// The whole table into `netns` in transactions of kNftLoadServicePorts
// service ports; `proxier` remembers the elements as after a full sync.
std::expected<void, std::string> load_nft_baseline(const std::string& netns, KubeProxyNftables& proxier,
                                                   const ClusterState& state) {
  const KubeProxyNftables::Transaction tx = proxier.full_sync(state);
  // sections: the fixed part, one per service port, the stale objects.
  std::string chunk = tx.sections.front();
  std::size_t ports = 0;
  for (std::size_t i = 1; i < tx.sections.size(); ++i) {
    chunk += tx.sections[i];
    const bool last = i + 1 == tx.sections.size();
    if (++ports < kNftLoadServicePorts && !last) continue;
    auto applied = nft_transaction(netns, chunk, std::chrono::minutes(10));
    if (!applied) return std::unexpected(applied.error());
    if (!*applied) return std::unexpected("a transaction of " + std::to_string(ports) + " service ports timed out");
    chunk.clear();
    ports = 0;
  }
  return {};
}

}  // namespace

std::expected<KeptRules, std::string> measure_kubenat_control_plane(const ControlPlaneSettings& settings,
                                                                  ClusterState& state,
                                                                  const RulesNamespaces& namespaces,
                                                                  const PhaseReporter& phase, CellResult& cell) {
  phase("compile");
  time_compile(settings, state, cell);

  KeptRules kept;
  for (int sample = 0; sample < settings.full_sync_runs; ++sample) {
    const bool last = sample + 1 == settings.full_sync_runs;
    phase(sample_phase("full sync", sample, settings.full_sync_runs));
    auto netns = namespaces(sample, last);
    if (!netns) return std::unexpected("full sync: " + netns.error());
    auto proxier = open_proxier(settings.backend, netns->name, settings.config);
    if (!proxier) return std::unexpected("full sync: " + proxier.error());
    (*proxier)->proxier().compile(state, nullptr);
    const auto start = Clock::now();
    const SyncResult result = (*proxier)->proxier().apply();
    const double ms = ms_since(start);
    if (!result.ok) return std::unexpected("full sync: " + result.error);
    cell.figures[Figure::FullSync].values.push_back(ms);
    cell.figures[Figure::FullSyncBytes].values.push_back(static_cast<double>(result.stats.bytes));
    if (last) {
      kept.netns = std::move(*netns);
      kept.proxier = std::move(*proxier);
    }
    // Otherwise the proxier goes first, then its namespace.
  }

  phase("one-endpoint changes");
  for (int run = 0; run < settings.runs; ++run) {
    const ObjectName changed = add_endpoint_for_run(state, settings.spec, run, settings.spare);
    if (auto ok = time_change(kept.proxier->proxier(), state, changed, "one-endpoint change", Figure::EndpointChange,
                              Figure::EndpointChangeBytes, cell);
        !ok) {
      return std::unexpected(ok.error());
    }
  }
  phase("one-service adds");
  for (int run = 0; run < settings.runs; ++run) {
    const ObjectName added = add_service_for_run(state, settings.spec, run);
    if (auto ok = time_change(kept.proxier->proxier(), state, added, "one-service add", Figure::ServiceAdd,
                              Figure::ServiceAddBytes, cell);
        !ok) {
      return std::unexpected(ok.error());
    }
  }
  return kept;
}

std::expected<void, std::string> measure_baseline_control_plane(const ControlPlaneSettings& settings,
                                                                ClusterState& state,
                                                                const RulesNamespaces& namespaces,
                                                                const PhaseReporter& phase, CellResult& cell) {
  {
    const IptablesPlan plan = compile_iptables(state, settings.config).plan;
    for (int sample = 0; sample < settings.full_sync_runs; ++sample) {
      phase(sample_phase("full sync (one restore call)", sample, settings.full_sync_runs));
      auto netns = namespaces(sample, false);
      if (!netns) return std::unexpected("full sync: " + netns.error());
      const auto start = Clock::now();
      const std::string payload = kube_proxy_full_payload(plan);
      auto restored = restore_in_one_call(netns->name, payload, settings.baseline_timeout);
      const double ms = ms_since(start);
      if (!restored) return std::unexpected("full sync: " + restored.error());
      cell.figures[Figure::FullSyncBytes].values.push_back(static_cast<double>(payload.size()));
      if (!*restored) {
        FigureSamples& full = cell.figures[Figure::FullSync];
        full.at_least = static_cast<double>(settings.baseline_timeout.count());
        full.note = "did not finish within " + format_duration(settings.baseline_timeout) +
                    " (iptables-nft-restore killed)";
        // Another sample would not finish either.
        break;
      }
      cell.figures[Figure::FullSync].values.push_back(ms);
    }
  }

  // Upstream's partial syncs write onto a full table; kubenat's chunked
  // full sync loads it in seconds where the one call may never finish.
  phase("loading the table (kubenat's full sync, untimed)");
  auto netns = namespaces(settings.full_sync_runs, true);
  if (!netns) return std::unexpected("loading the table: " + netns.error());
  {
    auto loader = open_proxier(BenchBackend::Iptables, netns->name, settings.config);
    if (!loader) return std::unexpected("loading the table: " + loader.error());
    const SyncResult loaded = (*loader)->proxier().sync(state, nullptr);
    if (!loaded.ok) return std::unexpected("loading the table: " + loaded.error);
  }
  IptablesPlan current = compile_iptables(state, settings.config).plan;

  phase("one-endpoint changes (partial sync)");
  for (int run = 0; run < settings.runs; ++run) {
    const ObjectName changed = add_endpoint_for_run(state, settings.spec, run, settings.spare);
    if (auto ok = time_partial_sync(settings, netns->name, state, changed, current, "one-endpoint change",
                                    Figure::EndpointChange, Figure::EndpointChangeBytes, cell);
        !ok) {
      return ok;
    }
  }
  phase("one-service adds (partial sync)");
  for (int run = 0; run < settings.runs; ++run) {
    const ObjectName added = add_service_for_run(state, settings.spec, run);
    if (auto ok = time_partial_sync(settings, netns->name, state, added, current, "one-service add",
                                    Figure::ServiceAdd, Figure::ServiceAddBytes, cell);
        !ok) {
      return ok;
    }
  }
  return {};
}

std::expected<void, std::string> measure_kube_proxy_nftables_control_plane(const ControlPlaneSettings& settings,
                                                                           ClusterState& state,
                                                                           const RulesNamespaces& namespaces,
                                                                           const PhaseReporter& phase,
                                                                           CellResult& cell) {
  for (int sample = 0; sample < settings.full_sync_runs; ++sample) {
    phase(sample_phase("full sync (one nft transaction)", sample, settings.full_sync_runs));
    auto netns = namespaces(sample, false);
    if (!netns) return std::unexpected("full sync: " + netns.error());
    KubeProxyNftables proxier(settings.config);
    auto done =
        time_nft_sync(settings, netns->name, proxier, state, nullptr, Figure::FullSync, Figure::FullSyncBytes, cell);
    if (!done) return std::unexpected("full sync: " + done.error());
    if (!*done) {
      FigureSamples& full = cell.figures[Figure::FullSync];
      full.at_least = static_cast<double>(settings.baseline_timeout.count());
      full.note = timed_out_note(settings, "nft");
      break;  // another sample would not finish either
    }
  }

  phase("loading the table (transactions of " + std::to_string(kNftLoadServicePorts) + " service ports, untimed)");
  auto netns = namespaces(settings.full_sync_runs, true);
  if (!netns) return std::unexpected("loading the table: " + netns.error());
  KubeProxyNftables proxier(settings.config);
  if (auto loaded = load_nft_baseline(netns->name, proxier, state); !loaded) {
    return std::unexpected("loading the table: " + loaded.error());
  }

  struct Phase {
    std::string_view what;
    Figure time, bytes;
  };
  for (const Phase& p : {Phase{"one-endpoint change", Figure::EndpointChange, Figure::EndpointChangeBytes},
                         Phase{"one-service add", Figure::ServiceAdd, Figure::ServiceAddBytes}}) {
    phase(std::string(p.what) + "s (partial sync)");
    for (int run = 0; run < settings.runs; ++run) {
      const ObjectName changed = p.time == Figure::EndpointChange
                                     ? add_endpoint_for_run(state, settings.spec, run, settings.spare)
                                     : add_service_for_run(state, settings.spec, run);
      const std::set<ObjectName> services = {changed};
      auto done = time_nft_sync(settings, netns->name, proxier, state, &services, p.time, p.bytes, cell);
      const std::string where = std::string(p.what) + " (" + changed.to_string() + "): ";
      if (!done) return std::unexpected(where + done.error());
      if (!*done) return std::unexpected(where + timed_out_note(settings, "nft"));
    }
  }
  return {};
}

}  // namespace kubenat::bench
