#include "engine/daemon/node_sysctls.h"

#include <algorithm>

namespace kubenat {
namespace {

constexpr const char* kNetfilter = "/proc/sys/net/netfilter/";
constexpr const char* kHashsize = "/sys/module/nf_conntrack/parameters/hashsize";
constexpr const char* kRouteLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet";

long seconds(std::chrono::milliseconds duration) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

// /proc/sys paths read as sysctl(8) names; the hash size keeps its path.
std::string display_name(const std::string& path) {
  constexpr std::string_view kProcSys = "/proc/sys/";
  if (!path.starts_with(kProcSys)) return path;
  std::string name = path.substr(kProcSys.size());
  std::replace(name.begin(), name.end(), '/', '.');
  return name;
}

}  // namespace

std::vector<SysctlSetting> node_sysctls(const ConntrackSettings& conntrack, unsigned cpus, bool localhost_nodeports) {
  std::vector<SysctlSetting> out;
  // kube-proxy's getConntrackMax: per core times cores, at least min; a zero
  // per-core leaves the table alone whatever min says.
  if (conntrack.max_per_core > 0) {
    const long scaled = static_cast<long>(conntrack.max_per_core) * std::max(1u, cpus);
    const long max = std::max(scaled, static_cast<long>(conntrack.min));
    if (max > 0) {
      out.push_back({std::string(kNetfilter) + "nf_conntrack_max", max, true});
      out.push_back({kHashsize, max / 4, true});
    }
  }
  const auto timeout = [&](const char* name, std::chrono::milliseconds value) {
    if (seconds(value) > 0) out.push_back({std::string(kNetfilter) + name, seconds(value), false});
  };
  timeout("nf_conntrack_tcp_timeout_established", conntrack.tcp_established_timeout);
  timeout("nf_conntrack_tcp_timeout_close_wait", conntrack.tcp_close_wait_timeout);
  // kube-proxy only ever turns liberal mode on.
  if (conntrack.tcp_be_liberal) out.push_back({std::string(kNetfilter) + "nf_conntrack_tcp_be_liberal", 1, false});
  timeout("nf_conntrack_udp_timeout", conntrack.udp_timeout);
  timeout("nf_conntrack_udp_timeout_stream", conntrack.udp_stream_timeout);
  if (localhost_nodeports) out.push_back({kRouteLocalnet, 1, false});
  return out;
}

std::string SysctlOutcome::to_string() const {
  const std::string name = display_name(setting.path);
  const std::string wanted = std::to_string(setting.value);
  switch (result) {
    case Result::Set:
      return name + " = " + wanted + (before ? " (was " + std::to_string(*before) + ")" : "");
    case Result::Unchanged:
      if (before && *before != setting.value) {
        return name + " = " + std::to_string(*before) + ", at least " + wanted + " wanted: left as it is";
      }
      return name + " = " + wanted + " already";
    case Result::Failed:
      break;
  }
  return "cannot set " + name + " to " + wanted + ": " + error;
}

std::vector<SysctlOutcome> apply_node_sysctls(const std::vector<SysctlSetting>& settings, SysctlFiles& files) {
  std::vector<SysctlOutcome> out;
  out.reserve(settings.size());
  for (const SysctlSetting& setting : settings) {
    SysctlOutcome outcome;
    outcome.setting = setting;
    // An unreadable setting is still written, as kube-proxy does: the write
    // says whether it can be made.
    if (auto current = files.read(setting.path)) outcome.before = *current;
    const bool enough =
        outcome.before && (setting.raise_only ? *outcome.before >= setting.value : *outcome.before == setting.value);
    if (enough) {
      outcome.result = SysctlOutcome::Result::Unchanged;
    } else if (auto written = files.write(setting.path, setting.value); written) {
      outcome.result = SysctlOutcome::Result::Set;
    } else {
      outcome.result = SysctlOutcome::Result::Failed;
      outcome.error = written.error();
    }
    out.push_back(std::move(outcome));
  }
  return out;
}

}  // namespace kubenat
