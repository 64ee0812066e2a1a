#include "engine/daemon/kube_proxy_configuration.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "engine/daemon/duration.h"
#include "rules/ip.h"

namespace kubenat {
namespace {

constexpr std::string_view kApiVersion = "kubeproxy.config.k8s.io/v1alpha1";
constexpr std::string_view kKind = "KubeProxyConfiguration";
constexpr int kHealthzPort = 10256;
constexpr int kMetricsPort = 10249;
constexpr std::size_t kMaxFileSize = 1 << 20;

template <class T>
using Result = std::expected<T, std::string>;

std::string child(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

// Parser messages can span lines and echo input; errors stay one short line.
std::string one_line(std::string_view text) {
  std::string line;
  for (const char c : text.substr(0, 300)) line += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  return line;
}

bool is_null(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

Result<std::optional<std::string>> read_string(const YAML::Node& node, const std::string& path) {
  if (is_null(node)) return std::nullopt;
  if (!node.IsScalar()) return std::unexpected(path + ": expects a string");
  return node.Scalar();
}

Result<std::optional<bool>> read_bool(const YAML::Node& node, const std::string& path) {
  if (is_null(node)) return std::nullopt;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  return std::unexpected(path + ": expects true or false");
}

Result<std::optional<int>> read_int(const YAML::Node& node, const std::string& path) {
  if (is_null(node)) return std::nullopt;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) return value;
  }
  return std::unexpected(path + ": expects an integer");
}

// Zero ("0s", "0") reads as nullopt: kube-proxy replaces a zero duration by
// its default.
Result<std::optional<std::chrono::milliseconds>> read_duration(const YAML::Node& node, const std::string& path) {
  auto text = read_string(node, path);
  if (!text) return std::unexpected(text.error());
  if (!*text || (*text)->empty()) return std::nullopt;
  auto duration = parse_duration(**text);
  if (!duration) return std::unexpected(path + ": " + duration.error());
  if (duration->count() == 0) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

// A duration where zero means something ("leave as-is"): kept, not defaulted.
// Negative durations are errors.
Result<std::optional<std::chrono::milliseconds>> read_duration_or_zero(const YAML::Node& node,
                                                                       const std::string& path) {
  auto text = read_string(node, path);
  if (!text) return std::unexpected(text.error());
  if (!*text || (*text)->empty()) return std::nullopt;
  auto duration = parse_duration(**text);
  if (!duration) return std::unexpected(path + ": " + duration.error());
  if (duration->count() < 0) return std::unexpected(path + ": must not be negative");
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

Result<std::optional<std::vector<std::string>>> read_string_list(const YAML::Node& node, const std::string& path) {
  if (is_null(node)) return std::nullopt;
  if (!node.IsSequence()) return std::unexpected(path + ": expects a list of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) return std::unexpected(path + "[" + std::to_string(i) + "]: expects a string");
    out.push_back(node[i].Scalar());
  }
  return out;
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

// Walks under unsupported fields are bounded in depth and in nodes visited:
// YAML aliases can make a small file a very large tree.
constexpr int kMaxDepth = 16;
constexpr std::size_t kMaxVisits = 10'000;
constexpr std::size_t kMaxWarnedLeaves = 32;

struct WalkBudget {
  std::size_t visits_left = kMaxVisits;
  bool spend() {
    if (visits_left == 0) return false;
    --visits_left;
    return true;
  }
};

// What Go's zero value would marshal to: kube-proxy treats these as unset.
// Beyond the budget, a node counts as set.
bool is_zero(const YAML::Node& node, WalkBudget& budget, int depth = 0) {
  if (!budget.spend()) return false;
  if (is_null(node)) return true;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    return text.empty() || text == "0" || text == "0s" || text == "false" || text == "False" || text == "FALSE";
  }
  if (node.IsSequence()) return node.size() == 0;
  if (node.IsMap() && depth < kMaxDepth) {
    for (const auto& entry : node) {
      if (!is_zero(entry.second, budget, depth + 1)) return false;
    }
    return true;
  }
  return false;
}

// The non-zero leaves under `node`, as dotted paths, in document order (a
// map beyond the bounds counts as one leaf).
void non_zero_leaves(const YAML::Node& node, const std::string& path, std::vector<std::string>& out,
                     WalkBudget& budget, int depth = 0) {
  if (out.size() >= kMaxWarnedLeaves || is_zero(node, budget, depth)) return;
  if (node.IsMap() && depth < kMaxDepth && budget.visits_left > 0) {
    for (const auto& entry : node) {
      non_zero_leaves(entry.second, child(path, entry.first.IsScalar() ? entry.first.Scalar() : "?"), out, budget,
                      depth + 1);
    }
    return;
  }
  out.push_back(path);
}

class Reader {
 public:
  Reader(RunConfig config, std::vector<std::string>& warnings) : config_(std::move(config)), warnings_(warnings) {}

  Result<RunConfig> read(const YAML::Node& root) {
    if (!root.IsMap()) return std::unexpected("expects a KubeProxyConfiguration object");
    auto api_version = read_string(root["apiVersion"], "apiVersion");
    if (!api_version) return std::unexpected(api_version.error());
    if (*api_version != kApiVersion) {
      return std::unexpected("apiVersion: expects " + std::string(kApiVersion) + ", got \"" +
                             api_version->value_or("") + "\"");
    }
    auto kind = read_string(root["kind"], "kind");
    if (!kind) return std::unexpected(kind.error());
    if (*kind != kKind) return std::unexpected("kind: expects " + std::string(kKind) + ", got \"" + kind->value_or("") + "\"");

    for (const auto& entry : root) {
      const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string("?");
      if (auto ok = top_level(key, entry.second); !ok) return std::unexpected(ok.error());
    }
    return std::move(config_);
  }

 private:
  Result<void> top_level(const std::string& key, const YAML::Node& value) {
    if (key == "apiVersion" || key == "kind") return {};
    if (key == "clientConnection") return client_connection(value);
    if (key == "iptables") return iptables(value);
    if (key == "conntrack") return conntrack(value);
    if (key == "logging") return logging(value);
    if (key == "hostnameOverride") return set_string(value, key, config_.hostname_override);
    if (key == "clusterCIDR") {
      auto text = read_string(value, key);
      if (!text) return std::unexpected(text.error());
      if (*text && !(*text)->empty()) config_.cluster_cidrs = split_commas(**text);
      return {};
    }
    if (key == "mode") return set_string(value, key, config_.proxy_mode);
    if (key == "nodePortAddresses") {
      auto list = read_string_list(value, key);
      if (!list) return std::unexpected(list.error());
      if (*list) config_.nodeport_addresses = std::move(**list);
      return {};
    }
    if (key == "healthzBindAddress") return bind_address(value, key, kHealthzPort, config_.healthz_bind_address);
    if (key == "metricsBindAddress") return bind_address(value, key, kMetricsPort, config_.metrics_bind_address);
    if (key == "bindAddress") return bind_ip(value, key);
    if (key == "detectLocalMode") {
      auto mode = read_string(value, key);
      if (!mode) return std::unexpected(mode.error());
      if (*mode && !(*mode)->empty() && **mode != "ClusterCIDR") {
        warn(key + ": \"" + **mode + "\" is not supported; kubenat detects local traffic by clusterCIDR");
      }
      return {};
    }
    // kube-proxy settings kubenat has no use for, whatever their value.
    static constexpr std::array kSilent{"bindAddressHardFail", "configSyncPeriod"};
    if (std::find(kSilent.begin(), kSilent.end(), key) != kSilent.end()) return {};
    // kube-proxy settings kubenat does not implement: worth a word when set.
    static constexpr std::array kUnsupported{"detectLocal",    "enableProfiling",    "featureGates",
                                             "ipvs",           "nftables",           "winkernel",
                                             "oomScoreAdj",    "portRange",          "showHiddenMetricsForProbes",
                                             "udpIdleTimeout", "windowsRunAsService"};
    if (std::find(kUnsupported.begin(), kUnsupported.end(), key) != kUnsupported.end()) {
      unsupported(value, key);
      return {};
    }
    warn("unknown field \"" + key + "\", ignored");
    return {};
  }

  Result<void> client_connection(const YAML::Node& node) {
    return each_field(node, "clientConnection", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const std::string path = child("clientConnection", key);
      if (key == "kubeconfig") return set_string(value, path, config_.kubeconfig);
      if (key == "acceptContentTypes" || key == "contentType" || key == "qps" || key == "burst") return {};
      warn("unknown field \"" + path + "\", ignored");
      return {};
    });
  }

  Result<void> iptables(const YAML::Node& node) {
    return each_field(node, "iptables", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const std::string path = child("iptables", key);
      if (key == "masqueradeAll") {
        auto flag = read_bool(value, path);
        if (!flag) return std::unexpected(flag.error());
        if (*flag) config_.masquerade_all = **flag;
      } else if (key == "masqueradeBit") {
        auto bit = read_int(value, path);
        if (!bit) return std::unexpected(bit.error());
        if (*bit) config_.masquerade_bit = **bit;
      } else if (key == "localhostNodePorts") {
        auto flag = read_bool(value, path);
        if (!flag) return std::unexpected(flag.error());
        if (*flag) config_.localhost_nodeports = **flag;
      } else if (key == "syncPeriod" || key == "minSyncPeriod") {
        auto duration = read_duration(value, path);
        if (!duration) return std::unexpected(duration.error());
        if (*duration) (key == "syncPeriod" ? config_.sync_period : config_.min_sync_period) = **duration;
      } else {
        warn("unknown field \"" + path + "\", ignored");
      }
      return {};
    });
  }

  // kube-proxy's pointers: null or absent keeps the default, an explicit zero
  // means "leave the kernel's value".
  Result<void> conntrack(const YAML::Node& node) {
    ConntrackSettings& out = config_.conntrack;
    return each_field(node, "conntrack", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const std::string path = child("conntrack", key);
      if (key == "maxPerCore" || key == "min") {
        auto number = read_int(value, path);
        if (!number) return std::unexpected(number.error());
        if (!*number) return {};
        if (**number < 0) return std::unexpected(path + ": must not be negative");
        (key == "min" ? out.min : out.max_per_core) = **number;
      } else if (key == "tcpBeLiberal") {
        auto flag = read_bool(value, path);
        if (!flag) return std::unexpected(flag.error());
        if (*flag) out.tcp_be_liberal = **flag;
      } else if (key == "tcpEstablishedTimeout" || key == "tcpCloseWaitTimeout" || key == "udpTimeout" ||
                 key == "udpStreamTimeout") {
        auto duration = read_duration_or_zero(value, path);
        if (!duration) return std::unexpected(duration.error());
        if (!*duration) return {};
        auto& target = key == "tcpEstablishedTimeout" ? out.tcp_established_timeout
                       : key == "tcpCloseWaitTimeout" ? out.tcp_close_wait_timeout
                       : key == "udpTimeout"          ? out.udp_timeout
                                                      : out.udp_stream_timeout;
        target = **duration;
      } else {
        warn("unknown field \"" + path + "\", ignored");
      }
      return {};
    });
  }

  Result<void> logging(const YAML::Node& node) {
    return each_field(node, "logging", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      if (key != "verbosity") return {};  // format, flushFrequency, options: klog's, not ours
      auto verbosity = read_int(value, "logging.verbosity");
      if (!verbosity) return std::unexpected(verbosity.error());
      if (*verbosity) config_.verbosity = **verbosity;
      return {};
    });
  }

  template <class Visit>
  Result<void> each_field(const YAML::Node& node, const std::string& path, Visit visit) {
    if (is_null(node)) return {};
    if (!node.IsMap()) return std::unexpected(path + ": expects an object");
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) return std::unexpected(path + ": a key is not a string");
      if (auto ok = visit(entry.first.Scalar(), entry.second); !ok) return ok;
    }
    return {};
  }

  Result<void> set_string(const YAML::Node& value, const std::string& path, std::string& target) {
    auto text = read_string(value, path);
    if (!text) return std::unexpected(text.error());
    if (*text && !(*text)->empty()) target = **text;
    return {};
  }

  Result<void> bind_address(const YAML::Node& value, const std::string& path, int default_port, std::string& target) {
    auto text = read_string(value, path);
    if (!text) return std::unexpected(text.error());
    if (*text && !(*text)->empty()) target = append_port_if_needed(**text, default_port);
    return {};
  }

  Result<void> bind_ip(const YAML::Node& value, const std::string& path) {
    auto text = read_string(value, path);
    if (!text) return std::unexpected(text.error());
    if (!*text || (*text)->empty()) return {};
    const auto ip = IpAddress::parse_sloppy(**text);
    if (!ip) return std::unexpected(path + ": invalid IP \"" + **text + "\"");
    if (!ip->is_unspecified() && config_.node_ips.empty()) config_.node_ips = {**text};
    return {};
  }

  void unsupported(const YAML::Node& value, const std::string& path) {
    std::vector<std::string> leaves;
    WalkBudget budget;
    non_zero_leaves(value, path, leaves, budget);
    for (const std::string& leaf : leaves) warn(leaf + ": not supported by kubenat, ignored");
  }

  void warn(std::string message) { warnings_.push_back(std::move(message)); }

  RunConfig config_;
  std::vector<std::string>& warnings_;
};

}  // namespace

std::string append_port_if_needed(const std::string& address, int port) {
  if (!IpAddress::parse(address)) return address;
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::expected<KubeProxyConfigurationLoad, std::string> parse_kube_proxy_configuration(std::string_view text,
                                                                                     RunConfig base) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const std::exception& error) {
    return std::unexpected("not YAML or JSON: " + one_line(error.what()));
  }
  KubeProxyConfigurationLoad load;
  try {
    auto config = Reader(std::move(base), load.warnings).read(root);
    if (!config) return std::unexpected(config.error());
    load.config = std::move(*config);
  } catch (const std::exception& error) {
    // yaml-cpp throws on malformed node access; no valid file gets here.
    return std::unexpected("not a KubeProxyConfiguration: " + one_line(error.what()));
  }
  return load;
}

std::expected<KubeProxyConfigurationLoad, std::string> load_kube_proxy_configuration(const std::string& path,
                                                                                    RunConfig base) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::unexpected(path + ": " + std::strerror(errno));
  std::string text;
  text.resize(kMaxFileSize + 1);
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (file.bad()) return std::unexpected(path + ": read failed");
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > kMaxFileSize) return std::unexpected(path + ": larger than 1 MiB; not a kube-proxy configuration");

  base.config_file = path;
  auto load = parse_kube_proxy_configuration(text, std::move(base));
  if (!load) return std::unexpected(path + ": " + load.error());
  return load;
}

std::string configz(const RunConfig& config) {
  std::string cluster_cidr;
  for (const std::string& cidr : config.cluster_cidrs) cluster_cidr += (cluster_cidr.empty() ? "" : ",") + cidr;
  nlohmann::json kube_proxy = {
      {"apiVersion", "kubeproxy.config.k8s.io/v1alpha1"},
      {"kind", "KubeProxyConfiguration"},
      {"clientConnection", {{"kubeconfig", config.kubeconfig}}},
      {"hostnameOverride", config.hostname_override},
      {"mode", config.proxy_mode},
      {"clusterCIDR", cluster_cidr},
      {"nodePortAddresses", config.nodeport_addresses},
      {"iptables",
       {{"masqueradeAll", config.masquerade_all},
        {"masqueradeBit", config.masquerade_bit},
        {"localhostNodePorts", config.localhost_nodeports},
        {"syncPeriod", format_duration(config.sync_period)},
        {"minSyncPeriod", format_duration(config.min_sync_period)}}},
      {"conntrack",
       {{"maxPerCore", config.conntrack.max_per_core},
        {"min", config.conntrack.min},
        {"tcpEstablishedTimeout", format_duration(config.conntrack.tcp_established_timeout)},
        {"tcpCloseWaitTimeout", format_duration(config.conntrack.tcp_close_wait_timeout)},
        {"tcpBeLiberal", config.conntrack.tcp_be_liberal},
        {"udpTimeout", format_duration(config.conntrack.udp_timeout)},
        {"udpStreamTimeout", format_duration(config.conntrack.udp_stream_timeout)}}},
      {"healthzBindAddress", config.healthz_bind_address},
      {"metricsBindAddress", config.metrics_bind_address},
      {"logging", {{"verbosity", config.verbosity}}},
  };
  nlohmann::json kubenat = {{"master", config.master},
                            {"nodeIPs", config.node_ips},
                            {"iptablesMode", config.iptables_mode},
                            {"nftablesTable", config.nftables_table},
                            {"routes", config.routes},
                            {"routeProtocol", config.route_protocol},
                            {"configFile", config.config_file}};
  const nlohmann::json served = {{"kubeproxy.config.k8s.io", std::move(kube_proxy)}, {"kubenat", std::move(kubenat)}};
  return served.dump();
}

}  // namespace kubenat
