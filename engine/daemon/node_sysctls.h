#pragma once

// The kernel settings kube-proxy makes on its node besides its rules, made
// the same way at start-up: the conntrack table size and timeouts
// (cmd/kube-proxy/app/conntrack.go; every mode) and route_localnet, without
// which the iptables rules that accept NodePorts on 127.0.0.1 cannot work
// (pkg/proxy/iptables/proxier.go; iptables mode, IPv4).
//
// Which settings follows kube-proxy exactly; what happens when one cannot be
// made does not: kube-proxy exits, kubenat logs it and goes on, because a
// read-only /proc/sys (a container) or a missing nf_conntrack module costs
// at most these settings, while exiting costs the node its service proxy.

#include <optional>
#include <string>
#include <vector>

#include "engine/daemon/run_config.h"
#include "engine/daemon/sysctl_files.h"

namespace kubenat {

struct SysctlSetting {
  std::string path;  // absolute: /proc/sys/... or /sys/module/...
  long value = 0;
  // nf_conntrack_max and the hash size are only ever raised, so that an
  // operator's larger table stays (as kube-proxy since 1.36); the others are
  // written whenever they differ.
  bool raise_only = false;

  bool operator==(const SysctlSetting&) const = default;
};

// The settings for `conntrack` on a machine with `cpus` CPUs, in kube-proxy's
// order, with route_localnet = 1 when `localhost_nodeports` (the iptables
// plan accepts NodePorts on 127.0.0.1).
std::vector<SysctlSetting> node_sysctls(const ConntrackSettings& conntrack, unsigned cpus, bool localhost_nodeports);

struct SysctlOutcome {
  enum class Result { Set, Unchanged, Failed };

  SysctlSetting setting;
  Result result = Result::Unchanged;
  std::optional<long> before;  // the kernel's value, when it could be read
  std::string error;           // Failed: why

  // "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 3600 (was 60)",
  // "... = 262144, at least 131072 wanted: left as it is", "cannot set ...".
  std::string to_string() const;
};

// Reads each setting and writes what differs (or is lower); never stops at
// a failure.
std::vector<SysctlOutcome> apply_node_sysctls(const std::vector<SysctlSetting>& settings, SysctlFiles& files);

}  // namespace kubenat
