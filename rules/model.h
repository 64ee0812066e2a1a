#pragma once

// The cluster as kubenat sees it: Services, EndpointSlices and Nodes reduced
// to the fields that shape a node's NAT rules. Values are validated by the
// decoder (rules/decode.h); everything here is well-formed by construction.

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ip.h"
#include "rules/shared_text.h"

namespace kubenat {

enum class Protocol : std::uint8_t { Tcp, Udp, Sctp };

// "tcp", "udp", "sctp": the spelling iptables and kube-proxy's hashes use.
std::string_view protocol_lower(Protocol protocol);
// "TCP", "UDP", "SCTP": the spelling of the Kubernetes API.
std::string_view protocol_upper(Protocol protocol);
std::optional<Protocol> parse_protocol(std::string_view api_spelling);

// namespace/name of a namespaced object.
struct ObjectName {
  std::string namespace_;
  std::string name;

  std::string to_string() const { return namespace_ + "/" + name; }
  auto operator<=>(const ObjectName&) const = default;
  bool operator==(const ObjectName&) const = default;
};

enum class ServiceType : std::uint8_t { ClusterIP, NodePort, LoadBalancer, ExternalName };
enum class TrafficPolicy : std::uint8_t { Cluster, Local };
enum class SessionAffinity : std::uint8_t { None, ClientIP };

struct ServicePort {
  std::string name;  // may be empty for a Service's only port
  Protocol protocol = Protocol::Tcp;
  int port = 0;       // 1..65535
  int node_port = 0;  // 0: none
  auto operator<=>(const ServicePort&) const = default;
  bool operator==(const ServicePort&) const = default;
};

// One service port as kube-proxy names it (proxy.ServicePortName).
struct ServicePortName {
  ObjectName service;
  std::string port;  // ServicePort::name
  Protocol protocol = Protocol::Tcp;

  // "<ns>/<name>" plus ":<port>" when the port is named: the string in
  // comments and, with the protocol, the input of the chain-name hashes.
  std::string to_string() const;
  auto operator<=>(const ServicePortName&) const = default;
  bool operator==(const ServicePortName&) const = default;
};

struct Service {
  ObjectName id;
  ServiceType type = ServiceType::ClusterIP;
  // spec.clusterIPs (or spec.clusterIP), parsed; empty for headless Services.
  std::vector<IpAddress> cluster_ips;
  std::vector<ServicePort> ports;
  std::vector<IpAddress> external_ips;
  // status.loadBalancer.ingress[].ip with ipMode VIP (or unset).
  std::vector<IpAddress> load_balancer_ips;
  std::vector<Cidr> load_balancer_source_ranges;
  TrafficPolicy external_traffic_policy = TrafficPolicy::Cluster;
  TrafficPolicy internal_traffic_policy = TrafficPolicy::Cluster;
  SessionAffinity session_affinity = SessionAffinity::None;
  int session_affinity_timeout_seconds = 10800;
  int health_check_node_port = 0;
  // metadata.annotations["endpoints.kubernetes.io/last-change-trigger-time"]:
  // when the change this version carries happened (network programming
  // latency is measured from it).
  std::optional<std::chrono::system_clock::time_point> last_change_trigger_time;

  bool operator==(const Service&) const = default;
};

enum class AddressType : std::uint8_t { IPv4, IPv6, FQDN };

struct EndpointPort {
  std::optional<std::string> name;  // nil and "" differ: nil ports are ignored
  Protocol protocol = Protocol::Tcp;
  int port = 0;  // 0: unset, ignored
  bool operator==(const EndpointPort&) const = default;
};

// hints.forZones[].name and hints.forNodes[].name of an endpoint. Rare
// (topology-aware routing), so an endpoint holds them behind one pointer,
// none when both lists are empty; copies copy the lists, equality compares them.
class EndpointHints {
 public:
  EndpointHints() = default;
  EndpointHints(std::vector<std::string> zones, std::vector<std::string> nodes);
  EndpointHints(const EndpointHints& other);
  EndpointHints(EndpointHints&& other) noexcept;
  EndpointHints& operator=(const EndpointHints& other);
  EndpointHints& operator=(EndpointHints&& other) noexcept;
  ~EndpointHints();

  std::span<const std::string> zones() const;
  std::span<const std::string> nodes() const;
  bool empty() const { return lists_ == nullptr; }

  friend bool operator==(const EndpointHints& a, const EndpointHints& b);

 private:
  struct Lists {
    std::vector<std::string> zones;
    std::vector<std::string> nodes;
  };
  std::unique_ptr<const Lists> lists_;
};

// 48 bytes: a million of them at 100,000 Services x 10 endpoints.
struct Endpoint {
  IpAddress address;  // addresses[0]; kube-proxy uses only the first
  // Conditions with the API's nil defaults applied: ready and serving default
  // to true, terminating to false.
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  SharedText node_name;  // empty: unknown
  SharedText zone;
  EndpointHints hints;
  bool operator==(const Endpoint&) const = default;
};

struct EndpointSlice {
  ObjectName id;             // the slice's own namespace/name
  std::string service_name;  // label kubernetes.io/service-name
  AddressType address_type = AddressType::IPv4;
  std::vector<EndpointPort> ports;
  std::vector<Endpoint> endpoints;
  // Converted from a v1 Endpoints object; used only for a Service that has no
  // real EndpointSlice.
  bool from_endpoints_v1 = false;
  // The endpoints controller's endpoints.kubernetes.io/last-change-trigger-time
  // annotation: when the Pod or Service change behind this version happened.
  std::optional<std::chrono::system_clock::time_point> last_change_trigger_time;

  ObjectName service() const { return {id.namespace_, service_name}; }
  bool operator==(const EndpointSlice&) const = default;
};

struct NodeAddress {
  std::string type;  // InternalIP, ExternalIP, Hostname, ...
  std::string address;
  bool operator==(const NodeAddress&) const = default;
};

struct Node {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<NodeAddress> addresses;
  std::vector<Cidr> pod_cidrs;  // spec.podCIDRs (or spec.podCIDR)
  bool being_deleted = false;          // metadata.deletionTimestamp is set
  std::vector<std::string> taint_keys;  // spec.taints[].key
  bool operator==(const Node&) const = default;

  // labels["topology.kubernetes.io/zone"], or empty.
  std::string zone() const;
  // Whether the rules depend on nothing but what `other` holds too: the
  // labels, addresses and pod CIDRs (not the taints or deletion).
  bool same_for_rules(const Node& other) const {
    return labels == other.labels && addresses == other.addresses && pod_cidrs == other.pod_cidrs;
  }
};

// The taint the cluster autoscaler puts on a node it is about to remove.
inline constexpr std::string_view kToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler";

// Everything the watch knows, ordered so that iteration is deterministic.
struct ClusterState {
  std::map<ObjectName, Service> services;
  // Keyed by the owning Service (the slice's namespace and service-name
  // label), then by slice name, so one Service's slices are found together.
  std::map<ObjectName, std::map<std::string, EndpointSlice>> slices;
  std::map<std::string, Node> nodes;

  void put_slice(EndpointSlice slice);
};

}  // namespace kubenat
