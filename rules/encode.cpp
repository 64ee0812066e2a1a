#include "rules/encode.h"

#include <nlohmann/json.hpp>

#include "rules/rfc3339.h"

namespace kubenat {
namespace {

using json = nlohmann::json;

std::string_view service_type_name(ServiceType type) {
  switch (type) {
    case ServiceType::ClusterIP: return "ClusterIP";
    case ServiceType::NodePort: return "NodePort";
    case ServiceType::LoadBalancer: return "LoadBalancer";
    case ServiceType::ExternalName: return "ExternalName";
  }
  return "ClusterIP";
}

std::string_view policy_name(TrafficPolicy policy) { return policy == TrafficPolicy::Local ? "Local" : "Cluster"; }

std::string_view address_type_name(AddressType type) {
  switch (type) {
    case AddressType::IPv4: return "IPv4";
    case AddressType::IPv6: return "IPv6";
    case AddressType::FQDN: return "FQDN";
  }
  return "IPv4";
}

template <class T>
json strings(const std::vector<T>& values) {
  json out = json::array();
  for (const T& value : values) out.push_back(value.to_string());
  return out;
}

json names(std::span<const std::string> values) {
  json out = json::array();
  for (const std::string& value : values) out.push_back({{"name", value}});
  return out;
}

json metadata(const ObjectName& id, const std::optional<std::chrono::system_clock::time_point>& trigger_time) {
  json out = {{"name", id.name}, {"namespace", id.namespace_}};
  if (trigger_time) {
    out["annotations"] = {{"endpoints.kubernetes.io/last-change-trigger-time", format_rfc3339_nano(*trigger_time)}};
  }
  return out;
}

}  // namespace

json encode_service(const Service& service) {
  json spec = {{"type", service_type_name(service.type)},
               {"externalTrafficPolicy", policy_name(service.external_traffic_policy)},
               {"internalTrafficPolicy", policy_name(service.internal_traffic_policy)}};
  if (!service.cluster_ips.empty()) {
    spec["clusterIP"] = service.cluster_ips.front().to_string();
    spec["clusterIPs"] = strings(service.cluster_ips);
  }
  json ports = json::array();
  for (const ServicePort& port : service.ports) {
    json entry = {{"protocol", protocol_upper(port.protocol)}, {"port", port.port}};
    if (!port.name.empty()) entry["name"] = port.name;
    if (port.node_port != 0) entry["nodePort"] = port.node_port;
    ports.push_back(std::move(entry));
  }
  spec["ports"] = std::move(ports);
  if (!service.external_ips.empty()) spec["externalIPs"] = strings(service.external_ips);
  if (!service.load_balancer_source_ranges.empty()) {
    spec["loadBalancerSourceRanges"] = strings(service.load_balancer_source_ranges);
  }
  if (service.session_affinity == SessionAffinity::ClientIP) {
    spec["sessionAffinity"] = "ClientIP";
    spec["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", service.session_affinity_timeout_seconds}}}};
  }
  if (service.health_check_node_port != 0) spec["healthCheckNodePort"] = service.health_check_node_port;
  json object = {{"apiVersion", "v1"},
                 {"kind", "Service"},
                 {"metadata", metadata(service.id, service.last_change_trigger_time)},
                 {"spec", spec}};
  if (!service.load_balancer_ips.empty()) {
    json ingress = json::array();
    for (const IpAddress& ip : service.load_balancer_ips) ingress.push_back({{"ip", ip.to_string()}});
    object["status"] = {{"loadBalancer", {{"ingress", ingress}}}};
  }
  return object;
}

json encode_slice(const EndpointSlice& slice) {
  json meta = metadata(slice.id, slice.last_change_trigger_time);
  meta["labels"] = {{"kubernetes.io/service-name", slice.service_name}};
  json ports = json::array();
  for (const EndpointPort& port : slice.ports) {
    json entry = {{"protocol", protocol_upper(port.protocol)}};
    if (port.name) entry["name"] = *port.name;  // nil and "" differ
    if (port.port != 0) entry["port"] = port.port;
    ports.push_back(std::move(entry));
  }
  json endpoints = json::array();
  for (const Endpoint& endpoint : slice.endpoints) {
    json entry = {{"addresses", {endpoint.address.to_string()}},
                  {"conditions",
                   {{"ready", endpoint.ready}, {"serving", endpoint.serving}, {"terminating", endpoint.terminating}}}};
    if (!endpoint.node_name.empty()) entry["nodeName"] = endpoint.node_name.str();
    if (!endpoint.zone.empty()) entry["zone"] = endpoint.zone.str();
    json hints = json::object();
    if (!endpoint.hints.zones().empty()) hints["forZones"] = names(endpoint.hints.zones());
    if (!endpoint.hints.nodes().empty()) hints["forNodes"] = names(endpoint.hints.nodes());
    if (!hints.empty()) entry["hints"] = std::move(hints);
    endpoints.push_back(std::move(entry));
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata", meta},
          {"addressType", address_type_name(slice.address_type)},
          {"ports", ports},
          {"endpoints", endpoints}};
}

json encode_node(const Node& node) {
  json meta = {{"name", node.name}};
  if (!node.labels.empty()) meta["labels"] = node.labels;
  if (node.being_deleted) meta["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  json spec = json::object();
  if (!node.taint_keys.empty()) {
    json taints = json::array();
    for (const std::string& key : node.taint_keys) taints.push_back({{"key", key}, {"effect", "NoSchedule"}});
    spec["taints"] = std::move(taints);
  }
  if (!node.pod_cidrs.empty()) {
    spec["podCIDR"] = node.pod_cidrs.front().to_string();
    spec["podCIDRs"] = strings(node.pod_cidrs);
  }
  json addresses = json::array();
  for (const NodeAddress& address : node.addresses) {
    addresses.push_back({{"type", address.type}, {"address", address.address}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", meta},
          {"spec", spec},
          {"status", {{"addresses", addresses}}}};
}

json encode_cluster(const ClusterState& state) {
  json items = json::array();
  for (const auto& [id, service] : state.services) items.push_back(encode_service(service));
  for (const auto& [service, slices] : state.slices) {
    for (const auto& [name, slice] : slices) items.push_back(encode_slice(slice));
  }
  for (const auto& [name, node] : state.nodes) items.push_back(encode_node(node));
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}};
}

}  // namespace kubenat
