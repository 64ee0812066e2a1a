#pragma once

// kube-proxy's configuration file (--config): a KubeProxyConfiguration,
// apiVersion kubeproxy.config.k8s.io/v1alpha1, as kubeadm writes it into the
// kube-proxy ConfigMap. Every field of v1alpha1 is known, and each one is
// honoured, accepted because it cannot matter to kubenat (the reason is in
// kube_proxy_configuration.cpp), or rejected when set to something kubenat
// cannot do. kube-proxy's defaulting is kept: an absent, null, empty or zero
// field ("", 0s, null) leaves the value of `base` alone.
//
// Honoured: clientConnection.kubeconfig, hostnameOverride, bindAddress (a
// specific IP becomes the node IP when base has none, as kube-proxy's
// --bind-address does), healthzBindAddress and metricsBindAddress (a bare IP
// gets kube-proxy's port, 10256 and 10249), mode, clusterCIDR
// (comma-separated), nodePortAddresses, detectLocalMode (ClusterCIDR,
// NodeCIDR, BridgeInterface or InterfaceNamePrefix), detectLocal.
// {bridgeInterface, interfaceNamePrefix}, iptables.{masqueradeAll,
// masqueradeBit, syncPeriod, minSyncPeriod, localhostNodePorts},
// nftables.{masqueradeAll, masqueradeBit, syncPeriod, minSyncPeriod} (each
// section into its ProxyModeSection; the one of the mode applies, see
// select_proxy_mode_section()), conntrack.* (an explicit zero there is kept:
// it leaves the kernel's value alone, as in kube-proxy), oomScoreAdj,
// logging.verbosity, featureGates that ask for what kubenat does anyway, and
// bindAddressHardFail (kubenat always exits when it cannot bind).
// serviceProxyName is kubenat's own: a label value, see RunConfig.
//
// Accepted and without effect: clientConnection.{qps, burst, contentType,
// acceptContentTypes}, logging.{format, flushFrequency, vmodule, options},
// configSyncPeriod, showHiddenMetricsForVersion, ipvs.* (ipvs mode is
// rejected, so the section never applies), winkernel.* and
// windowsRunAsService (Windows only).
//
// Errors (one line, naming the field): not YAML or JSON, wrong apiVersion
// or kind, a field kubenat does not know at any level ("unknown field
// \"iptables.foo\"", as kube-proxy's strict decoding), a field given twice, a
// value of the wrong type or that does not parse or is out of range, and
// settings kubenat cannot honour: enableProfiling true, a non-empty
// portRange, iptables.snatNodeInternalIP true, a feature gate set against
// kubenat's behaviour or unknown to it.
//
// Checks that involve flags (the mode, the sync periods against each other,
// BridgeInterface needing an interface) are left to the merged configuration
// (tools/kubenat/run_flags.h), so that a flag can still complete or override
// what the file says.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "engine/daemon/run_config.h"

namespace kubenat {

struct KubeProxyConfigurationLoad {
  RunConfig config;
  // select_proxy_mode_section()'s notes for the file's mode.
  std::vector<std::string> warnings;
};

// Parses the file's text onto `base`, then selects the mode's section.
[[nodiscard]] std::expected<KubeProxyConfigurationLoad, std::string> parse_kube_proxy_configuration(
    std::string_view text, RunConfig base);

// Reads and parses the file at `path`; the result's config_file is `path`.
// Errors start with the path.
[[nodiscard]] std::expected<KubeProxyConfigurationLoad, std::string> load_kube_proxy_configuration(
    const std::string& path, RunConfig base);

// Sets config's masquerade_all, masquerade_bit, sync_period and
// min_sync_period from the section kube-proxy reads in config.proxy_mode:
// nftables_section in nftables mode, iptables_section otherwise (its v1alpha1
// conversion). Returns one note per value of the other section that differs
// and is therefore not used ("iptables.syncPeriod (10s) is not used in
// nftables mode; nftables.syncPeriod (30s) is").
std::vector<std::string> select_proxy_mode_section(RunConfig& config);

// What kube-proxy's /configz serves, as JSON text: {"kubeproxy.config.k8s.io":
// <the KubeProxyConfiguration v1alpha1 of every setting the file can hold,
// the values in effect, durations as Go prints them>, "kubenat": <the
// settings only flags set: node IPs, iptables mode, nftables table, static
// routes>}. parse_kube_proxy_configuration() of the first reads the same
// settings back.
std::string configz(const RunConfig& config);

// kube-proxy's AppendPortIfNeeded: "0.0.0.0" -> "0.0.0.0:10256", "::" ->
// "[::]:10256"; anything that is not a bare IP is returned unchanged.
std::string append_port_if_needed(const std::string& address, int port);

}  // namespace kubenat
