#pragma once

// Builders for model objects in tests: a readable way to say "a NodePort
// Service with two endpoints, one on this node".

#include <string>
#include <utility>
#include <vector>

#include "rules/ip.h"
#include "rules/model.h"

namespace kubenat::testing {

inline IpAddress ip(const std::string& text) {
  auto parsed = IpAddress::parse_sloppy(text);
  if (!parsed) throw std::invalid_argument("bad test IP " + text);
  return *parsed;
}

inline Cidr cidr(const std::string& text) {
  auto parsed = Cidr::parse_sloppy(text);
  if (!parsed) throw std::invalid_argument("bad test CIDR " + text);
  return *parsed;
}

class ServiceBuilder {
 public:
  ServiceBuilder(std::string ns, std::string name) { service_.id = {std::move(ns), std::move(name)}; }

  ServiceBuilder& type(ServiceType t) { service_.type = t; return *this; }
  ServiceBuilder& cluster_ip(const std::string& text) { service_.cluster_ips.push_back(ip(text)); return *this; }
  ServiceBuilder& port(std::string name, int port, Protocol protocol = Protocol::Tcp, int node_port = 0) {
    service_.ports.push_back(ServicePort{std::move(name), protocol, port, node_port});
    return *this;
  }
  ServiceBuilder& external_ip(const std::string& text) { service_.external_ips.push_back(ip(text)); return *this; }
  ServiceBuilder& load_balancer_ip(const std::string& text) {
    service_.load_balancer_ips.push_back(ip(text));
    return *this;
  }
  ServiceBuilder& source_range(const std::string& text) {
    service_.load_balancer_source_ranges.push_back(cidr(text));
    return *this;
  }
  ServiceBuilder& external_local() { service_.external_traffic_policy = TrafficPolicy::Local; return *this; }
  ServiceBuilder& internal_local() { service_.internal_traffic_policy = TrafficPolicy::Local; return *this; }
  ServiceBuilder& affinity(int timeout_seconds = 10800) {
    service_.session_affinity = SessionAffinity::ClientIP;
    service_.session_affinity_timeout_seconds = timeout_seconds;
    return *this;
  }
  ServiceBuilder& health_check_node_port(int port) { service_.health_check_node_port = port; return *this; }

  Service build() const { return service_; }
  operator Service() const { return service_; }  // NOLINT: builders convert implicitly

 private:
  Service service_;
};

class SliceBuilder {
 public:
  // A slice named "<service>-<suffix>" for the Service, as the controller names them.
  SliceBuilder(std::string ns, std::string service, std::string suffix = "1") {
    slice_.id = {ns, service + "-" + suffix};
    slice_.service_name = std::move(service);
  }

  SliceBuilder& ipv6() { slice_.address_type = AddressType::IPv6; return *this; }
  SliceBuilder& port(std::string name, int port, Protocol protocol = Protocol::Tcp) {
    slice_.ports.push_back(EndpointPort{std::move(name), protocol, port});
    return *this;
  }
  SliceBuilder& endpoint(const std::string& address, std::string node = "") {
    Endpoint ep;
    ep.address = ip(address);
    ep.node_name = std::move(node);
    slice_.endpoints.push_back(std::move(ep));
    return *this;
  }
  // Conditions of the endpoint added last.
  SliceBuilder& not_ready() { last().ready = false; return *this; }
  SliceBuilder& terminating(bool serving) {
    last().ready = false;
    last().terminating = true;
    last().serving = serving;
    return *this;
  }
  SliceBuilder& zone_hints(std::vector<std::string> zones) {
    last().hints = EndpointHints(std::move(zones), {});
    return *this;
  }
  SliceBuilder& from_endpoints_v1() { slice_.from_endpoints_v1 = true; return *this; }

  EndpointSlice build() const { return slice_; }
  operator EndpointSlice() const { return slice_; }  // NOLINT

 private:
  Endpoint& last() { return slice_.endpoints.back(); }
  EndpointSlice slice_;
};

class ClusterBuilder {
 public:
  ClusterBuilder& add(const Service& service) { state_.services[service.id] = service; return *this; }
  ClusterBuilder& add(const EndpointSlice& slice) { state_.put_slice(slice); return *this; }
  ClusterBuilder& node(std::string name, std::string zone = "") {
    Node node;
    node.name = name;
    if (!zone.empty()) node.labels["topology.kubernetes.io/zone"] = zone;
    state_.nodes[name] = std::move(node);
    return *this;
  }
  ClusterState build() const { return state_; }

 private:
  ClusterState state_;
};

}  // namespace kubenat::testing
