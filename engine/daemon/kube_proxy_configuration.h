#pragma once

// kube-proxy's configuration file (--config): a KubeProxyConfiguration,
// apiVersion kubeproxy.config.k8s.io/v1alpha1, as kubeadm writes it into the
// kube-proxy ConfigMap. The fields kubenat uses are read into a RunConfig;
// kube-proxy's defaulting is kept: an absent, null, empty or zero field
// ("", 0s, null) leaves the value of `base` alone.
//
// Values are read, not validated: a mode other than iptables, a sync period
// below the minimum or a masquerade bit out of range are the merged
// configuration's problem (tools/kubenat/run_flags.h checks it), so that a
// flag can still override what the file says.
//
// Used: clientConnection.kubeconfig, hostnameOverride, clusterCIDR
// (comma-separated), mode, iptables.{masqueradeAll,
// masqueradeBit, syncPeriod, minSyncPeriod, localhostNodePorts},
// conntrack.{maxPerCore, min, tcpEstablishedTimeout, tcpCloseWaitTimeout,
// tcpBeLiberal, udpTimeout, udpStreamTimeout} (an explicit zero there is
// kept: it leaves the kernel's value alone, as in kube-proxy),
// nodePortAddresses, healthzBindAddress and metricsBindAddress (a bare IP
// gets kube-proxy's port, 10256 and 10249), logging.verbosity, bindAddress (a
// specific IP becomes the node IP when base has none, as kube-proxy's
// --bind-address does).
//
// Warned about, then ignored: fields kubenat does not know, and settings it
// does not implement when they are not zero: ipvs.*, nftables.*,
// winkernel.*, detectLocalMode other than ClusterCIDR, detectLocal.*, featureGates,
// enableProfiling, oomScoreAdj, portRange, showHiddenMetricsForProbes.
// Ignored silently: client tuning (clientConnection.{qps, burst, contentType,
// acceptContentTypes}), configSyncPeriod, bindAddressHardFail and logging
// options other than verbosity.
//
// Errors (one line, naming the field): not YAML or JSON, wrong apiVersion
// or kind, a value of the wrong type or that does not parse.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "engine/daemon/run_config.h"

namespace kubenat {

struct KubeProxyConfigurationLoad {
  RunConfig config;
  // One line each, starting with the field: "ipvs.scheduler: ...".
  std::vector<std::string> warnings;
};

// Parses the file's text onto `base`.
[[nodiscard]] std::expected<KubeProxyConfigurationLoad, std::string> parse_kube_proxy_configuration(
    std::string_view text, RunConfig base);

// Reads and parses the file at `path`; the result's config_file is `path`.
// Errors start with the path.
[[nodiscard]] std::expected<KubeProxyConfigurationLoad, std::string> load_kube_proxy_configuration(
    const std::string& path, RunConfig base);

// What kube-proxy's /configz serves, as JSON text: {"kubeproxy.config.k8s.io":
// <the KubeProxyConfiguration v1alpha1 of every setting that has a field
// there, durations as Go prints them>, "kubenat": <the settings only kubenat
// has: node IPs, iptables mode, nftables table, static routes>}.
// parse_kube_proxy_configuration() of the first reads the same settings back.
std::string configz(const RunConfig& config);

// kube-proxy's AppendPortIfNeeded: "0.0.0.0" -> "0.0.0.0:10256", "::" ->
// "[::]:10256"; anything that is not a bare IP is returned unchanged.
std::string append_port_if_needed(const std::string& address, int port);

}  // namespace kubenat
