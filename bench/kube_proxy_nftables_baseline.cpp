#include "bench/kube_proxy_nftables_baseline.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/process.h"
#include "rules/endpoint_selection.h"
#include "rules/iptables/chain_names.h"
#include "rules/local_traffic_detector.h"
#include "rules/service_port_info.h"

namespace kubenat::bench {
namespace {

// The names and texts below follow upstream's proxier.go (setupNFTables,
// syncProxyRules, writeServiceToEndpointRules) and knftables' writeOperation,
// which prints every object with its family and table.
constexpr const char* kTable = "ip kube-proxy";

constexpr const char* kClusterIps = "cluster-ips";
constexpr const char* kServiceIps = "service-ips";
constexpr const char* kServiceNodePorts = "service-nodeports";
constexpr const char* kFirewallIps = "firewall-ips";
constexpr const char* kNoEndpointServices = "no-endpoint-services";
constexpr const char* kNoEndpointNodePorts = "no-endpoint-nodeports";
constexpr const char* kMarkMasq = "mark-for-masquerade";

struct BaseChain {
  const char* name;
  const char* type;
  const char* hook;
  int priority;  // knftables prints the named priorities as numbers: dstnat -100, srcnat 100
};
constexpr BaseChain kBaseChains[] = {
    {"filter-prerouting", "filter", "prerouting", -110},
    {"filter-input", "filter", "input", -110},
    {"filter-forward", "filter", "forward", -110},
    {"filter-output", "filter", "output", -110},
    {"filter-output-post-dnat", "filter", "output", -90},
    {"nat-prerouting", "nat", "prerouting", -100},
    {"nat-output", "nat", "output", -100},
    {"nat-postrouting", "nat", "postrouting", 100},
};

struct JumpChain {
  const char* destination;
  const char* source;
  const char* match;
};
constexpr JumpChain kJumpChains[] = {
    {"nodeport-endpoints-check", "filter-input", "ct state new"},
    {"service-endpoints-check", "filter-input", "ct state new"},
    {"service-endpoints-check", "filter-forward", "ct state new"},
    {"service-endpoints-check", "filter-output", "ct state new"},
    {"firewall-check", "filter-prerouting", "ct state new"},
    {"firewall-check", "filter-output", "ct state new"},
    {"services", "nat-output", ""},
    {"services", "nat-prerouting", ""},
    {"masquerading", "nat-postrouting", ""},
    {"cluster-ips-check", "filter-forward", "ct state new"},
    {"cluster-ips-check", "filter-output-post-dnat", "ct state new"},
};

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// One transaction section, written as knftables writes its operations.
class Writer {
 public:
  explicit Writer(std::set<std::string>& created) : created_(created) {}

  void line(const std::string& text) { out_ << text << "\n"; }
  void add_chain(const std::string& name) { line("add chain " + std::string(kTable) + " " + name); }
  void flush_chain(const std::string& name) { line("flush chain " + std::string(kTable) + " " + name); }
  void rule(const std::string& chain, const std::string& rule) {
    line("add rule " + std::string(kTable) + " " + chain + " " + rule);
  }
  // upstream's ensureChain: add and flush a chain once per transaction; with
  // `skip`, only note it as active.
  void ensure_chain(const std::string& name, bool skip = false) {
    if (!created_.insert(name).second || skip) return;
    add_chain(name);
    flush_chain(name);
  }
  std::string take() { return std::move(out_).str(); }

 private:
  std::set<std::string>& created_;
  std::ostringstream out_;
};

std::string masquerade_mark(const ProxyConfig& config) {
  char text[32];
  std::snprintf(text, sizeof text, "%#08x", 1u << config.masquerade_bit);  // Go's %#08x
  return text;
}

std::string address_type(const ProxyConfig& config) {
  return config.family == IpFamily::V4 ? "ipv4_addr" : "ipv6_addr";
}
std::string ip_x(const ProxyConfig& config) { return config.family == IpFamily::V4 ? "ip" : "ip6"; }

bool node_ports_match_all(const ProxyConfig& config) {
  bool any = false;
  for (const Cidr& cidr : config.nodeport_addresses) {
    if (cidr.family() != config.family) continue;
    if (cidr.prefix_length() == 0) return true;
    any = true;
  }
  return !any;
}

// IfLocalNFT / IfNotLocalNFT; empty without a detector.
std::string local_match(const ProxyConfig& config, bool local) {
  const LocalTrafficDetector detector = local_traffic_detector(config);
  const std::string op = local ? "" : "!= ";
  switch (detector.match) {
    case LocalTrafficDetector::Match::None:
      return "";
    case LocalTrafficDetector::Match::SourceCidr:
      return ip_x(config) + " saddr " + op + detector.cidr.to_string();
    case LocalTrafficDetector::Match::Interface:
      return "iifname " + op + quoted(detector.interface);
    case LocalTrafficDetector::Match::InterfacePrefix:
      return "iifname " + op + quoted(detector.interface + "*");
  }
  return "";
}

void fixed_part(Writer& w, const ProxyConfig& config, bool first_sync) {
  const std::string ipx = ip_x(config);
  const std::string addr = address_type(config);
  const std::string no_localhost = config.family == IpFamily::V4 ? "ip daddr != 127.0.0.0/8" : "ip6 daddr != ::1";
  const std::string mark = masquerade_mark(config);
  const std::string t = kTable;
  w.line("add table " + t + " { comment \"rules for kube-proxy\" ; }");
  if (first_sync) {
    for (const BaseChain& chain : kBaseChains) {
      w.add_chain(chain.name);
      w.line("delete chain " + t + " " + chain.name);
    }
  }
  for (const BaseChain& chain : kBaseChains) {
    w.line("add chain " + t + " " + chain.name + " { type " + chain.type + " hook " + chain.hook + " priority " +
           std::to_string(chain.priority) + " ; }");
    w.flush_chain(chain.name);
  }
  for (const JumpChain& jump : kJumpChains) {
    w.ensure_chain(jump.destination);
    const std::string match = jump.match;
    w.rule(jump.source, (match.empty() ? "" : match + " ") + "jump " + jump.destination);
  }
  for (const char* chain : {"services", "cluster-ips-check", "masquerading", kMarkMasq}) w.ensure_chain(chain);
  w.rule(kMarkMasq, "mark set mark or " + mark);
  w.rule("masquerading", "mark and " + mark + " == 0 return");
  w.rule("masquerading", "mark set mark xor " + mark);
  w.rule("masquerading", "masquerade fully-random");
  w.line("add set " + t + " " + kClusterIps + " { type " + addr + " ; comment \"Active ClusterIPs\" ; }");
  w.rule("cluster-ips-check",
         ipx + " daddr @" + kClusterIps + " reject comment \"Reject traffic to invalid ports of ClusterIPs\"");
  // No ServiceCIDR objects in the bench's cluster: no drop rule for unallocated cluster IPs.
  w.line("add set " + t + " nodeport-ips { type " + addr + " ; comment \"IPs that accept NodePort traffic\" ; }");
  const bool match_all = node_ports_match_all(config);
  if (match_all) {
    w.line("delete set " + t + " nodeport-ips");
  } else {
    w.line("flush set " + t + " nodeport-ips");
    for (const IpAddress& ip : config.local_addresses) {
      const bool selected = std::any_of(config.nodeport_addresses.begin(), config.nodeport_addresses.end(),
                                        [&](const Cidr& cidr) { return cidr.contains(ip); });
      if (selected && ip.family() == config.family) {
        w.line("add element " + t + " nodeport-ips { " + ip.to_string() + " }");
      }
    }
  }
  w.line("add map " + t + " " + kNoEndpointServices + " { type " + addr +
         " . inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to services with no "
         "endpoints\" ; }");
  w.line("add map " + t + " " + kNoEndpointNodePorts +
         " { type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service "
         "nodeports with no endpoints\" ; }");
  w.line("add chain " + t +
         " reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }");
  w.flush_chain("reject-chain");
  w.rule("reject-chain", "reject");
  w.rule("service-endpoints-check", ipx + " daddr . meta l4proto . th dport vmap @" + kNoEndpointServices);
  w.rule("nodeport-endpoints-check", (match_all ? no_localhost : ipx + " daddr @nodeport-ips") +
                                         " meta l4proto . th dport vmap @" + kNoEndpointNodePorts);
  w.line("add map " + t + " " + kFirewallIps + " { type " + addr +
         " . inet_proto . inet_service : verdict ; comment \"destinations that are subject to "
         "LoadBalancerSourceRanges\" ; }");
  w.ensure_chain("firewall-check");
  w.rule("firewall-check", ipx + " daddr . meta l4proto . th dport vmap @" + kFirewallIps);
  w.line("add map " + t + " " + kServiceIps + " { type " + addr +
         " . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }");
  w.line("add map " + t + " " + kServiceNodePorts +
         " { type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ; }");
  w.rule("services", ipx + " daddr . meta l4proto . th dport vmap @" + kServiceIps);
  w.rule("services", (match_all ? "fib daddr type local " + no_localhost : ipx + " daddr @nodeport-ips") +
                         " meta l4proto . th dport vmap @" + kServiceNodePorts);
}

bool is_service_chain(const std::string& name) { return name.find('/') != std::string::npos; }

}  // namespace

std::string kube_proxy_nft_name_base(const std::string& name) {
  // chain_hash is the first 16 characters of the same base32 of sha256.
  std::string base = chain_hash(name).substr(0, 8) + "-" + name;
  constexpr std::size_t kMax = 256 - 16;  // knftables.NameLengthMax minus the longest prefix
  if (base.size() > kMax) base = base.substr(0, kMax - 3) + "...";
  return base;
}

std::string KubeProxyNftables::Transaction::text() const {
  std::string all;
  for (const std::string& section : sections) all += section;
  return all;
}

KubeProxyNftables::KubeProxyNftables(ProxyConfig config) : config_(std::move(config)) {
  for (const auto& [kind, name] : {std::pair{"set", kClusterIps},
                                   {"map", kServiceIps},
                                   {"map", kFirewallIps},
                                   {"map", kNoEndpointServices},
                                   {"map", kNoEndpointNodePorts},
                                   {"map", kServiceNodePorts}}) {
    storages_.push_back(ElementStorage{kind, name, {}, {}});
  }
}

KubeProxyNftables::Transaction KubeProxyNftables::full_sync(const ClusterState& state) {
  return sync(state, nullptr, {}, {});
}

KubeProxyNftables::Transaction KubeProxyNftables::partial_sync(const ClusterState& state,
                                                               const std::set<ObjectName>& changed,
                                                               const std::vector<std::string>& existing_chains,
                                                               const std::vector<std::string>& existing_sets) {
  return sync(state, &changed, existing_chains, existing_sets);
}

KubeProxyNftables::Transaction KubeProxyNftables::sync(const ClusterState& state, const std::set<ObjectName>* changed,
                                                       const std::vector<std::string>& existing_chains,
                                                       const std::vector<std::string>& existing_sets) {
  const std::string t = kTable;
  const std::string ipx = ip_x(config_);
  Transaction tx;
  std::set<std::string> active_chains;
  std::set<std::string> active_affinity_sets;

  if (changed == nullptr) {
    Writer w(active_chains);
    fixed_part(w, config_, !flushed_);
    flushed_ = true;
    for (ElementStorage& storage : storages_) {
      storage.elements.clear();
      storage.leftover.clear();
      w.line("flush " + storage.kind + " " + t + " " + storage.name);
    }
    tx.sections.push_back(w.take());
    // Fixed chains are not service chains: only those count below.
    active_chains.clear();
  }

  // upstream's nftElementStorage.ensureElem: written only when new or changed.
  auto ensure_element = [&](Writer& w, std::size_t storage_index, const std::string& key, const std::string& comment,
                            const std::string& value) {
    ElementStorage& storage = storages_[storage_index];
    const std::string head = "element " + t + " " + storage.name + " { " + key;
    const std::string added = "add " + head + (comment.empty() ? "" : " comment " + quoted(comment)) +
                              (value.empty() ? "" : " : " + value) + " }";
    auto it = storage.elements.find(key);
    if (it == storage.elements.end()) {
      w.line(added);
      storage.elements.emplace(key, value);
    } else {
      if (it->second != value) {
        w.line("delete " + head + " }");
        w.line(added);
        it->second = value;
      }
      storage.leftover.erase(key);
    }
  };

  const ResolvedCluster cluster = resolve_cluster(state, config_);
  auto node = state.nodes.find(config_.node_name);
  const std::string zone = node == state.nodes.end() ? std::string() : node->second.zone();
  const std::string mark_masq = kMarkMasq;

  for (const auto& [name, port] : cluster.service_ports) {
    Writer w(active_chains);
    const std::string protocol(protocol_lower(port.name.protocol));
    const std::string base_input =
        port.name.service.namespace_ + "/" + port.name.service.name + "/" + protocol + "/" + port.name.port;
    const std::string base = kube_proxy_nft_name_base(base_input);
    const std::string cluster_chain = "service-" + base;
    const std::string local_chain = "local-" + base;
    const std::string external_chain = "external-" + base;
    const std::string firewall_chain = "firewall-" + base;
    auto endpoint_base = [&](const EndpointInfo& ep) {
      std::string ip = ep.ip.to_string();
      std::replace(ip.begin(), ip.end(), ':', '.');
      return kube_proxy_nft_name_base(base_input + "__" + ip + "/" + std::to_string(ep.port));
    };

    const EndpointSelection selection = select_endpoints(port, config_.node_name, zone);
    const bool skip = changed != nullptr && !changed->contains(port.name.service);

    for (std::size_t i : selection.reachable) {
      w.ensure_chain("endpoint-" + endpoint_base(port.endpoints[i]), skip);
      if (port.session_affinity) active_affinity_sets.insert("affinity-" + endpoint_base(port.endpoints[i]));
    }
    const bool uses_cluster_chain = !selection.cluster.empty() && port.uses_cluster_endpoints();
    if (uses_cluster_chain) w.ensure_chain(cluster_chain, skip);
    const bool uses_local_chain = !selection.local.empty() && port.uses_local_endpoints();
    if (uses_local_chain) w.ensure_chain(local_chain, skip);

    const bool has_endpoints = selection.has_any;
    std::string internal_chain = cluster_chain;
    bool has_internal = has_endpoints;
    if (port.internal_policy_local) {
      internal_chain = local_chain;
      if (selection.local.empty()) has_internal = false;
    }
    std::string external_policy_chain = cluster_chain;
    bool has_external = has_endpoints;
    if (port.external_policy_local) {
      external_policy_chain = local_chain;
      if (selection.local.empty()) has_external = false;
    }
    const bool uses_external_chain = has_endpoints && port.externally_accessible();
    if (uses_external_chain) w.ensure_chain(external_chain, skip);

    std::string internal_filter = "drop";
    std::string external_filter = "drop";
    if (!has_endpoints) internal_filter = external_filter = "goto reject-chain";

    const std::string port_text = std::to_string(port.port);
    auto destination = [&](const IpAddress& ip) { return ip.to_string() + " . " + protocol + " . " + port_text; };
    ensure_element(w, 0, port.cluster_ip.to_string(), "", "");
    if (has_internal) {
      ensure_element(w, 1, destination(port.cluster_ip), "", "goto " + internal_chain);
    } else {
      ensure_element(w, 3, destination(port.cluster_ip), port.name_string, internal_filter);
    }
    for (const IpAddress& ip : port.external_ips) {
      if (has_endpoints) ensure_element(w, 1, destination(ip), "", "goto " + external_chain);
      if (!has_external) ensure_element(w, 3, destination(ip), port.name_string, external_filter);
    }
    const bool uses_firewall = !port.load_balancer_ips.empty() && !port.load_balancer_source_ranges.empty();
    if (uses_firewall) w.ensure_chain(firewall_chain, skip);
    for (const IpAddress& ip : port.load_balancer_ips) {
      if (has_endpoints) ensure_element(w, 1, destination(ip), "", "goto " + external_chain);
      if (uses_firewall) ensure_element(w, 2, destination(ip), "", "goto " + firewall_chain);
    }
    if (!has_external) {
      for (const IpAddress& ip : port.load_balancer_ips) {
        ensure_element(w, 3, destination(ip), port.name_string, external_filter);
      }
    }
    if (port.node_port != 0) {
      const std::string key = protocol + " . " + std::to_string(port.node_port);
      if (has_endpoints) ensure_element(w, 5, key, "", "goto " + external_chain);
      if (!has_external) ensure_element(w, 4, key, port.name_string, external_filter);
    }

    if (skip) {
      tx.sections.push_back(w.take());
      continue;
    }

    if (has_internal) {
      const std::string daddr = ipx + " daddr " + port.cluster_ip.to_string() + " " + protocol + " dport " + port_text;
      const std::string not_local = local_match(config_, false);
      if (config_.masquerade_all) {
        w.rule(internal_chain, daddr + " jump " + mark_masq);
      } else if (!not_local.empty()) {
        w.rule(internal_chain, daddr + " " + not_local + " jump " + mark_masq);
      }
    }
    if (uses_external_chain) {
      if (!port.external_policy_local) {
        w.rule(external_chain, "jump " + mark_masq);
      } else {
        const std::string local = local_match(config_, true);
        if (!local.empty()) {
          w.rule(external_chain, local + " goto " + cluster_chain + " comment \"short-circuit pod traffic\"");
        }
        w.rule(external_chain, "fib saddr type local jump " + mark_masq + " comment \"masquerade local traffic\"");
        w.rule(external_chain,
               "fib saddr type local goto " + cluster_chain + " comment \"short-circuit local traffic\"");
      }
      if (has_external) w.rule(external_chain, "goto " + external_policy_chain);
    }
    if (uses_firewall) {
      std::string sources;
      bool allow_from_node = false;
      for (const Cidr& cidr : port.load_balancer_source_ranges) {
        sources += (sources.empty() ? "" : " , ") + cidr.to_string();
        for (const IpAddress& node_ip : config_.node_ips) allow_from_node |= cidr.contains(node_ip);
      }
      if (allow_from_node) {
        for (const IpAddress& ip : port.load_balancer_ips) sources += " , " + ip.to_string();
      }
      w.rule(firewall_chain, ipx + " saddr != { " + sources + " } drop");
    }
    if (port.session_affinity) {
      for (std::size_t i : selection.reachable) {
        w.line("add set " + t + " affinity-" + endpoint_base(port.endpoints[i]) + " { type " + address_type(config_) +
               " ; flags dynamic,timeout ; timeout " + std::to_string(port.session_affinity_timeout_seconds) + "s ; }");
      }
    }
    // writeServiceToEndpointRules
    auto service_to_endpoints = [&](const std::string& chain, const std::vector<std::size_t>& endpoints) {
      if (port.session_affinity) {
        for (std::size_t i : endpoints) {
          const std::string ep = endpoint_base(port.endpoints[i]);
          w.rule(chain, ipx + " saddr @affinity-" + ep + " goto endpoint-" + ep);
        }
      }
      std::string elements;
      for (std::size_t k = 0; k < endpoints.size(); ++k) {
        elements += std::to_string(k) + " : goto endpoint-" + endpoint_base(port.endpoints[endpoints[k]]) +
                    (k + 1 < endpoints.size() ? " , " : "");
      }
      w.rule(chain, "numgen random mod " + std::to_string(endpoints.size()) + " vmap { " + elements + " }");
    };
    if (uses_cluster_chain) service_to_endpoints(cluster_chain, selection.cluster);
    if (uses_local_chain) service_to_endpoints(local_chain, selection.local);
    for (std::size_t i : selection.reachable) {
      const EndpointInfo& ep = port.endpoints[i];
      const std::string chain = "endpoint-" + endpoint_base(ep);
      w.rule(chain, ipx + " saddr " + ep.ip.to_string() + " jump " + mark_masq);
      if (port.session_affinity) w.rule(chain, "update @affinity-" + endpoint_base(ep) + " { " + ipx + " saddr }");
      w.rule(chain, "meta l4proto " + protocol + " dnat to " + ep.address);
    }
    tx.sections.push_back(w.take());
  }

  // Stale service chains are flushed now (deleted a sync later, as upstream
  // does for kernels before 6.2), stale affinity sets deleted, elements no
  // service port ensured removed.
  std::set<std::string> unused;
  Writer w(unused);
  for (const std::string& chain : existing_chains) {
    if (is_service_chain(chain) && !active_chains.contains(chain)) w.flush_chain(chain);
  }
  for (const std::string& set : existing_sets) {
    if (set.starts_with("affinity-") && !active_affinity_sets.contains(set)) w.line("delete set " + t + " " + set);
  }
  for (ElementStorage& storage : storages_) {
    for (const std::string& key : storage.leftover) {
      w.line("delete element " + t + " " + storage.name + " { " + key + " }");
      storage.elements.erase(key);
    }
    storage.leftover.clear();
    for (const auto& [key, value] : storage.elements) storage.leftover.insert(key);
  }
  tx.sections.push_back(w.take());
  return tx;
}

namespace {

// nsenter joins the network namespace only: `ip netns exec` also remounts
// /sys for the namespace, some 10 ms per call that kube-proxy, already in its
// namespace, does not pay (three calls per sync).
std::vector<std::string> nft_in(const std::string& netns, std::vector<std::string> args) {
  std::vector<std::string> argv = {"nsenter", "--net=/run/netns/" + netns, "nft"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

std::expected<std::optional<double>, std::string> nft_transaction(const std::string& netns, const std::string& text,
                                                                  std::chrono::milliseconds timeout) {
  const std::vector<std::string> argv = nft_in(netns, {"-f", "-"});
  const auto start = std::chrono::steady_clock::now();
  auto result = run_process(argv, ProcessOptions{.input = text, .timeout = timeout});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (!result) {
    // run_process kills the program at the timeout and says so in its error.
    if (elapsed >= timeout) return std::nullopt;
    return std::unexpected(result.error());
  }
  if (!result->ok()) {
    std::string message = result->err.empty() ? result->out : result->err;
    if (message.size() > 500) message.resize(500);
    return std::unexpected("nft -f exited with status " + std::to_string(result->exit_status) + ": " + message);
  }
  return std::chrono::duration<double, std::milli>(elapsed).count();
}

std::expected<std::vector<std::string>, std::string> parse_nft_list_names(const std::string& json,
                                                                          const std::string& what) {
  const std::string singular = what.substr(0, what.size() - 1);
  const nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("nftables") || !parsed["nftables"].is_array()) {
    return std::unexpected("nft -j list " + what + ": not the JSON nft prints");
  }
  std::vector<std::string> names;
  for (const nlohmann::json& object : parsed["nftables"]) {
    auto it = object.find(singular);
    if (it == object.end() || !it->is_object()) continue;
    if (it->value("table", "") != "kube-proxy") continue;
    if (it->contains("name") && (*it)["name"].is_string()) names.push_back((*it)["name"].get<std::string>());
  }
  return names;
}

std::expected<std::vector<std::string>, std::string> nft_list_names(const std::string& netns, const std::string& what) {
  auto result = run_process(nft_in(netns, {"-j", "list", what, "ip"}));
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("nft -j list " + what + " ip: " + result->err);
  return parse_nft_list_names(result->out, what);
}

}  // namespace kubenat::bench
