#pragma once

// The nftables rule plan: kubenat's own table (family ip or ip6), as data.
// The compiler (rules/nftables/compiler.h) builds it, the text renderer
// (rules/nftables/render.h) prints it as `nft -f` input, and the netlink backend
// (engine/nftables/batch.h) turns the same objects into libnftnl messages, so a
// rule is described once, in the small vocabulary below, and both forms come
// from that description.
//
// Layout (the why is in rules/nftables/compiler.cpp): a handful of fixed chains;
// service dispatch through sets to a few shared "class" chains; the endpoint
// choice in shared "pick" chains with a rule per endpoint count, that DNAT
// through data maps keyed by destination and index; session affinity
// through one map the packet path fills. Routine endpoint changes therefore
// touch only set and map elements, and the table holds the same chains
// whatever the number of services.

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/ip.h"
#include "rules/conntrack_cleanup.h"
#include "rules/model.h"
#include "rules/nftables/address_list.h"
#include "rules/nftables/address_refs.h"
#include "rules/nftables/set_name.h"
#include "rules/nftables/values.h"

namespace kubenat {

// The data types of set keys and map data, as the kernel knows them
// (nftables' datatype ids).
enum class NftType : std::uint8_t {
  Ipv4Addr,    // ipv4_addr, 4 bytes
  Ipv6Addr,    // ipv6_addr, 16 bytes
  InetProto,   // inet_proto, 1 byte
  InetService, // inet_service, 2 bytes, network order
  Mark,        // mark, 4 bytes (used as a plain 32-bit index)
  Verdict,     // verdict (map data only)
};

// The packet fields rules read.
enum class NftField : std::uint8_t {
  IpSaddr,     // ip saddr / ip6 saddr (by the table's family)
  IpDaddr,     // ip daddr / ip6 daddr
  MetaL4proto, // meta l4proto
  ThDport,     // th dport
  // The connection's original destination, before DNAT: ct original ip
  // daddr / ip6 daddr, ct original proto-dst (nft 1.0.6 types the port only
  // after a `meta l4proto` match on the same rule).
  CtOriginalDaddr,
  CtOriginalProtoDst,
};

struct NftElement {
  NftValues key;   // one value per key type; a Cidr for an interval field
  NftValues data;  // map data, empty for plain sets
  auto operator<=>(const NftElement&) const = default;
};

using NftSetElement = std::pair<NftSetName, NftElement>;  // (set or map name, element)

struct NftSet {
  std::string name;
  std::vector<NftType> key;   // concatenated
  std::vector<NftType> data;  // empty: a plain set; {Verdict}: a verdict map
  bool interval = false;      // holds prefixes (the last key field)
  std::optional<std::uint32_t> timeout_seconds;  // dynamic, elements expire (session affinity)
  std::string comment;
  std::optional<std::uint32_t> size = std::nullopt;  // the most elements it holds (dynamic sets)
  auto operator<=>(const NftSet&) const = default;
};

// One statement of a rule. A rule matches when every match statement does,
// then performs its actions in order.
namespace nft {

// <field> == value, or != value; a Cidr value is a prefix match.
struct Match {
  NftField field;
  bool negate = false;
  NftValue value;
  auto operator<=>(const Match&) const = default;
};
// <fields...> @set, or != @set.
struct InSet {
  std::vector<NftField> fields;
  std::string set;
  bool negate = false;
  auto operator<=>(const InSet&) const = default;
};
// fib saddr type local / fib daddr type local.
struct FibLocal {
  bool source = false;  // saddr when true, daddr otherwise
  bool negate = false;
  auto operator<=>(const FibLocal&) const = default;
};
// iifname "name" (or != "name"): the interface the packet came in on, by
// name; a prefix matches every name that starts with it (iifname "veth*").
// A locally generated packet has no input interface: its name is empty.
struct IifName {
  std::string name;
  bool prefix = false;
  bool negate = false;
  auto operator<=>(const IifName&) const = default;
};
// ct state new.
struct CtStateNew {
  auto operator<=>(const CtStateNew&) const = default;
};
// ct status dnat.
struct CtStatusDnat {
  auto operator<=>(const CtStatusDnat&) const = default;
};
// meta mark & mask == 0 (negate: != 0).
struct MarkTest {
  std::uint32_t mask = 0;
  bool negate = false;
  auto operator<=>(const MarkTest&) const = default;
};
// meta mark set meta mark | bits.
struct MarkOr {
  std::uint32_t bits = 0;
  auto operator<=>(const MarkOr&) const = default;
};
// meta mark set meta mark ^ bits.
struct MarkXor {
  std::uint32_t bits = 0;
  auto operator<=>(const MarkXor&) const = default;
};
// <fields...> vmap @map.
struct Vmap {
  std::vector<NftField> fields;
  std::string map;
  auto operator<=>(const Vmap&) const = default;
};
// dnat to <fields...> . numgen random mod N map @map, or, when modulus is
// 0, dnat to <fields...> map @map (the map's data is address . port).
struct DnatMap {
  std::vector<NftField> fields;
  std::uint32_t modulus = 0;
  std::string map;
  auto operator<=>(const DnatMap&) const = default;
};
// dnat to address:port.
struct Dnat {
  IpAddress address;
  std::uint16_t port = 0;
  auto operator<=>(const Dnat&) const = default;
};
// update @set { <fields...> [timeout Ns] [: <data...>] }: add the packet's
// key, or refresh its timeout when it is there (the data of an element
// already there is kept).
struct UpdateSet {
  std::vector<NftField> fields;
  std::string set;
  std::vector<NftField> data = {};                              // for maps
  std::optional<std::uint32_t> timeout_seconds = std::nullopt;  // else the set's
  auto operator<=>(const UpdateSet&) const = default;
};
// masquerade [fully-random].
struct Masquerade {
  bool fully_random = false;
  auto operator<=>(const Masquerade&) const = default;
};
// reject (ICMP port unreachable / ICMPv6 port unreachable).
struct Reject {
  auto operator<=>(const Reject&) const = default;
};
}  // namespace nft

using NftStatement = std::variant<nft::Match, nft::InSet, nft::FibLocal, nft::CtStateNew, nft::CtStatusDnat,
                                  nft::MarkTest, nft::MarkOr, nft::MarkXor, nft::Vmap, nft::DnatMap, nft::Dnat,
                                  nft::UpdateSet, nft::Masquerade, nft::Reject, NftVerdict, nft::IifName>;

struct NftRule {
  std::vector<NftStatement> statements;
  std::string comment;
  auto operator<=>(const NftRule&) const = default;
};

// A base chain's hook.
struct NftHook {
  enum class Type : std::uint8_t { Filter, Nat };
  enum class Point : std::uint8_t { Prerouting, Input, Forward, Output, Postrouting };
  Type type = Type::Filter;
  Point hook = Point::Prerouting;
  int priority = 0;  // dstnat is -100, srcnat 100, filter 0
  auto operator<=>(const NftHook&) const = default;
};

struct NftChain {
  std::string name;
  std::optional<NftHook> hook;  // base chains only
  std::vector<NftRule> rules;
  auto operator<=>(const NftChain&) const = default;
};

// A destination through which the shared maps reach a service port: an IP,
// protocol and port, or a protocol and NodePort (no IP).
struct NftDestination {
  std::optional<IpAddress> ip;
  Protocol protocol = Protocol::Tcp;
  std::uint16_t port = 0;
  auto operator<=>(const NftDestination&) const = default;
  bool operator==(const NftDestination&) const = default;
};

// An endpoint as DNAT sends traffic to it.
struct NftEndpoint {
  IpAddress ip;
  std::uint16_t port = 0;
  auto operator<=>(const NftEndpoint&) const = default;
  bool operator==(const NftEndpoint&) const = default;
};

// Where a session-affinity service port may send a client it remembers, for
// one destination: the endpoints its pick chooses among for sources in the
// pod CIDR or on the node (from_cluster) and for every other source
// (from_outside); the two differ only under externalTrafficPolicy Local. A
// remembered endpoint that is not among them is stale.
struct NftAffinityTarget {
  NftDestination destination;  // without an IP for the NodePort (any local address)
  std::vector<NftEndpoint> from_cluster;
  std::vector<NftEndpoint> from_outside;
  bool operator==(const NftAffinityTarget&) const = default;
};

// A UDP port's conntrack targets (rules/conntrack_cleanup.h), held apart and
// compared by content: most ports are TCP, and the targets held inline (as a
// std::optional) cost every port's fragment 64 bytes.
class NftUdpTargets {
 public:
  explicit operator bool() const { return targets_ != nullptr; }
  const UdpFlowTargets& operator*() const { return *targets_; }
  const UdpFlowTargets* operator->() const { return targets_.get(); }
  UdpFlowTargets& emplace() {
    targets_ = std::make_shared<UdpFlowTargets>();
    return *targets_;
  }
  bool operator==(const NftUdpTargets& other) const {
    return targets_ == other.targets_ || (targets_ && other.targets_ && *targets_ == *other.targets_);
  }

 private:
  std::shared_ptr<UdpFlowTargets> targets_;
};

// What one service port owns: elements in the shared sets and maps. A port
// has no chains or sets of its own: the table holds the same chains and
// sets whatever the number of services.
struct NftServicePortRules {
  std::vector<NftSetElement> elements;  // (set, element), sorted; no other port has these
  // Every destination the port claims, sorted, whether it is served there
  // or another port is (see NftPlan::claims).
  std::vector<NftDestination> destinations;
  // Shared count sets it is a member of ("cluster-count-3", ...) and
  // endpoint IPs for the hairpin set: several ports may need the same ones,
  // so the plan counts references and keeps them while any port does.
  std::vector<NftSetName> count_sets;
  NftAddressList hairpin_ips;  // sorted
  // Set for UDP ports only: what the conntrack cleanup compares.
  NftUdpTargets udp;
  std::size_t endpoint_count = 0;
  // Session affinity: how long a client is remembered (the timeout's own
  // sets and rules are shared like the count sets), and where to.
  std::optional<std::uint32_t> affinity_timeout;
  std::vector<NftAffinityTarget> affinity;
  bool operator==(const NftServicePortRules&) const = default;
};

struct NftPlan {
  IpFamily family = IpFamily::V4;
  std::string table = "kubenat";
  // The fixed layout: sets and maps (the count sets in use at the end,
  // sorted by name), then chains (base chains included; the pick chains
  // hold a rule per count set in use, by count).
  std::vector<NftSet> sets;
  std::vector<NftChain> chains;
  // Elements that come from the configuration, not from a service port
  // (the NodePort addresses), sorted.
  std::vector<NftSetElement> fixed_elements;
  std::map<ServicePortName, std::shared_ptr<const NftServicePortRules>> service_ports;
  // References from the service ports to shared things (see above).
  std::map<std::string, std::size_t> count_set_refs;
  NftAddressRefs hairpin_refs;
  std::map<std::uint32_t, std::size_t> affinity_timeout_refs;
  std::size_t total_endpoints = 0;
  // The service ports claiming each destination, in name order. The API
  // server keeps cluster IPs and NodePorts unique, but externalIPs and
  // load-balancer IPs may collide, and so may bad data; the kernel refuses
  // an element whose key is already there, and with it the whole batch. So
  // only the first claimant by name is served at a destination (as the
  // first matching rule is in the iptables mode), and the others are
  // compiled without it until it is theirs. Derived from service_ports.
  std::map<NftDestination, std::vector<ServicePortName>> claims;

  bool operator==(const NftPlan& other) const;
};

// The name of the set that holds hairpin pairs (endpoint IP . endpoint IP).
inline constexpr const char* kNftHairpinSet = "hairpin";
// The map the packet path fills with the clients of session-affinity
// services: source . destination address . protocol . port to the endpoint
// (address . port) they were sent to.
inline constexpr const char* kNftAffinityMap = "affinity";

// Whether the set is declared with `typeof` (its key holds a Mark field):
// how nft declares it, in text and in the set's user data over netlink.
[[nodiscard]] bool nft_set_uses_typeof(const NftSet& set);

// A comment as kubenat stores it, in text and over netlink alike: double
// quotes become single quotes, control characters spaces, and it is cut to
// nft's 128 bytes (at a UTF-8 character boundary).
[[nodiscard]] std::string nft_comment(std::string_view comment);

// Every element a complete table holds, for renderers and full applies: the
// fixed ones, the service ports', then the hairpin pairs. (Its sets and
// chains are NftPlan::sets and NftPlan::chains.)
std::vector<NftSetElement> plan_elements(const NftPlan& plan);

}  // namespace kubenat
