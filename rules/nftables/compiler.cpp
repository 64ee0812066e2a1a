#include "rules/nftables/compiler.h"

#include <algorithm>
#include <charconv>

#include "rules/endpoint_selection.h"
#include "rules/local_traffic_detector.h"
#include "rules/service_port_info.h"

// Why this layout.
//
// kube-proxy's nftables mode dispatches through a verdict map to one chain
// per service port and, from there, through a verdict map to one chain per
// endpoint. The kernel validates the whole table (every chain reachable
// from the base chains, every element of every verdict map on the way) on
// each commit that adds a rule or a jump/goto verdict: 209 ms for a
// one-element commit at 110,000 chains, 16 ms at 10,000 without endpoint
// chains (../shared/KERNEL_COSTS.md). A commit that adds or removes only
// elements without verdicts (set members, data-map entries) is not
// validated at all. So here a routine change writes no verdicts:
// - "<class>-destinations" sets say which of six shared class chains
//   (internal or external traffic, Cluster or Local policy, NodePorts) a
//   destination goes to; the services chain tests them in turn;
// - the class chain applies the masquerade policy and goes to the pick
//   chain of its kind, which holds one rule per endpoint count N:
//   `<destination> @<kind>-count-N dnat to <destination> . numgen random
//   mod N map @<kind>-endpoints`;
// - "<kind>-endpoints" maps (destination, index) to the endpoint.
// An endpoint added to a Service with N endpoints is one element moved from
// count set N to N+1 and one endpoint element: about 400 bytes, no
// validation, whatever the number of services. Count sets 1 to
// kPreparedCounts are always there; a larger count gets its set and rule
// when first used (one validation). A new connection pays a few set
// lookups: the class sets, then the count sets up to its service's N.
// Measured (bench/README.md): the first version, with verdict maps from
// destination to class chain and from destination to a pick chain per
// count, took 0.6 ms per one-endpoint change at 1,000 services and 10 ms at
// 10,000; this one 0.04 ms and 0.13 ms.
// Session affinity needs no chains or sets per service either. The class
// chain first looks the client up in the one "affinity" map (source .
// destination to the endpoint it was sent to) and DNATs there; a client it
// does not know goes through the pick as usual. The map is filled from the
// packet path after DNAT (the "affinity-learn" chain, at dstnat + 10 in
// prerouting and output): a new connection whose original destination is in
// "affinity-destinations-<timeout>" (or its NodePort in
// "affinity-nodeports-<timeout>") is remembered with that timeout, or its
// entry refreshed. nft cannot put a map lookup's result into another
// lookup's key or an element's data, so the endpoint is read from the
// DNATed packet instead. An endpoint that goes away leaves stale entries
// behind, which the proxier deletes after the sync
// (rules/nftables/affinity_cleanup.h). kube-proxy's layout (a chain and a set
// per endpoint), which kubenat used before, put 55,000 chains and 50,000
// sets in the table at 100,000 services with 5 % affinity services: the
// kernel walks every chain on every commit (1.08 ms per one-endpoint change
// at 100,000, 0.04 ms at 1,000) and finds a set by name in a list (the
// first sync took 277 s). With the one map: 0.11 ms and 0.12 ms, and
// 9.6 s (bench/README.md).

namespace kubenat {
namespace {

// The class chains, each with a set of the destinations it serves
// ("<class>-destinations").
constexpr const char* kInternalCluster = "internal-cluster";
constexpr const char* kInternalLocal = "internal-local";
constexpr const char* kExternalCluster = "external-cluster";
constexpr const char* kExternalLocal = "external-local";
constexpr const char* kNodePortCluster = "nodeport-cluster";
constexpr const char* kNodePortLocal = "nodeport-local";
// The pick kinds: among all endpoints or the node's own, by destination or
// by NodePort. Each has a pick chain "pick-<kind>", count sets
// "<kind>-count-<N>" and an endpoint map "<kind>-endpoints".
constexpr const char* kPickCluster = "cluster";
constexpr const char* kPickLocal = "local";
constexpr const char* kPickNodePortCluster = "nodeport-cluster";
constexpr const char* kPickNodePortLocal = "nodeport-local";
constexpr const char* kAllPickKinds[] = {kPickCluster, kPickLocal, kPickNodePortCluster, kPickNodePortLocal};
// Count sets 1 to this many are part of the fixed layout, so that a
// service growing or shrinking among them changes set elements only. A
// count set made on demand adds a rule, and the kernel validates the table
// for it: once per new endpoint count above this.
constexpr std::uint32_t kPreparedCounts = 16;
constexpr const char* kNoEndpointServices = "no-endpoint-services";
constexpr const char* kNoEndpointNodePorts = "no-endpoint-nodeports";
constexpr const char* kNoLocalEndpointServices = "no-local-endpoint-services";
constexpr const char* kNoLocalEndpointNodePorts = "no-local-endpoint-nodeports";
constexpr const char* kFirewallIps = "firewall-ips";
constexpr const char* kFirewallAllow = "firewall-allow";
constexpr const char* kNodePortIps = "nodeport-ips";
constexpr const char* kAffinityLearn = "affinity-learn";
// Session affinity's sets and learning rules for Kubernetes' default
// timeout are part of the fixed layout; another timeout gets them when
// first used (one validation), like a count set.
constexpr std::uint32_t kDefaultAffinityTimeout = 10800;
// The most clients the affinity map remembers at once (client and service
// pairs; kube-proxy's nftables mode leaves nft's default of 65,535 per
// endpoint).
constexpr std::uint32_t kAffinityMapSize = 1u << 20;

constexpr int kPriorityDstnat = -100;
constexpr int kPrioritySrcnat = 100;
constexpr int kPriorityFilter = 0;

using F = NftField;
const std::vector<NftField> kDestination = {F::IpDaddr, F::MetaL4proto, F::ThDport};
const std::vector<NftField> kNodePort = {F::MetaL4proto, F::ThDport};
// A client of a destination, as the affinity map is keyed.
const std::vector<NftField> kClientAndDestination = {F::IpSaddr, F::IpDaddr, F::MetaL4proto, F::ThDport};
// The same after DNAT, from conntrack's original tuple.
const std::vector<NftField> kOriginalDestination = {F::CtOriginalDaddr, F::MetaL4proto, F::CtOriginalProtoDst};
const std::vector<NftField> kOriginalNodePort = {F::MetaL4proto, F::CtOriginalProtoDst};
const std::vector<NftField> kClientAndOriginalDestination = {F::IpSaddr, F::CtOriginalDaddr, F::MetaL4proto,
                                                             F::CtOriginalProtoDst};

std::string destinations_set(std::string_view class_chain) { return std::string(class_chain) + "-destinations"; }
std::string pick_chain(std::string_view kind) { return "pick-" + std::string(kind); }
std::string affinity_destinations_set(std::uint32_t timeout) {
  return "affinity-destinations-" + std::to_string(timeout);
}
std::string affinity_nodeports_set(std::uint32_t timeout) { return "affinity-nodeports-" + std::to_string(timeout); }
std::string endpoints_map(std::string_view kind) { return std::string(kind) + "-endpoints"; }
std::string count_set(std::string_view kind, std::size_t count) {
  return std::string(kind) + "-count-" + std::to_string(count);
}
bool by_node_port(std::string_view kind) { return kind.starts_with("nodeport-"); }

NftVerdict go(std::string chain) { return NftVerdict{NftVerdict::Kind::Goto, std::move(chain)}; }
NftVerdict jump(std::string chain) { return NftVerdict{NftVerdict::Kind::Jump, std::move(chain)}; }
NftVerdict verdict(NftVerdict::Kind kind) { return NftVerdict{kind, {}}; }

// The match for traffic from the pods (`from_pods`) or for the rest, as
// kube-proxy's IfLocalNFT and IfNotLocalNFT; nullopt without a detector.
std::optional<NftStatement> pod_traffic_match(const ProxyConfig& config, bool from_pods) {
  using M = LocalTrafficDetector::Match;
  const LocalTrafficDetector detector = local_traffic_detector(config);
  switch (detector.match) {
    case M::None: return std::nullopt;
    case M::SourceCidr: return nft::Match{F::IpSaddr, !from_pods, detector.cidr};
    case M::Interface: return nft::IifName{detector.interface, false, !from_pods};
    case M::InterfacePrefix: return nft::IifName{detector.interface, true, !from_pods};
  }
  return std::nullopt;
}

bool node_ports_restricted(const ProxyConfig& config) {
  bool any = false;
  for (const Cidr& cidr : config.nodeport_addresses) {
    if (cidr.family() != config.family) continue;
    if (cidr.prefix_length() == 0) return false;
    any = true;
  }
  return any;
}

// The set of the `kind` destinations with `count` endpoints, and the rule
// that picks one of them.
NftSet count_set_of(IpFamily family, std::string_view kind, std::uint32_t count) {
  const bool np = by_node_port(kind);
  std::vector<NftType> key = {NftType::InetProto, NftType::InetService};
  if (!np) key.insert(key.begin(), family == IpFamily::V4 ? NftType::Ipv4Addr : NftType::Ipv6Addr);
  return NftSet{count_set(kind, count), std::move(key), {}, false, std::nullopt,
                (np ? "NodePorts with " : "destinations with ") + std::to_string(count) + " endpoints to pick from"};
}

NftRule pick_rule(std::string_view kind, std::uint32_t count) {
  const std::vector<NftField>& fields = by_node_port(kind) ? kNodePort : kDestination;
  return NftRule{{nft::InSet{fields, count_set(kind, count)}, nft::DnatMap{fields, count, endpoints_map(kind)}}, {}};
}

// The two sets that say which destinations remember their clients for
// `timeout` seconds.
std::vector<NftSet> affinity_timeout_sets(IpFamily family, std::uint32_t timeout) {
  const NftType addr = family == IpFamily::V4 ? NftType::Ipv4Addr : NftType::Ipv6Addr;
  const std::string seconds = std::to_string(timeout) + " s";
  return {NftSet{affinity_destinations_set(timeout), {addr, NftType::InetProto, NftType::InetService}, {}, false,
                 std::nullopt, "session-affinity destinations remembering clients for " + seconds},
          NftSet{affinity_nodeports_set(timeout), {NftType::InetProto, NftType::InetService}, {}, false, std::nullopt,
                 "session-affinity NodePorts remembering clients for " + seconds}};
}

// The rules that remember the clients of the destinations with `timeout`,
// one pair per protocol: nft 1.0.6 types `ct original proto-dst` (for a
// concatenation) only after the rule has matched the protocol. A NodePort is
// remembered with the address it was reached on, unless that address and
// port are a service's own destination (the services chain tried those
// first, so the packet went there).
std::vector<NftRule> affinity_learn_rules(std::uint32_t timeout) {
  std::vector<NftRule> rules;
  const nft::UpdateSet remember{kClientAndOriginalDestination, kNftAffinityMap, {F::IpDaddr, F::ThDport}, timeout};
  for (const Protocol protocol : {Protocol::Tcp, Protocol::Udp, Protocol::Sctp}) {
    const nft::Match is{F::MetaL4proto, false, protocol};
    rules.push_back(NftRule{{is, nft::InSet{kOriginalDestination, affinity_destinations_set(timeout)}, remember}, {}});
    std::vector<NftStatement> node_port = {is, nft::InSet{kOriginalNodePort, affinity_nodeports_set(timeout)}};
    for (const char* class_chain : {kInternalCluster, kInternalLocal, kExternalCluster, kExternalLocal}) {
      node_port.push_back(nft::InSet{kOriginalDestination, destinations_set(class_chain), true});
    }
    node_port.push_back(remember);
    rules.push_back(NftRule{std::move(node_port), {}});
  }
  return rules;
}

std::vector<NftSet> fixed_sets(const ProxyConfig& config) {
  const NftType addr = config.family == IpFamily::V4 ? NftType::Ipv4Addr : NftType::Ipv6Addr;
  using T = NftType;
  const std::vector<T> destination = {addr, T::InetProto, T::InetService};
  const std::vector<T> node_port = {T::InetProto, T::InetService};
  const std::vector<T> indexed_destination = {addr, T::InetProto, T::InetService, T::Mark};
  const std::vector<T> indexed_node_port = {T::InetProto, T::InetService, T::Mark};
  const std::vector<T> endpoint = {addr, T::InetService};
  std::vector<NftSet> sets;
  for (const char* class_chain : {kInternalCluster, kInternalLocal, kExternalCluster, kExternalLocal}) {
    sets.push_back({destinations_set(class_chain), destination, {}, false, std::nullopt,
                    std::string("destinations served by ") + class_chain});
  }
  for (const char* class_chain : {kNodePortCluster, kNodePortLocal}) {
    sets.push_back({destinations_set(class_chain), node_port, {}, false, std::nullopt,
                    std::string("NodePorts served by ") + class_chain});
  }
  for (const char* kind : kAllPickKinds) {
    const bool np = by_node_port(kind);
    sets.push_back({endpoints_map(kind), np ? indexed_node_port : indexed_destination, endpoint, false, std::nullopt,
                    np ? "NodePort and index to endpoint" : "destination and index to endpoint"});
  }
  sets.push_back({kNftAffinityMap, {addr, addr, T::InetProto, T::InetService}, endpoint, false,
                  kDefaultAffinityTimeout, "clients of session-affinity services to their endpoint", kAffinityMapSize});
  for (NftSet& set : affinity_timeout_sets(config.family, kDefaultAffinityTimeout)) sets.push_back(std::move(set));
  sets.insert(sets.end(), {
      {kNoEndpointServices, destination, {}, false, std::nullopt, "services without endpoints: reject"},
      {kNoEndpointNodePorts, node_port, {}, false, std::nullopt, "NodePorts without endpoints: reject"},
      {kNoLocalEndpointServices, destination, {}, false, std::nullopt, "Local policy without local endpoints: drop"},
      {kNoLocalEndpointNodePorts, node_port, {}, false, std::nullopt, "the same for NodePorts"},
      {kFirewallIps, destination, {}, false, std::nullopt, "load balancer IPs with source ranges"},
      {kFirewallAllow, {addr, T::InetProto, T::InetService, addr}, {}, true, std::nullopt, "allowed sources"},
      {kNftHairpinSet, {addr, addr}, {}, false, std::nullopt, "endpoints reaching themselves: masquerade"},
  });
  if (node_ports_restricted(config)) {
    sets.push_back({kNodePortIps, {addr}, {}, false, std::nullopt, "local addresses that accept NodePorts"});
  }
  for (const char* kind : kAllPickKinds) {
    for (std::uint32_t count = 1; count <= kPreparedCounts; ++count) {
      sets.push_back(count_set_of(config.family, kind, count));
    }
  }
  return sets;
}

std::vector<NftChain> fixed_chains(const ProxyConfig& config) {
  using H = NftHook;
  const std::uint32_t mark = 1u << config.masquerade_bit;
  const std::optional<NftStatement> from_pods = pod_traffic_match(config, true);
  const std::optional<NftStatement> not_from_pods = pod_traffic_match(config, false);
  std::vector<NftChain> chains;
  auto base = [&](std::string name, H::Type type, H::Point hook, int priority, std::vector<NftRule> rules) {
    chains.push_back(NftChain{std::move(name), H{type, hook, priority}, std::move(rules)});
  };
  auto chain = [&](std::string name, std::vector<NftRule> rules) {
    chains.push_back(NftChain{std::move(name), std::nullopt, std::move(rules)});
  };
  const NftRule check_firewall{{nft::CtStateNew{}, jump("firewall-check")}, {}};
  const NftRule check_services{{nft::CtStateNew{}, jump("service-endpoints-check")}, {}};

  // Source-range filtering must see the original destination: before DNAT.
  base("filter-prerouting", H::Type::Filter, H::Point::Prerouting, kPriorityDstnat - 10, {check_firewall});
  base("filter-output-pre-dnat", H::Type::Filter, H::Point::Output, kPriorityDstnat - 10, {check_firewall});
  chain("firewall-check", {NftRule{{nft::InSet{kDestination, kFirewallIps},
                                     nft::InSet{{F::IpDaddr, F::MetaL4proto, F::ThDport, F::IpSaddr}, kFirewallAllow, true},
                                     verdict(NftVerdict::Kind::Drop)},
                                    "traffic not allowed by loadBalancerSourceRanges"}});
  // Rejects and drops match only packets no DNAT rewrote; older kernels
  // refuse `reject` in prerouting, so they live on input/forward/output.
  base("filter-input", H::Type::Filter, H::Point::Input, kPriorityFilter,
       {NftRule{{nft::CtStateNew{}, jump("nodeport-endpoints-check")}, {}}, check_services});
  base("filter-forward", H::Type::Filter, H::Point::Forward, kPriorityFilter, {check_services});
  base("filter-output", H::Type::Filter, H::Point::Output, kPriorityFilter, {check_services});
  chain("service-endpoints-check",
        {NftRule{{nft::InSet{kDestination, kNoEndpointServices}, nft::Reject{}}, "service has no endpoints"},
         NftRule{{nft::InSet{kDestination, kNoLocalEndpointServices}, verdict(NftVerdict::Kind::Drop)},
                 "service has no local endpoints"}});
  chain("nodeport-endpoints-check",
        {NftRule{{nft::FibLocal{false, false}, nft::InSet{kNodePort, kNoEndpointNodePorts}, nft::Reject{}},
                 "NodePort has no endpoints"},
         NftRule{{nft::FibLocal{false, false}, nft::InSet{kNodePort, kNoLocalEndpointNodePorts},
                  verdict(NftVerdict::Kind::Drop)},
                 "NodePort has no local endpoints"}});

  base("nat-prerouting", H::Type::Nat, H::Point::Prerouting, kPriorityDstnat, {NftRule{{jump("services")}, {}}});
  base("nat-output", H::Type::Nat, H::Point::Output, kPriorityDstnat, {NftRule{{jump("services")}, {}}});
  base("nat-postrouting", H::Type::Nat, H::Point::Postrouting, kPrioritySrcnat, {NftRule{{jump("masquerading")}, {}}});
  // After DNAT: the packet's destination is the endpoint.
  const NftRule learn{{nft::CtStateNew{}, nft::CtStatusDnat{}, jump(kAffinityLearn)}, {}};
  base("affinity-prerouting", H::Type::Filter, H::Point::Prerouting, kPriorityDstnat + 10, {learn});
  base("affinity-output", H::Type::Filter, H::Point::Output, kPriorityDstnat + 10, {learn});
  chain(kAffinityLearn, affinity_learn_rules(kDefaultAffinityTimeout));

  std::vector<NftStatement> node_port_match;
  if (node_ports_restricted(config)) {
    node_port_match.push_back(nft::InSet{{F::IpDaddr}, kNodePortIps});
  } else {
    node_port_match.push_back(nft::FibLocal{false, false});
    // kube-proxy's nftables mode never accepts NodePorts on loopback.
    node_port_match.push_back(nft::Match{F::IpDaddr, true,
                                         config.family == IpFamily::V4 ? *Cidr::parse("127.0.0.0/8")
                                                                       : *Cidr::parse("::1/128")});
  }
  std::vector<NftRule> dispatch;
  for (const char* class_chain : {kInternalCluster, kInternalLocal, kExternalCluster, kExternalLocal}) {
    dispatch.push_back(NftRule{{nft::InSet{kDestination, destinations_set(class_chain)}, go(class_chain)}, {}});
  }
  for (const char* class_chain : {kNodePortCluster, kNodePortLocal}) {
    std::vector<NftStatement> statements = node_port_match;
    statements.push_back(nft::InSet{kNodePort, destinations_set(class_chain)});
    statements.push_back(go(class_chain));
    dispatch.push_back(NftRule{std::move(statements), {}});
  }
  chain("services", std::move(dispatch));

  chain("masquerading",
        {NftRule{{nft::CtStatusDnat{}, nft::InSet{{F::IpSaddr, F::IpDaddr}, kNftHairpinSet},
                  nft::Masquerade{config.masquerade_random_fully}},
                 "an endpoint reaching itself through its service"},
         NftRule{{nft::MarkTest{mark, false}, verdict(NftVerdict::Kind::Return)}, {}},
         // Clear the mark so that a packet crossing the stack again is not
         // masqueraded twice.
         NftRule{{nft::MarkXor{mark}}, {}},
         NftRule{{nft::Masquerade{config.masquerade_random_fully}}, "service traffic requiring SNAT"}});

  // Class chains: the masquerade policy, then the pick by endpoint count.
  std::vector<NftStatement> internal_masq;
  if (config.masquerade_all) {
    internal_masq = {nft::MarkOr{mark}};
  } else if (not_from_pods) {
    // Off-cluster sources reaching a cluster IP may be forwarded to another
    // node: masquerade them so that replies come back the same way.
    internal_masq = {*not_from_pods, nft::MarkOr{mark}};
  }
  // Picking among a kind's endpoints: a client a session-affinity service
  // remembers goes back to its endpoint, any other through the kind's pick
  // chain.
  auto pick = [&](std::vector<NftStatement> condition, const char* kind, std::string comment,
                  std::vector<NftRule>& rules) {
    std::vector<NftStatement> affinity = condition;
    affinity.push_back(nft::DnatMap{kClientAndDestination, 0, kNftAffinityMap});
    rules.push_back(NftRule{std::move(affinity), comment});
    condition.push_back(go(pick_chain(kind)));
    rules.push_back(NftRule{std::move(condition), std::move(comment)});
  };
  auto internal = [&](const char* name, const char* kind) {
    std::vector<NftRule> rules;
    if (!internal_masq.empty()) rules.push_back(NftRule{internal_masq, "masquerade off-cluster traffic"});
    pick({}, kind, {}, rules);
    chain(name, std::move(rules));
  };
  internal(kInternalCluster, kPickCluster);
  internal(kInternalLocal, kPickLocal);

  auto external = [&](const char* name, const char* cluster_kind, std::optional<const char*> local_kind) {
    std::vector<NftRule> rules;
    if (!local_kind) {
      rules.push_back(NftRule{{nft::MarkOr{mark}}, "masquerade traffic for external destinations"});
      pick({}, cluster_kind, {}, rules);
    } else {
      if (from_pods) {
        // Pods reaching an external address are treated as if they had gone
        // out to the load balancer and back: any endpoint, no policy.
        pick({*from_pods}, cluster_kind, "pod traffic for external destinations", rules);
      }
      // The host's own traffic has a local source the endpoint could not
      // answer: masquerade it, and let it use any endpoint.
      rules.push_back(NftRule{{nft::FibLocal{true, false}, nft::MarkOr{mark}},
                              "route LOCAL traffic for external destinations"});
      pick({nft::FibLocal{true, false}}, cluster_kind, "route LOCAL traffic for external destinations", rules);
      pick({}, *local_kind, {}, rules);
    }
    chain(name, std::move(rules));
  };
  external(kExternalCluster, kPickCluster, std::nullopt);
  external(kExternalLocal, kPickCluster, kPickLocal);
  external(kNodePortCluster, kPickNodePortCluster, std::nullopt);
  external(kNodePortLocal, kPickNodePortCluster, kPickNodePortLocal);

  // The pick chains: a rule per count set, by count (reference() adds
  // those made on demand).
  for (const char* kind : kAllPickKinds) {
    std::vector<NftRule> rules;
    for (std::uint32_t count = 1; count <= kPreparedCounts; ++count) rules.push_back(pick_rule(kind, count));
    chain(pick_chain(kind), std::move(rules));
  }
  return chains;
}

NftDestination ip_destination(const ServicePortInfo& port, const IpAddress& ip) {
  return NftDestination{ip, port.name.protocol, static_cast<std::uint16_t>(port.port)};
}

NftDestination node_port_destination(const ServicePortInfo& port) {
  return NftDestination{std::nullopt, port.name.protocol, static_cast<std::uint16_t>(port.node_port)};
}

// Every destination the port claims, sorted and unique.
std::vector<NftDestination> destinations_of(const ServicePortInfo& port) {
  std::vector<NftDestination> out = {ip_destination(port, port.cluster_ip)};
  for (const IpAddress& ip : port.external_ips) out.push_back(ip_destination(port, ip));
  for (const IpAddress& ip : port.load_balancer_ips) out.push_back(ip_destination(port, ip));
  if (port.node_port != 0) out.push_back(node_port_destination(port));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// One service port's elements and chains, leaving out the destinations
// other ports are served at (`lost`, sorted).
class ServicePortCompiler {
 public:
  ServicePortCompiler(const ServicePortInfo& port, const EndpointSelection& sel, const ProxyConfig& config,
                      std::vector<NftDestination> destinations, const std::vector<NftDestination>& lost)
      : port_(port), sel_(sel), config_(config), proto_(port.name.protocol),
        service_port_(static_cast<std::uint16_t>(port.port)), lost_(lost) {
    out_.destinations = std::move(destinations);
  }

  NftServicePortRules compile();

 private:
  void add(NftSetName set, std::vector<NftValue> key, std::vector<NftValue> data = {}) {
    out_.elements.emplace_back(std::move(set), NftElement{std::move(key), std::move(data)});
  }
  NftValue endpoint_data_ip(std::size_t i) const { return port_.endpoints[i].ip; }
  std::vector<NftValue> endpoint_data(std::size_t i) const {
    return {port_.endpoints[i].ip, static_cast<std::uint16_t>(port_.endpoints[i].port)};
  }
  // Makes `key` pick among `list` the `kind` way: through the count set for
  // the list's size and the endpoint map.
  void add_list(const char* kind, std::vector<NftValue> key, const std::vector<std::size_t>& list);
  // Session affinity: the destination's element in the timeout's set, and
  // where a client it remembers may go.
  void remember_clients(const NftDestination& destination, const std::vector<std::size_t>& from_cluster,
                        const std::vector<std::size_t>& from_outside);
  std::vector<NftEndpoint> endpoints(const std::vector<std::size_t>& list) const;
  bool served(const NftDestination& destination) const {
    return !std::binary_search(lost_.begin(), lost_.end(), destination);
  }
  bool served(const IpAddress& ip) const { return served(ip_destination(port_, ip)); }

  const ServicePortInfo& port_;
  const EndpointSelection& sel_;
  const ProxyConfig& config_;
  Protocol proto_;
  std::uint16_t service_port_;
  const std::vector<NftDestination>& lost_;
  NftServicePortRules out_;
  std::vector<IpAddress> hairpin_ips_;  // packed into out_ at the end
};

void ServicePortCompiler::add_list(const char* kind, std::vector<NftValue> key, const std::vector<std::size_t>& list) {
  if (list.empty()) return;
  const NftSetName set = count_set(kind, list.size());
  if (std::find(out_.count_sets.begin(), out_.count_sets.end(), set) == out_.count_sets.end()) {
    out_.count_sets.push_back(set);
  }
  add(set, key);
  for (std::size_t index = 0; index < list.size(); ++index) {
    std::vector<NftValue> indexed = key;
    indexed.emplace_back(static_cast<std::uint32_t>(index));
    add(endpoints_map(kind), std::move(indexed), endpoint_data(list[index]));
  }
}

std::vector<NftEndpoint> ServicePortCompiler::endpoints(const std::vector<std::size_t>& list) const {
  std::vector<NftEndpoint> out;
  for (std::size_t i : list) {
    out.push_back(NftEndpoint{port_.endpoints[i].ip, static_cast<std::uint16_t>(port_.endpoints[i].port)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ServicePortCompiler::remember_clients(const NftDestination& destination,
                                           const std::vector<std::size_t>& from_cluster,
                                           const std::vector<std::size_t>& from_outside) {
  if (!port_.session_affinity) return;
  const auto timeout = static_cast<std::uint32_t>(std::max(1, port_.session_affinity_timeout_seconds));
  out_.affinity_timeout = timeout;
  if (destination.ip) {
    add(affinity_destinations_set(timeout), {*destination.ip, destination.protocol, destination.port});
  } else {
    add(affinity_nodeports_set(timeout), {destination.protocol, destination.port});
  }
  out_.affinity.push_back(NftAffinityTarget{destination, endpoints(from_cluster), endpoints(from_outside)});
}

NftServicePortRules ServicePortCompiler::compile() {
  out_.endpoint_count = port_.endpoints.size();
  const bool has_endpoints = sel_.has_any;
  const bool has_internal = has_endpoints && !(port_.internal_policy_local && sel_.local.empty());
  const bool has_external = has_endpoints && !(port_.external_policy_local && sel_.local.empty());

  // An address listed twice, or both as the cluster IP and an external
  // one, is one destination: its first role wins, since a map holds one
  // element per key.
  const bool serve_cluster_ip = served(port_.cluster_ip);
  std::vector<IpAddress> externals;
  for (const auto* list : {&port_.external_ips, &port_.load_balancer_ips}) {
    for (const IpAddress& ip : *list) {
      const bool seen = ip == port_.cluster_ip || std::find(externals.begin(), externals.end(), ip) != externals.end();
      if (!seen && served(ip)) externals.push_back(ip);
    }
  }
  const bool serve_node_port = port_.node_port != 0 && served(node_port_destination(port_));
  auto destination = [&](const IpAddress& ip) { return std::vector<NftValue>{ip, proto_, service_port_}; };
  const std::vector<NftValue> node_port = {proto_, static_cast<std::uint16_t>(port_.node_port)};

  if (!has_endpoints) {
    if (serve_cluster_ip) add(kNoEndpointServices, destination(port_.cluster_ip));
    for (const IpAddress& ip : externals) add(kNoEndpointServices, destination(ip));
    if (serve_node_port) add(kNoEndpointNodePorts, node_port);
  } else if (serve_cluster_ip || !externals.empty() || serve_node_port) {
    if (serve_cluster_ip && has_internal) {
      const bool local = port_.internal_policy_local;
      add(destinations_set(local ? kInternalLocal : kInternalCluster), destination(port_.cluster_ip));
      const std::vector<std::size_t>& list = local ? sel_.local : sel_.cluster;
      add_list(local ? kPickLocal : kPickCluster, destination(port_.cluster_ip), list);
      remember_clients(ip_destination(port_, port_.cluster_ip), list, list);
    } else if (serve_cluster_ip) {
      add(kNoLocalEndpointServices, destination(port_.cluster_ip));
    }
    const bool ext_local = port_.external_policy_local;
    for (const IpAddress& ip : externals) {
      add(destinations_set(ext_local ? kExternalLocal : kExternalCluster), destination(ip));
      add_list(kPickCluster, destination(ip), sel_.cluster);
      if (ext_local) add_list(kPickLocal, destination(ip), sel_.local);
      remember_clients(ip_destination(port_, ip), sel_.cluster, ext_local ? sel_.local : sel_.cluster);
      if (!has_external) add(kNoLocalEndpointServices, destination(ip));
    }
    if (serve_node_port) {
      add(destinations_set(ext_local ? kNodePortLocal : kNodePortCluster), node_port);
      add_list(kPickNodePortCluster, node_port, sel_.cluster);
      if (ext_local) add_list(kPickNodePortLocal, node_port, sel_.local);
      remember_clients(node_port_destination(port_), sel_.cluster, ext_local ? sel_.local : sel_.cluster);
      if (!has_external) add(kNoLocalEndpointNodePorts, node_port);
    }
    if (!port_.load_balancer_ips.empty() && !port_.load_balancer_source_ranges.empty()) {
      bool allow_from_node = false;
      for (const IpAddress& lb : port_.load_balancer_ips) {
        if (std::find(externals.begin(), externals.end(), lb) == externals.end()) continue;
        add(kFirewallIps, destination(lb));
        for (const Cidr& range : port_.load_balancer_source_ranges) {
          add(kFirewallAllow, {lb, proto_, service_port_, range});
          for (const IpAddress& node_ip : config_.node_ips) allow_from_node = allow_from_node || range.contains(node_ip);
        }
      }
      // A VIP-style load balancer often makes the VIP a local address: the
      // node's own requests to it then loop back with the VIP as source.
      if (allow_from_node) {
        for (const IpAddress& lb : port_.load_balancer_ips) {
          if (std::find(externals.begin(), externals.end(), lb) == externals.end()) continue;
          add(kFirewallAllow, {lb, proto_, service_port_, Cidr(lb, lb.is_v4() ? 32 : 128)});
        }
      }
    }
    for (std::size_t i : sel_.reachable) {
      if (std::find(hairpin_ips_.begin(), hairpin_ips_.end(), port_.endpoints[i].ip) == hairpin_ips_.end()) {
        hairpin_ips_.push_back(port_.endpoints[i].ip);
      }
    }
  }
  if (proto_ == Protocol::Udp) {
    UdpFlowTargets& udp = out_.udp.emplace();
    if (serve_cluster_ip) udp.destinations.push_back(port_.cluster_ip);
    udp.destinations.insert(udp.destinations.end(), externals.begin(), externals.end());
    udp.port = port_.port;
    udp.node_port = serve_node_port ? port_.node_port : 0;
    for (std::size_t i : sel_.reachable) udp.endpoints.push_back(port_.endpoints[i].address);
    std::sort(udp.endpoints.begin(), udp.endpoints.end());
  }
  std::sort(out_.elements.begin(), out_.elements.end());
  out_.elements.erase(std::unique(out_.elements.begin(), out_.elements.end()), out_.elements.end());
  // The plan keeps the fragment until the port changes: without the slack
  // of growing (a third of the elements' size at 12 elements).
  out_.elements.shrink_to_fit();
  std::sort(out_.count_sets.begin(), out_.count_sets.end());
  std::sort(out_.affinity.begin(), out_.affinity.end(),
            [](const NftAffinityTarget& a, const NftAffinityTarget& b) { return a.destination < b.destination; });
  std::sort(hairpin_ips_.begin(), hairpin_ips_.end());
  out_.hairpin_ips = NftAddressList(hairpin_ips_);
  return std::move(out_);
}

const std::map<std::string, EndpointSlice>* slices_of(const ClusterState& state, const ObjectName& id) {
  auto it = state.slices.find(id);
  return it == state.slices.end() ? nullptr : &it->second;
}

// The count set `name` ("cluster-count-3") of kind `kind` ("cluster") and
// size `count`, from its name; nullopt for a name that is not one.
struct CountSet {
  std::string kind;
  std::uint32_t count = 0;
};
std::optional<CountSet> parse_count_set(std::string_view name) {
  const std::size_t at = name.rfind("-count-");
  if (at == std::string_view::npos) return std::nullopt;
  CountSet parsed{std::string(name.substr(0, at)), 0};
  const std::string_view digits = name.substr(at + 7);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed.count);
  if (ec != std::errc() || end != digits.data() + digits.size() || parsed.count == 0) return std::nullopt;
  return parsed;
}

std::uint32_t pick_rule_count(const NftRule& rule) {
  for (const NftStatement& statement : rule.statements) {
    if (const auto* dnat = std::get_if<nft::DnatMap>(&statement)) return dnat->modulus;
  }
  return 0;
}

bool made_on_demand(std::string_view name) {
  const std::optional<CountSet> parsed = parse_count_set(name);
  if (parsed) return parsed->count > kPreparedCounts;
  for (const std::string& prepared : {affinity_destinations_set(kDefaultAffinityTimeout),
                                      affinity_nodeports_set(kDefaultAffinityTimeout)}) {
    if (name == prepared) return false;
  }
  return name.starts_with("affinity-destinations-") || name.starts_with("affinity-nodeports-");
}

// The learning rules for every timeout in use, by timeout.
void rewrite_affinity_learn_chain(NftPlan& plan) {
  auto chain = std::find_if(plan.chains.begin(), plan.chains.end(),
                            [](const NftChain& c) { return c.name == kAffinityLearn; });
  if (chain == plan.chains.end()) return;
  std::set<std::uint32_t> timeouts = {kDefaultAffinityTimeout};
  for (const auto& [timeout, refs] : plan.affinity_timeout_refs) timeouts.insert(timeout);
  chain->rules.clear();
  for (const std::uint32_t timeout : timeouts) {
    for (NftRule& rule : affinity_learn_rules(timeout)) chain->rules.push_back(std::move(rule));
  }
}

// A session-affinity timeout coming into use or going out of it: its sets
// (kept among the sets made on demand, sorted by name) and its rules.
void add_affinity_timeout(NftPlan& plan, std::uint32_t timeout) {
  if (timeout == kDefaultAffinityTimeout) return;
  for (NftSet& set : affinity_timeout_sets(plan.family, timeout)) {
    auto at = std::find_if(plan.sets.begin(), plan.sets.end(),
                           [&](const NftSet& s) { return made_on_demand(s.name) && s.name > set.name; });
    plan.sets.insert(at, std::move(set));
  }
  rewrite_affinity_learn_chain(plan);
}

void remove_affinity_timeout(NftPlan& plan, std::uint32_t timeout) {
  if (timeout == kDefaultAffinityTimeout) return;
  std::erase_if(plan.sets, [&](const NftSet& s) {
    return s.name == affinity_destinations_set(timeout) || s.name == affinity_nodeports_set(timeout);
  });
  rewrite_affinity_learn_chain(plan);
}

// A count set coming into use: the set (those made on demand stay at the
// end of plan.sets, sorted by name, so that plans compiled in any order
// compare equal) and its rule in the pick chain (sorted by count).
void add_count_set(NftPlan& plan, const std::string& name) {
  const std::optional<CountSet> parsed = parse_count_set(name);
  if (!parsed || parsed->count <= kPreparedCounts) return;
  auto at = std::find_if(plan.sets.begin(), plan.sets.end(),
                         [&](const NftSet& s) { return made_on_demand(s.name) && s.name > name; });
  plan.sets.insert(at, count_set_of(plan.family, parsed->kind, parsed->count));
  auto chain = std::find_if(plan.chains.begin(), plan.chains.end(),
                            [&](const NftChain& c) { return c.name == pick_chain(parsed->kind); });
  if (chain == plan.chains.end()) return;
  auto position = std::find_if(chain->rules.begin(), chain->rules.end(),
                               [&](const NftRule& r) { return pick_rule_count(r) > parsed->count; });
  chain->rules.insert(position, pick_rule(parsed->kind, parsed->count));
}

void remove_count_set(NftPlan& plan, const std::string& name) {
  if (!made_on_demand(name)) return;
  std::erase_if(plan.sets, [&](const NftSet& s) { return s.name == name; });
  for (NftChain& chain : plan.chains) {
    if (!chain.name.starts_with("pick-")) continue;
    std::erase_if(chain.rules, [&](const NftRule& rule) {
      return !rule.statements.empty() && std::holds_alternative<nft::InSet>(rule.statements.front()) &&
             std::get<nft::InSet>(rule.statements.front()).set == name;
    });
  }
}

// Counts one more (delta +1) or one fewer (-1) reference to `key`; returns
// +1 when it came into use, -1 when it went out of use, else 0.
template <class Key>
int count_reference(std::map<Key, std::size_t>& refs, const Key& key, int delta) {
  std::size_t& count = refs[key];
  count += static_cast<std::size_t>(delta);
  if (count == 0) {
    refs.erase(key);
    return -1;
  }
  return count == 1 && delta > 0 ? 1 : 0;
}

void reference(NftPlan& plan, const NftServicePortRules& fragment, int delta) {
  for (const NftSetName& name : fragment.count_sets) {
    const std::string set = name.str();
    const int use = count_reference(plan.count_set_refs, set, delta);
    if (use > 0) add_count_set(plan, set);
    if (use < 0) remove_count_set(plan, set);
  }
  for (const IpAddress& ip : fragment.hairpin_ips) plan.hairpin_refs.add(ip, delta);
  if (fragment.affinity_timeout) {
    const int use = count_reference(plan.affinity_timeout_refs, *fragment.affinity_timeout, delta);
    if (use > 0) add_affinity_timeout(plan, *fragment.affinity_timeout);
    if (use < 0) remove_affinity_timeout(plan, *fragment.affinity_timeout);
  }
  plan.total_endpoints += static_cast<std::size_t>(delta) * fragment.endpoint_count;
}

std::string node_zone(const ClusterState& state, const ProxyConfig& config) {
  auto node = state.nodes.find(config.node_name);
  return node == state.nodes.end() ? std::string() : node->second.zone();
}

void claim(NftPlan& plan, const ServicePortName& name, const std::vector<NftDestination>& destinations) {
  for (const NftDestination& destination : destinations) {
    std::vector<ServicePortName>& claimants = plan.claims[destination];
    claimants.insert(std::lower_bound(claimants.begin(), claimants.end(), name), name);
  }
}

void unclaim(NftPlan& plan, const ServicePortName& name, const std::vector<NftDestination>& destinations) {
  for (const NftDestination& destination : destinations) {
    auto it = plan.claims.find(destination);
    if (it == plan.claims.end()) continue;
    std::erase(it->second, name);
    if (it->second.empty()) plan.claims.erase(it);
  }
}

std::optional<ServicePortName> served_port(const NftPlan& plan, const NftDestination& destination) {
  auto it = plan.claims.find(destination);
  if (it == plan.claims.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

std::string describe(const NftDestination& destination) {
  const std::string port = std::to_string(destination.port) + "/" + std::string(protocol_lower(destination.protocol));
  if (!destination.ip) return "NodePort " + port;
  const std::string ip = destination.ip->to_string();
  return (destination.ip->is_v4() ? ip : "[" + ip + "]") + ":" + port;
}

Diagnostic lost_destination(const ServicePortInfo& port, const NftDestination& destination,
                            const ServicePortName& served) {
  std::string field = "spec.externalIPs / status.loadBalancer.ingress";
  if (!destination.ip) field = "spec.ports[].nodePort";
  if (destination.ip == port.cluster_ip) field = "spec.clusterIPs";
  return Diagnostic{"Service " + port.name.service.to_string(), field,
                    describe(destination) + " of port \"" + port.name.port + "\" is also claimed by " +
                        served.to_string() + ", which is served there (the first by name); ignored for this port"};
}

// Removes the service's ports from the plan, keeping in `replaced` the
// first version of each (a service may be recompiled twice).
void remove_service_ports(NftPlan& plan, const ObjectName& id, std::set<ServicePortName>& removed,
                          NftReplacedPorts* replaced) {
  auto it = plan.service_ports.lower_bound(ServicePortName{id, "", Protocol::Tcp});
  while (it != plan.service_ports.end() && it->first.service == id) {
    if (replaced != nullptr) replaced->emplace(it->first, it->second);
    reference(plan, *it->second, -1);
    unclaim(plan, it->first, it->second->destinations);
    removed.insert(it->first);
    it = plan.service_ports.erase(it);
  }
}

// Compiles the service's ports into the plan (which holds none of them).
// All of them claim their destinations first, so that a port knows which
// of its service's other ports precede it.
std::vector<ServicePortName> compile_service_into(NftPlan& plan, const ClusterState& state, const Service& service,
                                                  const ProxyConfig& config, const std::string& zone,
                                                  Diagnostics* diagnostics, const NftPlan* reuse = nullptr) {
  std::vector<ServicePortInfo> ports = resolve_service_ports(service, slices_of(state, service.id), config);
  std::vector<std::vector<NftDestination>> claimed;
  for (const ServicePortInfo& port : ports) {
    claimed.push_back(destinations_of(port));
    claim(plan, port.name, claimed.back());
  }
  std::vector<ServicePortName> names;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const ServicePortInfo& port = ports[i];
    std::vector<NftDestination> lost;
    for (const NftDestination& destination : claimed[i]) {
      const std::optional<ServicePortName> served = served_port(plan, destination);
      if (served == port.name) continue;
      lost.push_back(destination);
      if (diagnostics != nullptr) diagnostics->push_back(lost_destination(port, destination, *served));
    }
    const EndpointSelection selection = select_endpoints(port, config.node_name, zone);
    auto fragment = std::make_shared<const NftServicePortRules>(
        ServicePortCompiler(port, selection, config, std::move(claimed[i]), lost).compile());
    if (reuse != nullptr) {
      // The same rules as in the plan being replaced: share its fragment, so
      // that the two plans cost one while both are alive.
      auto was = reuse->service_ports.find(port.name);
      if (was != reuse->service_ports.end() && *was->second == *fragment) fragment = was->second;
    }
    reference(plan, *fragment, +1);
    plan.service_ports[port.name] = std::move(fragment);
    names.push_back(port.name);
  }
  return names;
}

// Recompiles `services` (removing those gone from `state`), then any other
// service whose ports gained or lost a destination by it, until none did.
// Returns the service ports recompiled.
std::set<ServicePortName> recompile_until_settled(NftPlan& plan, const ClusterState& state, const ProxyConfig& config,
                                                  std::set<ObjectName> services, NftReplacedPorts* replaced,
                                                  Diagnostics* diagnostics) {
  std::set<ServicePortName> touched;
  const std::string zone = node_zone(state, config);
  while (!services.empty()) {
    std::set<ObjectName> affected;
    for (const ObjectName& id : services) {
      std::set<ServicePortName> removed;
      // Who is served at each destination this service claims, before and
      // after: a change there is another service's change too.
      std::map<NftDestination, std::optional<ServicePortName>> before;
      auto first = plan.service_ports.lower_bound(ServicePortName{id, "", Protocol::Tcp});
      for (auto it = first; it != plan.service_ports.end() && it->first.service == id; ++it) {
        for (const NftDestination& d : it->second->destinations) before.emplace(d, served_port(plan, d));
      }
      remove_service_ports(plan, id, removed, replaced);
      touched.insert(removed.begin(), removed.end());
      if (auto service = state.services.find(id); service != state.services.end()) {
        // Destinations new to the service: who was served there before it.
        std::vector<ServicePortInfo> ports = resolve_service_ports(service->second, slices_of(state, id), config);
        for (const ServicePortInfo& port : ports) {
          for (const NftDestination& d : destinations_of(port)) before.emplace(d, served_port(plan, d));
        }
        for (ServicePortName& name :
             compile_service_into(plan, state, service->second, config, zone, diagnostics)) {
          touched.insert(std::move(name));
        }
      }
      for (const auto& [destination, was] : before) {
        const std::optional<ServicePortName> now = served_port(plan, destination);
        if (was == now) continue;
        for (const auto& port : {was, now}) {
          if (port && port->service != id) affected.insert(port->service);
        }
      }
    }
    services = std::move(affected);
  }
  return touched;
}

}  // namespace

NftCompileResult compile_nft(const ClusterState& state, const ProxyConfig& config, const NftPlan* reuse) {
  NftCompileResult result;
  result.diagnostics = orphan_slice_diagnostics(state);
  NftPlan& plan = result.plan;
  plan.family = config.family;
  plan.table = config.nftables_table;
  plan.sets = fixed_sets(config);
  plan.chains = fixed_chains(config);
  const std::string zone = node_zone(state, config);
  // In name order, the first claimant of a destination is compiled first
  // and keeps it: no service needs compiling twice.
  for (const auto& [id, service] : state.services) {
    compile_service_into(plan, state, service, config, zone, &result.diagnostics, reuse);
  }
  if (node_ports_restricted(config)) {
    for (const IpAddress& ip : config.local_addresses) {
      if (ip.family() != config.family) continue;
      const bool selected = std::any_of(config.nodeport_addresses.begin(), config.nodeport_addresses.end(),
                                        [&](const Cidr& c) { return c.contains(ip); });
      // kube-proxy's nftables mode never accepts NodePorts on loopback.
      if (selected && !ip.is_loopback()) plan.fixed_elements.emplace_back(kNodePortIps, NftElement{{ip}, {}});
    }
    std::sort(plan.fixed_elements.begin(), plan.fixed_elements.end());
  }
  return result;
}

std::set<ServicePortName> recompile_services_nft(NftPlan& plan, const ClusterState& state, const ProxyConfig& config,
                                                 const std::set<ObjectName>& services, NftReplacedPorts* replaced) {
  return recompile_until_settled(plan, state, config, services, replaced, nullptr);
}

}  // namespace kubenat
