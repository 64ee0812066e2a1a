#include "rules/endpoint_selection.h"

#include <algorithm>

namespace kubenat {
namespace {

enum class TopologyMode { None, SameNode, SameZone };

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Hints are honoured only when every ready endpoint carries them and at least
// one names us; otherwise some node or zone could be left without endpoints.
TopologyMode topology_mode(const ServicePortInfo& port, std::string_view node_name,
                           std::string_view zone) {
  bool all_have_node_hints = true;
  bool has_endpoint_for_node = false;
  bool all_have_zone_hints = true;
  bool has_endpoint_for_zone = false;
  for (const EndpointInfo& ep : port.endpoints) {
    if (!ep.ready) continue;
    if (ep.node_hints.empty()) {
      all_have_node_hints = false;
    } else if (contains(ep.node_hints, node_name)) {
      has_endpoint_for_node = true;
    }
    if (ep.zone_hints.empty()) {
      all_have_zone_hints = false;
    } else if (contains(ep.zone_hints, zone)) {
      has_endpoint_for_zone = true;
    }
  }
  if (all_have_node_hints && has_endpoint_for_node) return TopologyMode::SameNode;
  if (all_have_zone_hints && has_endpoint_for_zone && !zone.empty()) return TopologyMode::SameZone;
  return TopologyMode::None;
}

bool available_for_topology(const EndpointInfo& ep, TopologyMode mode, std::string_view node_name,
                            std::string_view zone) {
  switch (mode) {
    case TopologyMode::None:
      return true;
    case TopologyMode::SameNode:
      return contains(ep.node_hints, node_name);
    case TopologyMode::SameZone:
      return contains(ep.zone_hints, zone);
  }
  return true;
}

template <class Pred>
std::vector<std::size_t> filter(const std::vector<EndpointInfo>& endpoints, Pred pred) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (pred(endpoints[i])) out.push_back(i);
  }
  return out;
}

bool serving_terminating(const EndpointInfo& ep) { return ep.serving && ep.terminating; }

}  // namespace

EndpointSelection select_endpoints(const ServicePortInfo& port, std::string_view node_name,
                                   std::string_view node_zone) {
  EndpointSelection sel;
  const auto& eps = port.endpoints;
  bool use_topology = false;

  if (port.uses_cluster_endpoints()) {
    const TopologyMode mode = topology_mode(port, node_name, node_zone);
    use_topology = mode != TopologyMode::None;
    sel.cluster = filter(eps, [&](const EndpointInfo& ep) {
      return ep.ready && available_for_topology(ep, mode, node_name, node_zone);
    });
    // Only when nothing is ready anywhere: topology never empties the list,
    // because hints are ignored unless some ready endpoint matches them.
    if (sel.cluster.empty()) sel.cluster = filter(eps, serving_terminating);
    sel.has_any = !sel.cluster.empty();
  }

  if (!port.uses_local_endpoints()) {
    sel.reachable = sel.cluster;
    return sel;
  }

  bool local_ready = false;
  bool local_serving_terminating = false;
  for (const EndpointInfo& ep : eps) {
    if (ep.ready) {
      sel.has_any = true;
      local_ready = local_ready || ep.is_local;
    } else if (serving_terminating(ep)) {
      sel.has_any = true;
      local_serving_terminating = local_serving_terminating || ep.is_local;
    }
  }
  bool local_fallback = false;
  if (local_ready) {
    sel.local = filter(eps, [](const EndpointInfo& ep) { return ep.is_local && ep.ready; });
  } else if (local_serving_terminating) {
    local_fallback = true;
    sel.local = filter(eps, [](const EndpointInfo& ep) { return ep.is_local && serving_terminating(ep); });
  }

  if (!port.uses_cluster_endpoints()) {
    sel.reachable = sel.local;
    return sel;
  }
  if (!use_topology && !local_fallback) {
    // Local holds only ready endpoints and cluster holds every ready one, so
    // cluster already covers local.
    sel.reachable = sel.cluster;
    return sel;
  }
  // Cluster may hold remote endpoints that local lacks, and local may hold
  // terminating or out-of-zone ones that cluster lacks: take the union, kept
  // in list order.
  std::vector<bool> taken(eps.size(), false);
  for (std::size_t i : sel.cluster) taken[i] = true;
  for (std::size_t i : sel.local) taken[i] = true;
  for (std::size_t i = 0; i < eps.size(); ++i) {
    if (taken[i]) sel.reachable.push_back(i);
  }
  return sel;
}

}  // namespace kubenat
