#include "rules/iptables/compiler.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>

#include "rules/iptables/chain_names.h"
#include "rules/local_traffic_detector.h"

namespace kubenat {
namespace {

constexpr std::string_view kServices = "KUBE-SERVICES";
constexpr std::string_view kExternalServices = "KUBE-EXTERNAL-SERVICES";
constexpr std::string_view kForward = "KUBE-FORWARD";
constexpr std::string_view kNodePorts = "KUBE-NODEPORTS";
constexpr std::string_view kProxyFirewall = "KUBE-PROXY-FIREWALL";
constexpr std::string_view kKubeletFirewall = "KUBE-FIREWALL";
constexpr std::string_view kPostrouting = "KUBE-POSTROUTING";
constexpr std::string_view kMarkMasq = "KUBE-MARK-MASQ";

// The IP of an "IP:port" or "[IP]:port" endpoint string, as the address
// prints it.
std::string_view host_of(std::string_view endpoint) {
  endpoint = endpoint.substr(0, endpoint.rfind(':'));
  if (!endpoint.empty() && endpoint.front() == '[') endpoint = endpoint.substr(1, endpoint.size() - 2);
  return endpoint;
}

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

// Joins the pieces of a rule with single spaces, skipping empty pieces.
template <class... Parts>
std::string rule(const Parts&... parts) {
  std::string out;
  out.reserve(160);
  auto add = [&out](std::string_view part) {
    if (part.empty()) return;
    if (!out.empty()) out += ' ';
    out += part;
  };
  (add(std::string_view(parts)), ...);
  return out;
}

// What decides pod traffic, as iptables arguments (kube-proxy's IfLocal and
// IfNotLocal).
struct LocalDetector {
  std::string if_local;      // "-s 10.0.0.0/8", "-i cbr0", "-i veth+"
  std::string if_not_local;  // "! -s 10.0.0.0/8", "! -i cbr0", "! -i veth+"
  bool implemented() const { return !if_local.empty(); }
};

LocalDetector local_detector(const ProxyConfig& config) {
  using M = LocalTrafficDetector::Match;
  const LocalTrafficDetector detector = local_traffic_detector(config);
  std::string match;
  switch (detector.match) {
    case M::None: return {};
    case M::SourceCidr: match = "-s " + detector.cidr.to_string(); break;
    case M::Interface: match = "-i " + detector.interface; break;
    case M::InterfacePrefix: match = "-i " + detector.interface + "+"; break;
  }
  return LocalDetector{match, "! " + match};
}

struct NodePortAddresses {
  std::vector<Cidr> cidrs;  // this family
  bool match_all = true;
  bool contains_ipv4_loopback = false;
};

NodePortAddresses node_port_addresses(const ProxyConfig& config) {
  NodePortAddresses out;
  const IpAddress loopback = IpAddress::v4(127, 0, 0, 1);
  bool zero = false;
  for (const Cidr& cidr : config.nodeport_addresses) {
    if (cidr.contains(loopback)) out.contains_ipv4_loopback = true;
    if (cidr.family() != config.family) continue;
    if (cidr.prefix_length() == 0) zero = true;
    out.cidrs.push_back(cidr);
  }
  out.match_all = out.cidrs.empty() || zero;
  if (out.match_all && config.family == IpFamily::V4) out.contains_ipv4_loopback = true;
  return out;
}

// kube-proxy caches its probability strings too: formatting a double is
// the single most expensive step of writing a dispatch rule.
class ProbabilityCache {
 public:
  const std::string& get(std::size_t n) {
    while (cache_.size() <= n) cache_.push_back(cache_.empty() ? std::string() : probability(cache_.size()));
    return cache_[n];
  }

 private:
  std::vector<std::string> cache_;
};

struct Context {
  const ProxyConfig& config;
  LocalDetector detector;
  bool localhost_nodeports;
  bool large_cluster_mode;
  ProbabilityCache* probabilities;
  ChainNamer* namer;
};

class ServicePortCompiler {
 public:
  ServicePortCompiler(const ServicePortInfo& port, const EndpointSelection& sel, const Context& ctx)
      : port_(port),
        sel_(sel),
        ctx_(ctx),
        spn_(port.name_string),
        hash_prefix_(chain_hash_prefix(port.name)),
        hash_(ctx.namer->chain_hash(hash_prefix_)),
        proto_(protocol_lower(port.name.protocol)) {}

  ServicePortRules compile();

 private:
  ChainName chain(std::string_view prefix) const {
    char name[ChainName::kMaxLength];
    prefix.copy(name, prefix.size());
    hash_.copy(name + prefix.size(), hash_.size());
    return ChainName(std::string_view(name, prefix.size() + hash_.size()));
  }
  void add_shared(IptablesTable table, std::string_view chain, std::string text) {
    out_.shared_rules.push_back(SharedRule{table, std::string(chain), std::move(text)});
  }
  // Owned chains are written one after the other into the port's text:
  // open_chain, then rules, then close_chain.
  void open_chain(const ChainName& name) {
    out_.chains.push_back(OwnedChain{name, static_cast<std::uint32_t>(out_.text.size()), 0});
  }
  void close_chain() { out_.chains.back().end = static_cast<std::uint32_t>(out_.text.size()); }
  void add_rule(std::string_view rule) {
    std::string& out = out_.text;
    out += "-A ";
    out += out_.chains.back().name.view();
    out += ' ';
    out += rule;
    out += '\n';
  }
  // "-m tcp -p tcp -d <ip> --dport <port>"
  std::string match(const IpAddress& ip, int port) const {
    return rule("-m", proto_, "-p", proto_, "-d", ip.to_string(), "--dport", std::to_string(port));
  }
  std::string comment(std::string_view text) const { return rule("-m comment --comment", text); }
  // Endpoint chain names, hashed once per endpoint on first use.
  const ChainName& sep_name(std::size_t i) {
    if (sep_names_.empty()) sep_names_.resize(port_.endpoints.size());
    if (sep_names_[i].size() == 0) {
      sep_names_[i] = ctx_.namer->sep_chain_from_prefix(hash_prefix_, port_.endpoints[i].address);
    }
    return sep_names_[i];
  }
  void write_dispatch(const ChainName& chain_name, const std::vector<std::size_t>& endpoints);
  void write_endpoint_chain(std::size_t i);

  const ServicePortInfo& port_;
  const EndpointSelection& sel_;
  const Context& ctx_;
  const std::string& spn_;
  const std::string hash_prefix_;
  const std::string hash_;
  const std::string_view proto_;
  std::vector<ChainName> sep_names_;
  ServicePortRules out_;
};

// The two functions below run once per endpoint, a hundred thousand times in
// a large cluster: they build each rule in one string, without temporaries.

// The two functions below run once per endpoint, a hundred thousand times in
// a large cluster: they append each rule to the chain's text in place.

void ServicePortCompiler::write_dispatch(const ChainName& chain_name,
                                         const std::vector<std::size_t>& endpoints) {
  std::string& out = out_.text;
  auto start_rule = [&](const EndpointInfo& ep) {
    out += "-A ";
    out += chain_name.view();
    out += ' ';
    if (!ctx_.large_cluster_mode) {
      out += "-m comment --comment \"";
      out += spn_;
      out += " -> ";
      out += ep.address;
      out += "\" ";
    }
  };
  if (port_.session_affinity) {
    const std::string timeout = std::to_string(port_.session_affinity_timeout_seconds);
    for (std::size_t i : endpoints) {
      const std::string_view sep = sep_name(i);
      start_rule(port_.endpoints[i]);
      out += "-m recent --name ";
      out += sep;
      out += " --rcheck --seconds ";
      out += timeout;
      out += " --reap -j ";
      out += sep;
      out += '\n';
    }
  }
  const std::size_t n = endpoints.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view sep = sep_name(endpoints[i]);
    start_rule(port_.endpoints[endpoints[i]]);
    if (i + 1 < n) {
      out += "-m statistic --mode random --probability ";
      out += ctx_.probabilities->get(n - i);
      out += ' ';
    }
    out += "-j ";
    out += sep;
    out += '\n';
  }
}

void ServicePortCompiler::write_endpoint_chain(std::size_t i) {
  const EndpointInfo& ep = port_.endpoints[i];
  const std::string_view sep = sep_name(i);
  std::string& out = out_.text;
  open_chain(sep_names_[i]);
  auto start_rule = [&] {
    out += "-A ";
    out += sep;
    out += ' ';
    if (!ctx_.large_cluster_mode) {
      out += "-m comment --comment ";
      out += spn_;
      out += ' ';
    }
  };
  // Hairpin: a pod reaching itself through the service must be SNATed, or
  // it would answer itself directly.
  start_rule();
  out += "-s ";
  out += host_of(ep.address);
  out += " -j KUBE-MARK-MASQ\n";

  start_rule();
  if (port_.session_affinity) {
    out += "-m recent --name ";
    out += sep;
    out += " --set ";
  }
  out += "-m ";
  out += proto_;
  out += " -p ";
  out += proto_;
  out += " -j DNAT --to-destination ";
  out += ep.address;
  out += '\n';
  close_chain();
}

ServicePortRules ServicePortCompiler::compile() {
  const bool has_endpoints = sel_.has_any;
  const ChainName svc = chain("KUBE-SVC-");
  const ChainName svl = chain("KUBE-SVL-");
  const ChainName ext = chain("KUBE-EXT-");
  const ChainName fw = chain("KUBE-FW-");

  const bool uses_svc = !sel_.cluster.empty() && port_.uses_cluster_endpoints();
  const bool uses_svl = !sel_.local.empty() && port_.uses_local_endpoints();

  const ChainName& internal_chain = port_.internal_policy_local ? svl : svc;
  const bool has_internal = has_endpoints && !(port_.internal_policy_local && sel_.local.empty());
  const ChainName& external_policy_chain = port_.external_policy_local ? svl : svc;
  const bool has_external = has_endpoints && !(port_.external_policy_local && sel_.local.empty());
  // The EXT chain exists even without usable external endpoints: its
  // short-circuit rules for pod and host traffic still apply.
  const bool uses_ext = has_endpoints && port_.externally_accessible();
  const bool uses_fw =
      has_endpoints && !port_.load_balancer_ips.empty() && !port_.load_balancer_source_ranges.empty();
  const ChainName& lb_chain = uses_fw ? fw : ext;

  std::string internal_target, internal_comment, external_target, external_comment;
  if (!has_endpoints) {
    internal_target = external_target = "REJECT";
    internal_comment = external_comment = quoted(spn_ + " has no endpoints");
  } else {
    if (!has_internal) {
      internal_target = "DROP";
      internal_comment = quoted(spn_ + " has no local endpoints");
    }
    if (!has_external) {
      external_target = "DROP";
      external_comment = quoted(spn_ + " has no local endpoints");
    }
  }

  // Shared chains: these rules stand in KUBE-SERVICES and friends.
  const std::string cluster_ip_match = match(port_.cluster_ip, port_.port);
  if (has_internal) {
    add_shared(IptablesTable::Nat, kServices,
               rule(comment(quoted(spn_ + " cluster IP")), cluster_ip_match, "-j", internal_chain));
  } else {
    add_shared(IptablesTable::Filter, kServices,
               rule(comment(internal_comment), cluster_ip_match, "-j", internal_target));
  }
  for (const IpAddress& ip : port_.external_ips) {
    if (has_endpoints) {
      add_shared(IptablesTable::Nat, kServices,
                 rule(comment(quoted(spn_ + " external IP")), match(ip, port_.port), "-j", ext));
    }
    if (!has_external) {
      add_shared(IptablesTable::Filter, kExternalServices,
                 rule(comment(external_comment), match(ip, port_.port), "-j", external_target));
    }
  }
  for (const IpAddress& ip : port_.load_balancer_ips) {
    if (has_endpoints) {
      add_shared(IptablesTable::Nat, kServices,
                 rule(comment(quoted(spn_ + " loadbalancer IP")), match(ip, port_.port), "-j", lb_chain));
    }
    if (uses_fw) {
      add_shared(IptablesTable::Filter, kProxyFirewall,
                 rule(comment(quoted(spn_ + " traffic not accepted by " + fw.str())), match(ip, port_.port),
                      "-j DROP"));
    }
  }
  if (!has_external) {
    for (const IpAddress& ip : port_.load_balancer_ips) {
      add_shared(IptablesTable::Filter, kExternalServices,
                 rule(comment(external_comment), match(ip, port_.port), "-j", external_target));
    }
  }
  if (port_.node_port != 0) {
    const std::string node_port = std::to_string(port_.node_port);
    if (has_endpoints) {
      if (ctx_.localhost_nodeports && ctx_.config.nfacct_counters) {
        add_shared(IptablesTable::Nat, kNodePorts,
                   rule(comment(spn_), "-m", proto_, "-p", proto_, "-d 127.0.0.0/8 --dport", node_port,
                        "-m nfacct --nfacct-name localhost_nps_accepted_pkts -j", ext));
      }
      add_shared(IptablesTable::Nat, kNodePorts,
                 rule(comment(spn_), "-m", proto_, "-p", proto_, "--dport", node_port, "-j", ext));
    }
    if (!has_external) {
      add_shared(IptablesTable::Filter, kExternalServices,
                 rule(comment(external_comment), "-m addrtype --dst-type LOCAL -m", proto_, "-p", proto_,
                      "--dport", node_port, "-j", external_target));
    }
  }
  if (port_.health_check_node_port != 0) {
    add_shared(IptablesTable::Filter, kNodePorts,
               rule(comment(quoted(spn_ + " health check node port")), "-m tcp -p tcp --dport",
                    std::to_string(port_.health_check_node_port), "-j ACCEPT"));
  }

  // Owned chains, each written whole: EXT, FW, SVC, SVL, then one per
  // endpoint. The SVC/SVL chain that serves the cluster IP starts with the
  // masquerade rule for traffic from outside the cluster.
  std::string masq;
  if (has_internal) {
    if (ctx_.config.masquerade_all) {
      masq = rule(comment(quoted(spn_ + " cluster IP")), cluster_ip_match, "-j", kMarkMasq);
    } else if (ctx_.detector.implemented()) {
      // Off-cluster sources reaching a cluster IP (a static route to the
      // service range through any node) may be forwarded to another node:
      // masquerade them so that replies come back the same way.
      masq = rule(comment(quoted(spn_ + " cluster IP")), cluster_ip_match, ctx_.detector.if_not_local, "-j",
                  kMarkMasq);
    }
  }

  std::size_t estimate = 512 + sel_.reachable.size() * (300 + 2 * spn_.size());
  if (uses_svc) estimate += sel_.cluster.size() * (200 + spn_.size());
  if (uses_svl) estimate += sel_.local.size() * (200 + spn_.size());
  out_.text.reserve(estimate);
  out_.chains.reserve(sel_.reachable.size() + 4);

  if (uses_ext) {
    open_chain(ext);
    if (!port_.external_policy_local) {
      add_rule(rule(comment(quoted("masquerade traffic for " + spn_ + " external destinations")), "-j", kMarkMasq));
    } else {
      if (ctx_.detector.implemented()) {
        // Pods reaching an external address are treated as if they had gone
        // out to the load balancer and back: any endpoint, no policy.
        add_rule(rule(comment(quoted("pod traffic for " + spn_ + " external destinations")), ctx_.detector.if_local,
                      "-j", svc));
      }
      // The host's own traffic has a local source address that the endpoint
      // could not answer: masquerade it, and let it use any endpoint.
      add_rule(rule(comment(quoted("masquerade LOCAL traffic for " + spn_ + " external destinations")),
                    "-m addrtype --src-type LOCAL -j", kMarkMasq));
      add_rule(rule(comment(quoted("route LOCAL traffic for " + spn_ + " external destinations")),
                    "-m addrtype --src-type LOCAL -j", svc));
    }
    if (has_external) add_rule(rule("-j", external_policy_chain));
    close_chain();
  }

  if (uses_fw) {
    open_chain(fw);
    const std::string lb_comment = comment(quoted(spn_ + " loadbalancer IP"));
    bool allow_from_node = false;
    for (const Cidr& range : port_.load_balancer_source_ranges) {
      add_rule(rule(lb_comment, "-s", range.to_string(), "-j", ext));
      for (const IpAddress& node_ip : ctx_.config.node_ips) {
        if (range.contains(node_ip)) allow_from_node = true;
      }
    }
    // A VIP-style load balancer often makes the VIP a local address: the
    // node's own requests to it then loop back with the VIP as source.
    if (allow_from_node) {
      for (const IpAddress& ip : port_.load_balancer_ips) add_rule(rule(lb_comment, "-s", ip.to_string(), "-j", ext));
    }
    // No target: what falls through was not DNATed, and the filter table's
    // KUBE-PROXY-FIREWALL drops it.
    add_rule(comment(quoted("other traffic to " + spn_ + " will be dropped by KUBE-PROXY-FIREWALL")));
    close_chain();
  }

  for (const auto& [uses, name, endpoints] :
       {std::tuple{uses_svc, &svc, &sel_.cluster}, std::tuple{uses_svl, &svl, &sel_.local}}) {
    if (!uses) continue;
    open_chain(*name);
    if (!masq.empty() && *name == internal_chain) add_rule(masq);
    write_dispatch(*name, *endpoints);
    close_chain();
  }
  for (std::size_t i : sel_.reachable) write_endpoint_chain(i);

  std::sort(out_.chains.begin(), out_.chains.end(),
            [](const OwnedChain& a, const OwnedChain& b) { return a.name < b.name; });

  out_.endpoint_count = port_.endpoints.size();
  out_.rule_counts[static_cast<std::size_t>(IptablesTable::Nat)] =
      static_cast<std::uint32_t>(std::count(out_.text.begin(), out_.text.end(), '\n'));
  for (const SharedRule& shared : out_.shared_rules) ++out_.rule_counts[static_cast<std::size_t>(shared.table)];
  if (port_.name.protocol == Protocol::Udp) {
    UdpFlowTargets& udp = out_.udp.emplace();
    udp.destinations.push_back(port_.cluster_ip);
    udp.destinations.insert(udp.destinations.end(), port_.external_ips.begin(), port_.external_ips.end());
    udp.destinations.insert(udp.destinations.end(), port_.load_balancer_ips.begin(), port_.load_balancer_ips.end());
    udp.port = port_.port;
    udp.node_port = port_.node_port;
    for (std::size_t i : sel_.reachable) udp.endpoints.push_back(port_.endpoints[i].address);
    std::sort(udp.endpoints.begin(), udp.endpoints.end());
  }
  return std::move(out_);
}

std::string jump(std::string_view extra, std::string_view comment_text, std::string_view target) {
  return rule(extra, comment_text.empty() ? std::string() : rule("-m comment --comment", quoted(comment_text)),
              "-j", target);
}

}  // namespace

std::string masquerade_mark(int masquerade_bit) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%08x", 1u << masquerade_bit);
  return buf;
}

std::string probability(std::size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0.10f", 1.0 / static_cast<double>(n));
  return buf;
}

IptablesPlan iptables_base_plan(const ProxyConfig& config) {
  IptablesPlan plan;
  plan.family = config.family;
  const std::string mark = masquerade_mark(config.masquerade_bit);
  const bool localhost = accepts_localhost_nodeports(config);
  const bool kubelet_firewall = config.family == IpFamily::V4 && localhost;

  using T = IptablesTable;
  const std::string_view new_conn = "-m conntrack --ctstate NEW";
  struct Jump {
    T table;
    std::string_view from;
    std::string_view extra;
    std::string_view comment;
    std::string_view to;
  };
  // kube-proxy ensures these by prepending, one after the other, so the last
  // one ends up on top. Listed here in kube-proxy's order.
  std::vector<Jump> ensured = {
      {T::Filter, "INPUT", new_conn, "kubernetes externally-visible service portals", kExternalServices},
      {T::Filter, "FORWARD", new_conn, "kubernetes externally-visible service portals", kExternalServices},
      {T::Filter, "INPUT", "", "kubernetes health check service ports", kNodePorts},
      {T::Filter, "FORWARD", new_conn, "kubernetes service portals", kServices},
      {T::Filter, "OUTPUT", new_conn, "kubernetes service portals", kServices},
      {T::Filter, "FORWARD", "", "kubernetes forwarding rules", kForward},
      {T::Filter, "INPUT", new_conn, "kubernetes load balancer firewall", kProxyFirewall},
      {T::Filter, "OUTPUT", new_conn, "kubernetes load balancer firewall", kProxyFirewall},
      {T::Filter, "FORWARD", new_conn, "kubernetes load balancer firewall", kProxyFirewall},
      {T::Nat, "OUTPUT", "", "kubernetes service portals", kServices},
      {T::Nat, "PREROUTING", "", "kubernetes service portals", kServices},
      {T::Nat, "POSTROUTING", "", "kubernetes postrouting rules", kPostrouting},
  };
  if (kubelet_firewall) {
    ensured.push_back({T::Filter, "INPUT", "", "", kKubeletFirewall});
    ensured.push_back({T::Filter, "OUTPUT", "", "", kKubeletFirewall});
  }
  for (auto it = ensured.rbegin(); it != ensured.rend(); ++it) {
    plan.jumps.push_back(JumpRule{it->table, std::string(it->from), jump(it->extra, it->comment, it->to)});
  }
  // Group by table and built-in chain (in packet-path order), keeping the
  // top-down order within each chain.
  auto hook_rank = [](const JumpRule& j) {
    constexpr std::string_view order[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
    return static_cast<int>(std::find(std::begin(order), std::end(order), j.chain) - std::begin(order));
  };
  std::stable_sort(plan.jumps.begin(), plan.jumps.end(), [&](const JumpRule& a, const JumpRule& b) {
    return a.table != b.table ? a.table < b.table : hook_rank(a) < hook_rank(b);
  });

  auto shared = [&plan](T table, std::string_view name, std::vector<std::string> head = {},
                        std::vector<std::string> tail = {}) {
    plan.shared_chains.push_back(SharedChain{table, std::string(name), std::move(head), std::move(tail)});
  };

  std::vector<std::string> forward;
  if (!config.conntrack_tcp_liberal) {
    forward.push_back(rule("-m conntrack --ctstate INVALID",
                           config.nfacct_counters ? "-m nfacct --nfacct-name ct_state_invalid_dropped_pkts" : "",
                           "-j DROP"));
  }
  forward.push_back(rule("-m comment --comment", quoted("kubernetes forwarding rules"), "-m mark --mark",
                         mark + "/" + mark, "-j ACCEPT"));
  forward.push_back(rule("-m comment --comment", quoted("kubernetes forwarding conntrack rule"),
                         "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"));

  shared(T::Filter, kServices);
  shared(T::Filter, kExternalServices);
  shared(T::Filter, kForward, {}, std::move(forward));
  shared(T::Filter, kNodePorts);
  shared(T::Filter, kProxyFirewall);
  if (kubelet_firewall) {
    // Mitigates https://issue.k8s.io/90259: route_localnet, which localhost
    // NodePorts need, would otherwise accept martian packets to 127/8.
    shared(T::Filter, kKubeletFirewall,
           {rule("-m comment --comment", quoted("block incoming localnet connections"),
                 "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")});
  }

  std::vector<std::string> nodeports_tail;
  const std::string nodeports_comment =
      rule("-m comment --comment", quoted("kubernetes service nodeports; NOTE: this must be the last rule in this chain"));
  const NodePortAddresses addresses = node_port_addresses(config);
  if (addresses.match_all) {
    std::string destinations = "-m addrtype --dst-type LOCAL";
    if (config.family == IpFamily::V6) {
      destinations += " ! -d ::1/128";
    } else if (!localhost) {
      destinations += " ! -d 127.0.0.0/8";
    }
    nodeports_tail.push_back(rule(nodeports_comment, destinations, "-j", kNodePorts));
  } else {
    for (const IpAddress& ip : config.local_addresses) {
      if (ip.family() != config.family) continue;
      bool selected = std::any_of(addresses.cidrs.begin(), addresses.cidrs.end(),
                                  [&](const Cidr& cidr) { return cidr.contains(ip); });
      if (!selected) continue;
      if (ip.is_loopback() && (config.family == IpFamily::V6 || !localhost)) continue;
      nodeports_tail.push_back(rule(nodeports_comment, "-d", ip.to_string(), "-j", kNodePorts));
    }
  }
  shared(T::Nat, kServices, {}, std::move(nodeports_tail));
  shared(T::Nat, kNodePorts);
  shared(T::Nat, kPostrouting,
         {rule("-m mark ! --mark", mark + "/" + mark, "-j RETURN"),
          // Clear the mark so that a packet that traverses the stack again
          // is not masqueraded twice.
          rule("-j MARK --xor-mark", mark),
          rule("-m comment --comment", quoted("kubernetes service traffic requiring SNAT"), "-j MASQUERADE",
               config.masquerade_random_fully ? "--random-fully" : "")});
  shared(T::Nat, kMarkMasq, {rule("-j MARK --or-mark", mark)});
  return plan;
}

ServicePortRules compile_service_port(const ServicePortInfo& port, const EndpointSelection& selection,
                                      const ProxyConfig& config, bool large_cluster_mode) {
  ProbabilityCache probabilities;
  ChainNamer namer;
  const Context ctx{
      config, local_detector(config), accepts_localhost_nodeports(config), large_cluster_mode, &probabilities, &namer};
  return ServicePortCompiler(port, selection, ctx).compile();
}

namespace {

const std::map<std::string, EndpointSlice>* slices_of(const ClusterState& state, const ObjectName& id) {
  auto it = state.slices.find(id);
  return it == state.slices.end() ? nullptr : &it->second;
}

std::string node_zone(const ClusterState& state, const ProxyConfig& config) {
  auto node = state.nodes.find(config.node_name);
  return node == state.nodes.end() ? std::string() : node->second.zone();
}

// Compiles one Service's ports into `plan` and adds their endpoints to its
// total; returns their names.
std::vector<ServicePortName> compile_service_into(IptablesPlan& plan, const ClusterState& state, const Service& service,
                                                  const ProxyConfig& config, const std::string& zone, const Context& ctx) {
  std::vector<ServicePortName> names;
  for (const ServicePortInfo& port : resolve_service_ports(service, slices_of(state, service.id), config)) {
    plan.total_endpoints += port.endpoints.size();
    const EndpointSelection selection = select_endpoints(port, config.node_name, zone);
    auto rules = std::make_shared<const ServicePortRules>(ServicePortCompiler(port, selection, ctx).compile());
    for (std::size_t table = 0; table < rules->rule_counts.size(); ++table) {
      plan.service_port_rules[table] += rules->rule_counts[table];
    }
    plan.service_ports.insert_or_assign(port.name, std::move(rules));
    names.push_back(port.name);
  }
  return names;
}

}  // namespace

IptablesCompileResult compile_iptables(const ClusterState& state, const ProxyConfig& config) {
  IptablesCompileResult result;
  result.diagnostics = orphan_slice_diagnostics(state);
  IptablesPlan& plan = result.plan;
  plan = iptables_base_plan(config);
  const std::string zone = node_zone(state, config);

  // Large-cluster mode depends on the endpoint count of the whole cluster,
  // which is exact only once every service port is resolved. Rather than keep
  // every resolved port alive until then, compile in the mode the slices'
  // count suggests and compile again in the rare case de-duplication moves
  // the total across the threshold.
  std::size_t upper_bound = 0;
  for (const auto& [id, service] : state.services) upper_bound += count_endpoints(service, slices_of(state, id), config);
  bool large = upper_bound > config.large_cluster_endpoints_threshold;

  ProbabilityCache probabilities;
  ChainNamer namer;
  for (int pass = 0; pass < 2; ++pass) {
    const Context ctx{config, local_detector(config), accepts_localhost_nodeports(config),
                      large,  &probabilities,         &namer};
    plan.service_ports.clear();
    plan.total_endpoints = 0;
    plan.service_port_rules = {};
    for (const auto& [id, service] : state.services) compile_service_into(plan, state, service, config, zone, ctx);
    plan.large_cluster_mode = plan.total_endpoints > config.large_cluster_endpoints_threshold;
    if (plan.large_cluster_mode == large) break;
    large = plan.large_cluster_mode;
  }
  return result;
}

std::optional<std::set<ServicePortName>> recompile_services(IptablesPlan& plan, const ClusterState& state,
                                                            const ProxyConfig& config,
                                                            const std::set<ObjectName>& services) {
  std::set<ServicePortName> touched;
  const std::string zone = node_zone(state, config);
  ProbabilityCache probabilities;
  ChainNamer namer;
  const Context ctx{
      config, local_detector(config), accepts_localhost_nodeports(config), plan.large_cluster_mode, &probabilities,
      &namer};
  for (const ObjectName& id : services) {
    // A Service's ports are contiguous in the map: they sort by the Service first.
    auto it = plan.service_ports.lower_bound(ServicePortName{id, "", Protocol::Tcp});
    while (it != plan.service_ports.end() && it->first.service == id) {
      plan.total_endpoints -= it->second->endpoint_count;
      for (std::size_t table = 0; table < it->second->rule_counts.size(); ++table) {
        plan.service_port_rules[table] -= it->second->rule_counts[table];
      }
      touched.insert(it->first);
      it = plan.service_ports.erase(it);
    }
    if (auto service = state.services.find(id); service != state.services.end()) {
      for (ServicePortName& name : compile_service_into(plan, state, service->second, config, zone, ctx)) {
        touched.insert(std::move(name));
      }
    }
  }
  const bool large = plan.total_endpoints > config.large_cluster_endpoints_threshold;
  if (large != plan.large_cluster_mode) return std::nullopt;
  return touched;
}

// kube-proxy turns localhost NodePorts off unless --nodeport-addresses lets
// loopback through; they never work for IPv6.
bool accepts_localhost_nodeports(const ProxyConfig& config) {
  return config.localhost_nodeports && config.family == IpFamily::V4 &&
         node_port_addresses(config).contains_ipv4_loopback;
}

}  // namespace kubenat
