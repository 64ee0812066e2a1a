#pragma once

// The control-plane figures of one cell: compile time, the first full sync,
// one-endpoint changes and one-service adds, with the bytes each hands to
// the kernel. kubenat's backends are timed through their proxier (the apply
// alone: compiling is its own figure); the baseline through the payloads
// upstream kube-proxy would write (bench/kube_proxy_baseline.h).

#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bench/bench_options.h"
#include "bench/bench_results.h"
#include "bench/proxier_under_test.h"
#include "bench/synthetic_cluster.h"
#include "engine/network_namespace.h"
#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat::bench {

// Tells the parent which phase the cell is in ("full sync 2/3").
using PhaseReporter = std::function<void(std::string_view phase)>;

// A network namespace rules go into. Each full-sync sample needs an empty
// kernel, so each gets a namespace of its own; the last one is kept, with
// its rules, for the changes (and the data plane).
struct RulesNamespace {
  std::string name;
  // Deletes the namespace with this object; null when someone else owns it
  // (the data plane's node namespace).
  std::unique_ptr<ScopedNetworkNamespace> owned;
};
// The namespace for full-sync sample `sample` (0-based), or with `kept` the
// one the later phases use.
using RulesNamespaces = std::function<std::expected<RulesNamespace, std::string>(int sample, bool kept)>;

struct ControlPlaneSettings {
  BenchBackend backend = BenchBackend::Iptables;
  SyntheticSpec spec;
  ProxyConfig config;
  int runs = 5;
  int full_sync_runs = 3;
  ObjectName spare;  // a Service the changes leave alone (the data plane's)
  std::chrono::milliseconds baseline_timeout = std::chrono::seconds(60);
};

// kubenat's rules in the kept namespace after the scenario. The proxier is
// destroyed before the namespace: its netlink socket would keep it alive.
struct KeptRules {
  RulesNamespace netns;
  std::unique_ptr<ProxierUnderTest> proxier;
};

// kubenat's iptables or nftables backend. Fills the figures into `cell` as
// it goes; `state` ends with the runs' changes in it. Returns the kept
// namespace with the last full sync's rules and the runs' changes, or the
// error that stopped the scenario (the figures measured before it stay in
// `cell`).
[[nodiscard]] std::expected<KeptRules, std::string> measure_kubenat_control_plane(const ControlPlaneSettings& settings,
                                                                                ClusterState& state,
                                                                                const RulesNamespaces& namespaces,
                                                                                const PhaseReporter& phase,
                                                                                CellResult& cell);

// The kube-proxy baseline: full syncs as one restore call (killed after
// settings.baseline_timeout), then upstream's partial-sync payloads applied
// onto a table kubenat's chunked full sync loaded (untimed). No compile
// figure: the rules are kubenat's compiler's.
[[nodiscard]] std::expected<void, std::string> measure_baseline_control_plane(const ControlPlaneSettings& settings,
                                                                              ClusterState& state,
                                                                              const RulesNamespaces& namespaces,
                                                                              const PhaseReporter& phase,
                                                                              CellResult& cell);

// The kube-proxy nftables baseline (bench/kube_proxy_nftables_baseline.h):
// full syncs as one `nft -f` transaction each (killed after
// settings.baseline_timeout), then upstream's partial syncs onto the kept
// namespace, whose table is loaded first in transactions of a few hundred
// service ports (untimed). Each sync is timed from its listing of the
// table's chains and sets to the end of its transaction. No compile figure:
// the text is written from kubenat's model.
[[nodiscard]] std::expected<void, std::string> measure_kube_proxy_nftables_control_plane(
    const ControlPlaneSettings& settings, ClusterState& state, const RulesNamespaces& namespaces,
    const PhaseReporter& phase, CellResult& cell);

}  // namespace kubenat::bench
