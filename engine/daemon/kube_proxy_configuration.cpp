#include "engine/daemon/kube_proxy_configuration.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "engine/daemon/duration.h"
#include "rules/decode.h"
#include "rules/ip.h"
#include "rules/yaml_documents.h"

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

std::string index(std::string_view parent, std::size_t i) {
  return std::string(parent) + "[" + std::to_string(i) + "]";
}

// Parser messages can span lines and echo input; errors stay one short line.
std::string one_line(std::string_view text) {
  std::string line;
  for (const char c : text.substr(0, 300)) line += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  return line;
}

// Field names and values quoted in errors come from the file: shown escaped.
// Bytes that are not UTF-8 become U+FFFD: the text is the user's, and a
// message about it must not throw.
std::string json_quoted(std::string_view text) {
  return nlohmann::json(std::string(one_line(text))).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

Result<std::optional<double>> read_number(const YAML::Node& node, const std::string& path) {
  if (is_null(node)) return std::nullopt;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) return value;
  }
  return std::unexpected(path + ": expects a number");
}

// Any duration, zero and negative ones included; nullopt when absent or "".
Result<std::optional<std::chrono::milliseconds>> read_any_duration(const YAML::Node& node, const std::string& path) {
  auto text = read_string(node, path);
  if (!text) return std::unexpected(text.error());
  if (!*text || (*text)->empty()) return std::nullopt;
  auto duration = parse_duration(**text);
  if (!duration) return std::unexpected(path + ": " + duration.error());
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

// Zero ("0s", "0") reads as nullopt: kube-proxy replaces a zero duration by
// its default.
Result<std::optional<std::chrono::milliseconds>> read_duration(const YAML::Node& node, const std::string& path) {
  auto duration = read_any_duration(node, path);
  if (!duration || !*duration || (*duration)->count() != 0) return duration;
  return std::nullopt;
}

// A duration where zero means something ("leave as-is"): kept, not defaulted.
// Negative durations are errors.
Result<std::optional<std::chrono::milliseconds>> read_duration_or_zero(const YAML::Node& node,
                                                                       const std::string& path) {
  auto duration = read_any_duration(node, path);
  if (duration && *duration && (*duration)->count() < 0) return std::unexpected(path + ": must not be negative");
  return duration;
}

Result<std::optional<std::vector<std::string>>> read_string_list(const YAML::Node& node, const std::string& path) {
  if (is_null(node)) return std::nullopt;
  if (!node.IsSequence()) return std::unexpected(path + ": expects a list of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) return std::unexpected(index(path, i) + ": expects a string");
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

// The type of a field that is accepted but has no effect: checked as
// kube-proxy's strict decoding checks it, then dropped.
enum class Type { String, Bool, Int, Number, Duration, StringList, Quantity };

Result<void> check_type(const YAML::Node& node, const std::string& path, Type type) {
  switch (type) {
    case Type::String:
      if (auto value = read_string(node, path); !value) return std::unexpected(value.error());
      return {};
    case Type::Bool:
      if (auto value = read_bool(node, path); !value) return std::unexpected(value.error());
      return {};
    case Type::Int:
      if (auto value = read_int(node, path); !value) return std::unexpected(value.error());
      return {};
    case Type::Number:
      if (auto value = read_number(node, path); !value) return std::unexpected(value.error());
      return {};
    case Type::Duration:
      if (auto value = read_any_duration(node, path); !value) return std::unexpected(value.error());
      return {};
    case Type::StringList:
      if (auto value = read_string_list(node, path); !value) return std::unexpected(value.error());
      return {};
    case Type::Quantity:
      // A resource quantity ("0", "64Ki", 1024): any scalar; it is dropped.
      if (!is_null(node) && !node.IsScalar()) return std::unexpected(path + ": expects a quantity");
      return {};
  }
  return {};
}

struct FieldType {
  std::string_view name;
  Type type;
};

// Fields kube-proxy had once and dropped: still in old ConfigMaps, so the
// error says what to do.
std::string unknown_field(const std::string& path) {
  static constexpr std::array<std::string_view, 3> kRemoved{"udpIdleTimeout", "resourceContainer", "conntrack.max"};
  std::string message = "unknown field " + json_quoted(path);
  if (std::find(kRemoved.begin(), kRemoved.end(), path) != kRemoved.end()) {
    message += " (kube-proxy no longer has it; delete it)";
  }
  return message;
}

// kube-proxy's feature gates that change what a proxy does, and the value
// kubenat always behaves as: asking for that value is honoured, the other is
// an error.
struct FixedGate {
  std::string_view name;
  bool kubenat_behaves_as;
  std::string_view because;
};
constexpr std::array<FixedGate, 8> kFixedGates{{
    {"TopologyAwareHints", true, "kubenat always follows topology hints"},
    {"ServiceTrafficDistribution", true, "kubenat always follows the hints of trafficDistribution"},
    {"PreferSameTrafficDistribution", true, "kubenat always follows node hints"},
    {"LoadBalancerIPMode", true, "kubenat always leaves out load-balancer IPs whose ipMode is Proxy"},
    {"KubeProxyDrainingTerminatingNodes", true, "kubenat always fails health checks of draining nodes"},
    {"NFTablesProxyMode", true, "kubenat always offers nftables mode"},
    {"AllAlpha", false, "kubenat has no alpha features to enable"},
    {"AllBeta", false, "kubenat has no beta features to switch"},
}};
// Gates that only change how kube-proxy logs: either value, no effect.
constexpr std::array<std::string_view, 3> kLoggingGates{"ContextualLogging", "LoggingAlphaOptions",
                                                        "LoggingBetaOptions"};

constexpr std::array<std::string_view, 4> kDetectLocalModes{"ClusterCIDR", "NodeCIDR", "BridgeInterface",
                                                            "InterfaceNamePrefix"};

class Reader {
 public:
  explicit Reader(RunConfig config) : config_(std::move(config)) {}

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
    if (*kind != kKind) {
      return std::unexpected("kind: expects " + std::string(kKind) + ", got \"" + kind->value_or("") + "\"");
    }
    const Visit visit = [&](const std::string& key, const YAML::Node& value) { return top_level(key, value); };
    if (auto ok = each_field(root, "", visit); !ok) return std::unexpected(ok.error());
    return std::move(config_);
  }

 private:
  using Visit = std::function<Result<void>(const std::string& key, const YAML::Node& value)>;

  Result<void> top_level(const std::string& key, const YAML::Node& value) {
    if (key == "apiVersion" || key == "kind") return {};
    if (key == "featureGates") return feature_gates(value);
    if (key == "clientConnection") return client_connection(value);
    if (key == "logging") return logging(value);
    if (key == "hostnameOverride") return set_string(value, key, config_.hostname_override);
    if (key == "bindAddress") return bind_ip(value, key);
    if (key == "healthzBindAddress") return bind_address(value, key, kHealthzPort, config_.healthz_bind_address);
    if (key == "metricsBindAddress") return bind_address(value, key, kMetricsPort, config_.metrics_bind_address);
    // kubenat exits when it cannot bind an address: hard failure whatever
    // the value, and false (kube-proxy's retry) is the zero value every
    // generated file carries.
    if (key == "bindAddressHardFail") return check_type(value, key, Type::Bool);
    if (key == "enableProfiling") return must_be_false(value, key, "kubenat serves no /debug/pprof");
    // kubenat hides no metric, so there is nothing to show.
    if (key == "showHiddenMetricsForVersion") return check_type(value, key, Type::String);
    // Checked with the flags, which may override it (run_flags.h).
    if (key == "mode") return set_string(value, key, config_.proxy_mode);
    if (key == "iptables") return iptables(value);
    if (key == "ipvs") return ipvs(value);
    if (key == "nftables") return nftables(value);
    // Windows only (HNS); kubenat runs on Linux.
    if (key == "winkernel") return winkernel(value);
    if (key == "windowsRunAsService") return check_type(value, key, Type::Bool);
    if (key == "detectLocalMode") return detect_local_mode(value);
    if (key == "detectLocal") return detect_local(value);
    if (key == "clusterCIDR") {
      auto text = read_string(value, key);
      if (!text) return std::unexpected(text.error());
      if (*text && !(*text)->empty()) config_.cluster_cidrs = split_commas(**text);
      return {};
    }
    if (key == "nodePortAddresses") {
      auto list = read_string_list(value, key);
      if (!list) return std::unexpected(list.error());
      if (*list) config_.nodeport_addresses = std::move(**list);
      return {};
    }
    if (key == "oomScoreAdj") return oom_score_adj(value);
    if (key == "conntrack") return conntrack(value);
    // The informers' resync period: kubenat's watch never replays its cache,
    // so there is nothing to time. Validated as kube-proxy does.
    if (key == "configSyncPeriod") {
      auto period = read_any_duration(value, key);
      if (!period) return std::unexpected(period.error());
      if (*period && (*period)->count() < 0) return std::unexpected(key + ": must not be negative");
      return {};
    }
    if (key == "portRange") {
      auto range = read_string(value, key);
      if (!range) return std::unexpected(range.error());
      if (*range && !(*range)->empty()) {
        return std::unexpected(key + ": configured the userspace proxy, which kube-proxy removed and kubenat does "
                                     "not have; delete it");
      }
      return {};
    }
    // kubenat's own: the named service proxy of RunConfig::service_proxy_name.
    if (key == "serviceProxyName") {
      auto name = read_string(value, key);
      if (!name) return std::unexpected(name.error());
      if (!*name || (*name)->empty()) return {};
      if (!is_valid_label_value(**name)) {
        return std::unexpected(key + ": " + json_quoted(**name) +
                               " is not a label value (at most 63 characters: letters, digits, '-', '_', '.', "
                               "a letter or digit at each end)");
      }
      config_.service_proxy_name = **name;
      return {};
    }
    return std::unexpected(unknown_field(key));
  }

  Result<void> feature_gates(const YAML::Node& node) {
    return each_field(node, "featureGates", [&](const std::string& gate, const YAML::Node& value) -> Result<void> {
      const std::string path = child("featureGates", gate);
      auto enabled = read_bool(value, path);
      if (!enabled) return std::unexpected(enabled.error());
      if (!*enabled) return {};
      if (std::find(kLoggingGates.begin(), kLoggingGates.end(), gate) != kLoggingGates.end()) return {};
      const auto fixed = std::find_if(kFixedGates.begin(), kFixedGates.end(),
                                      [&](const FixedGate& known) { return known.name == gate; });
      if (fixed == kFixedGates.end()) {
        return std::unexpected(path + ": not a feature gate kubenat knows; delete it");
      }
      if (**enabled != fixed->kubenat_behaves_as) {
        return std::unexpected(path + ": kubenat cannot turn it " + (**enabled ? "on" : "off") + ": " +
                               std::string(fixed->because));
      }
      return {};
    });
  }

  Result<void> client_connection(const YAML::Node& node) {
    return each_field(node, "clientConnection", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const std::string path = child("clientConnection", key);
      if (key == "kubeconfig") return set_string(value, path, config_.kubeconfig);
      // kubenat speaks JSON, which every API server serves, and makes one
      // list and one watch per resource: there is no request rate to limit.
      if (key == "acceptContentTypes" || key == "contentType") return check_type(value, path, Type::String);
      if (key == "qps") return check_type(value, path, Type::Number);
      if (key == "burst") {
        auto burst = read_int(value, path);
        if (!burst) return std::unexpected(burst.error());
        if (*burst && **burst < 0) return std::unexpected(path + ": must not be negative");
        return {};
      }
      return std::unexpected(unknown_field(path));
    });
  }

  Result<void> logging(const YAML::Node& node) {
    return each_field(node, "logging", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const std::string path = child("logging", key);
      if (key == "verbosity") {
        auto verbosity = read_int(value, path);
        if (!verbosity) return std::unexpected(verbosity.error());
        if (*verbosity) config_.verbosity = **verbosity;
        return {};
      }
      // How klog formats, flushes and routes lines and per-file verbosity:
      // kubenat writes its own log lines, so these change nothing.
      if (key == "format") {
        auto format = read_string(value, path);
        if (!format) return std::unexpected(format.error());
        if (*format && !(*format)->empty() && **format != "text" && **format != "json") {
          return std::unexpected(path + ": expects text or json, got " + json_quoted(**format));
        }
        return {};
      }
      if (key == "flushFrequency") {
        // Nanoseconds as a number, or a duration.
        if (read_int(value, path)) return {};
        return check_type(value, path, Type::Duration);
      }
      if (key == "vmodule") return vmodule(value, path);
      if (key == "options") {
        return each_field(value, path, [&](const std::string& format, const YAML::Node& options) -> Result<void> {
          const std::string format_path = child(path, format);
          if (format != "text" && format != "json") return std::unexpected(unknown_field(format_path));
          return accept_section(options, format_path,
                                {{"splitStream", Type::Bool}, {"infoBufferSize", Type::Quantity}});
        });
      }
      return std::unexpected(unknown_field(path));
    });
  }

  Result<void> vmodule(const YAML::Node& node, const std::string& path) {
    if (is_null(node)) return {};
    if (!node.IsSequence()) return std::unexpected(path + ": expects a list");
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (auto ok = accept_section(node[i], index(path, i), {{"filePattern", Type::String}, {"verbosity", Type::Int}});
          !ok) {
        return ok;
      }
    }
    return {};
  }

  // iptables.*: the iptables mode's section (ProxyModeSection), plus
  // localhostNodePorts, which only iptables mode has.
  Result<void> iptables(const YAML::Node& node) {
    return each_field(node, "iptables", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const std::string path = child("iptables", key);
      if (key == "localhostNodePorts") {
        auto flag = read_bool(value, path);
        if (!flag) return std::unexpected(flag.error());
        if (*flag) config_.localhost_nodeports = **flag;
        return {};
      }
      if (key == "snatNodeInternalIP") {
        return must_be_false(value, path, "kubenat masquerades to the outgoing interface's address");
      }
      return mode_section_field(key, value, path, config_.iptables_section);
    });
  }

  Result<void> nftables(const YAML::Node& node) {
    return each_field(node, "nftables", [&](const std::string& key, const YAML::Node& value) {
      return mode_section_field(key, value, child("nftables", key), config_.nftables_section);
    });
  }

  Result<void> mode_section_field(const std::string& key, const YAML::Node& value, const std::string& path,
                                  ProxyModeSection& section) {
    if (key == "masqueradeAll") {
      auto flag = read_bool(value, path);
      if (!flag) return std::unexpected(flag.error());
      if (*flag) section.masquerade_all = **flag;
    } else if (key == "masqueradeBit") {
      auto bit = read_int(value, path);
      if (!bit) return std::unexpected(bit.error());
      if (*bit && (**bit < 0 || **bit > 31)) {
        return std::unexpected(path + ": must be within 0..31, got " + std::to_string(**bit));
      }
      if (*bit) section.masquerade_bit = **bit;
    } else if (key == "syncPeriod" || key == "minSyncPeriod") {
      auto duration = read_duration(value, path);
      if (!duration) return std::unexpected(duration.error());
      if (!*duration) return {};
      if (key == "syncPeriod") {
        section.sync_period = **duration;
      } else {
        section.min_sync_period = **duration;
      }
    } else {
      return std::unexpected(unknown_field(path));
    }
    return {};
  }

  // ipvs mode is rejected (run_flags.h), so its section never applies;
  // checked for types only.
  Result<void> ipvs(const YAML::Node& node) {
    return accept_section(node, "ipvs",
                          {{"syncPeriod", Type::Duration},
                           {"minSyncPeriod", Type::Duration},
                           {"scheduler", Type::String},
                           {"excludeCIDRs", Type::StringList},
                           {"strictARP", Type::Bool},
                           {"tcpTimeout", Type::Duration},
                           {"tcpFinTimeout", Type::Duration},
                           {"udpTimeout", Type::Duration}});
  }

  Result<void> winkernel(const YAML::Node& node) {
    return accept_section(node, "winkernel",
                          {{"networkName", Type::String},
                           {"sourceVip", Type::String},
                           {"enableDSR", Type::Bool},
                           {"rootHnsEndpointName", Type::String},
                           {"forwardHealthCheckVip", Type::Bool}});
  }

  // Which mode needs which detectLocal field is checked with the flags,
  // which may supply it.
  Result<void> detect_local_mode(const YAML::Node& value) {
    auto mode = read_string(value, "detectLocalMode");
    if (!mode) return std::unexpected(mode.error());
    if (!*mode || (*mode)->empty()) return {};
    if (std::find(kDetectLocalModes.begin(), kDetectLocalModes.end(), **mode) == kDetectLocalModes.end()) {
      return std::unexpected("detectLocalMode: expects ClusterCIDR, NodeCIDR, BridgeInterface or "
                             "InterfaceNamePrefix, got " +
                             json_quoted(**mode));
    }
    config_.detect_local_mode = **mode;
    return {};
  }

  Result<void> detect_local(const YAML::Node& node) {
    return each_field(node, "detectLocal", [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const std::string path = child("detectLocal", key);
      if (key == "bridgeInterface") return set_string(value, path, config_.pod_bridge_interface);
      if (key == "interfaceNamePrefix") return set_string(value, path, config_.pod_interface_name_prefix);
      return std::unexpected(unknown_field(path));
    });
  }

  // Honoured: kube-proxy writes it to /proc/self/oom_score_adj at start.
  Result<void> oom_score_adj(const YAML::Node& value) {
    auto score = read_int(value, "oomScoreAdj");
    if (!score) return std::unexpected(score.error());
    if (!*score) return {};
    if (**score < -1000 || **score > 1000) {
      return std::unexpected("oomScoreAdj: must be within -1000..1000, got " + std::to_string(**score));
    }
    config_.oom_score_adj = **score;
    return {};
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
        return std::unexpected(unknown_field(path));
      }
      return {};
    });
  }

  // Visits each field of the object at `path` (the root when empty). A field
  // given twice is an error, as in kube-proxy's strict decoding.
  Result<void> each_field(const YAML::Node& node, const std::string& path, const Visit& visit) {
    if (is_null(node)) return {};
    const std::string where = path.empty() ? std::string("the document") : path;
    if (!node.IsMap()) return std::unexpected(where + ": expects an object");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) return std::unexpected(where + ": a key is not a string");
      const std::string& key = entry.first.Scalar();
      if (!seen.insert(key).second) return std::unexpected("duplicate field " + json_quoted(child(path, key)));
      if (auto ok = visit(key, entry.second); !ok) return ok;
    }
    return {};
  }

  // A section accepted without effect: known fields of the right type.
  Result<void> accept_section(const YAML::Node& node, const std::string& path,
                              std::initializer_list<FieldType> fields) {
    return each_field(node, path, [&](const std::string& key, const YAML::Node& value) -> Result<void> {
      const auto field =
          std::find_if(fields.begin(), fields.end(), [&](const FieldType& known) { return known.name == key; });
      if (field == fields.end()) return std::unexpected(unknown_field(child(path, key)));
      return check_type(value, child(path, key), field->type);
    });
  }

  Result<void> must_be_false(const YAML::Node& value, const std::string& path, std::string_view because) {
    auto flag = read_bool(value, path);
    if (!flag) return std::unexpected(flag.error());
    if (*flag && **flag) return std::unexpected(path + ": true is not supported: " + std::string(because));
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

  RunConfig config_;
};

std::string format_min_sync_period(const std::optional<std::chrono::milliseconds>& period) {
  return period ? format_duration(*period) : "unset";
}

// The four settings of a mode section, as configz and the notes name them.
struct SectionValue {
  std::string_view field;
  std::function<std::string(const ProxyModeSection&)> text;
};

const std::array<SectionValue, 4>& section_values() {
  static const std::array<SectionValue, 4> values{{
      {"masqueradeAll", [](const ProxyModeSection& s) { return std::string(s.masquerade_all ? "true" : "false"); }},
      {"masqueradeBit", [](const ProxyModeSection& s) { return std::to_string(s.masquerade_bit); }},
      {"syncPeriod", [](const ProxyModeSection& s) { return format_duration(s.sync_period); }},
      {"minSyncPeriod", [](const ProxyModeSection& s) { return format_min_sync_period(s.min_sync_period); }},
  }};
  return values;
}

// An unset minSyncPeriod is left out, so that /configz reads back as the
// same configuration: the spacing that follows the cost of syncs.
nlohmann::json section_json(const ProxyModeSection& section) {
  nlohmann::json json = {{"masqueradeAll", section.masquerade_all},
                         {"masqueradeBit", section.masquerade_bit},
                         {"syncPeriod", format_duration(section.sync_period)}};
  if (section.min_sync_period) json["minSyncPeriod"] = format_duration(*section.min_sync_period);
  return json;
}

}  // namespace

std::string append_port_if_needed(const std::string& address, int port) {
  if (!IpAddress::parse(address)) return address;
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::vector<std::string> select_proxy_mode_section(RunConfig& config) {
  const bool nftables = config.proxy_mode == "nftables";
  const ProxyModeSection& used = nftables ? config.nftables_section : config.iptables_section;
  const ProxyModeSection& unused = nftables ? config.iptables_section : config.nftables_section;
  config.masquerade_all = used.masquerade_all;
  config.masquerade_bit = used.masquerade_bit;
  config.sync_period = used.sync_period;
  config.min_sync_period = used.min_sync_period;

  // In routes-only mode neither section has anything to apply to.
  if (config.proxy_mode == "none") return {};
  const std::string used_name = nftables ? "nftables" : "iptables";
  const std::string unused_name = nftables ? "iptables" : "nftables";
  std::vector<std::string> notes;
  for (const SectionValue& value : section_values()) {
    if (value.text(unused) == value.text(used)) continue;
    // Only this one can differ through a flag: the others set both sections.
    const bool flag = nftables && value.field == "masqueradeBit";
    notes.push_back(unused_name + "." + std::string(value.field) + (flag ? " or --iptables-masquerade-bit" : "") +
                    " (" + value.text(unused) + ") is not used in " + used_name + " mode; " + used_name + "." +
                    std::string(value.field) + " (" + value.text(used) + ") is");
  }
  return notes;
}

std::expected<KubeProxyConfigurationLoad, std::string> parse_kube_proxy_configuration(std::string_view text,
                                                                                     RunConfig base) {
  YAML::Node root;
  try {
    root = load_yaml_document(text);
  } catch (const std::exception& error) {
    return std::unexpected("not YAML or JSON: " + one_line(error.what()));
  }
  KubeProxyConfigurationLoad load;
  try {
    auto config = Reader(std::move(base)).read(root);
    if (!config) return std::unexpected(config.error());
    load.config = std::move(*config);
  } catch (const std::exception& error) {
    // yaml-cpp throws on malformed node access; no valid file gets here.
    return std::unexpected("not a KubeProxyConfiguration: " + one_line(error.what()));
  }
  load.warnings = select_proxy_mode_section(load.config);
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
  // The mode's section shows the values in effect; the other one as set.
  const ProxyModeSection in_effect{config.masquerade_all, config.masquerade_bit, config.sync_period,
                                   config.min_sync_period};
  const bool nftables = config.proxy_mode == "nftables";
  nlohmann::json iptables = section_json(nftables ? config.iptables_section : in_effect);
  iptables["localhostNodePorts"] = config.localhost_nodeports;
  nlohmann::json kube_proxy = {
      {"apiVersion", "kubeproxy.config.k8s.io/v1alpha1"},
      {"kind", "KubeProxyConfiguration"},
      {"clientConnection", {{"kubeconfig", config.kubeconfig}}},
      {"hostnameOverride", config.hostname_override},
      {"mode", config.proxy_mode},
      {"clusterCIDR", cluster_cidr},
      {"detectLocalMode", config.detect_local_mode},
      {"detectLocal",
       {{"bridgeInterface", config.pod_bridge_interface},
        {"interfaceNamePrefix", config.pod_interface_name_prefix}}},
      {"nodePortAddresses", config.nodeport_addresses},
      {"iptables", std::move(iptables)},
      {"nftables", section_json(nftables ? in_effect : config.nftables_section)},
      {"conntrack",
       {{"maxPerCore", config.conntrack.max_per_core},
        {"min", config.conntrack.min},
        {"tcpEstablishedTimeout", format_duration(config.conntrack.tcp_established_timeout)},
        {"tcpCloseWaitTimeout", format_duration(config.conntrack.tcp_close_wait_timeout)},
        {"tcpBeLiberal", config.conntrack.tcp_be_liberal},
        {"udpTimeout", format_duration(config.conntrack.udp_timeout)},
        {"udpStreamTimeout", format_duration(config.conntrack.udp_stream_timeout)}}},
      {"oomScoreAdj", config.oom_score_adj ? nlohmann::json(*config.oom_score_adj) : nlohmann::json(nullptr)},
      {"healthzBindAddress", config.healthz_bind_address},
      {"metricsBindAddress", config.metrics_bind_address},
      {"logging", {{"verbosity", config.verbosity}}},
      {"serviceProxyName", config.service_proxy_name},
  };
  nlohmann::json kubenat = {{"master", config.master},
                            {"nodeIPs", config.node_ips},
                            {"iptablesMode", config.iptables_mode},
                            {"nftablesTable", config.nftables_table},
                            {"routes", config.routes},
                            {"routeProtocol", config.route_protocol},
                            {"configFile", config.config_file}};
  const nlohmann::json served = {{"kubeproxy.config.k8s.io", std::move(kube_proxy)}, {"kubenat", std::move(kubenat)}};
  // Strings from the file need not be UTF-8 (YAML reads bytes).
  return served.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kubenat
