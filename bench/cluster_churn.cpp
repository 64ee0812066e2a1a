#include "bench/cluster_churn.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "rules/encode.h"
#include "rules/rfc3339.h"

namespace kubenat::bench {
namespace {

using nlohmann::json;

constexpr int kMaxEndpointsPerService = 60;
// synthetic_endpoint_ip's addresses per Service.
constexpr int kEndpointAddresses = 64;
// The simulator's NodePort range, 30000-32767, less a margin.
constexpr int kNodePortBudget = 2700;
constexpr std::string_view kGenerationLabel = "soak.kubenat.io/generation";

std::string slice_name(const ObjectName& service) { return service.name + "-abcde"; }

std::string describe(const apiserver_sim::ApiError& error) {
  return std::to_string(error.code) + " " + error.reason + ": " + error.message;
}

// What the EndpointSlice controller writes on every change: kube-proxy's
// network-programming latency starts there.
void stamp_trigger_time(json& slice) {
  slice["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] =
      format_rfc3339_nano(std::chrono::system_clock::now());
}

int node_ports_of(const json& service) {
  int ports = 0;
  if (!service.contains("spec") || !service["spec"].contains("ports")) return 0;
  for (const json& port : service["spec"]["ports"]) {
    if (port.is_object() && port.contains("nodePort") && port["nodePort"].is_number_integer() &&
        port["nodePort"].get<int>() != 0) {
      ++ports;
    }
  }
  return ports;
}

}  // namespace

std::string_view change_kind_name(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::EndpointAdded:
      return "endpoint_added";
    case ChangeKind::EndpointRemoved:
      return "endpoint_removed";
    case ChangeKind::EndpointConditionsChanged:
      return "endpoint_conditions_changed";
    case ChangeKind::ServiceDeleted:
      return "service_deleted";
    case ChangeKind::ServiceCreated:
      return "service_created";
    case ChangeKind::ServiceChanged:
      return "service_changed";
    case ChangeKind::OwnNodeChanged:
      return "own_node_changed";
    case ChangeKind::OtherNodeChanged:
      return "other_node_changed";
  }
  return "?";
}

std::uint64_t ChurnCounts::total() const { return endpoints() + services() + nodes(); }

std::uint64_t ChurnCounts::endpoints() const {
  std::uint64_t sum = 0;
  for (ChangeKind kind :
       {ChangeKind::EndpointAdded, ChangeKind::EndpointRemoved, ChangeKind::EndpointConditionsChanged}) {
    auto it = by_kind.find(kind);
    if (it != by_kind.end()) sum += it->second;
  }
  return sum;
}

std::uint64_t ChurnCounts::services() const {
  std::uint64_t sum = 0;
  for (ChangeKind kind : {ChangeKind::ServiceDeleted, ChangeKind::ServiceCreated, ChangeKind::ServiceChanged}) {
    auto it = by_kind.find(kind);
    if (it != by_kind.end()) sum += it->second;
  }
  return sum;
}

std::uint64_t ChurnCounts::nodes() const {
  std::uint64_t sum = 0;
  for (ChangeKind kind : {ChangeKind::OwnNodeChanged, ChangeKind::OtherNodeChanged}) {
    auto it = by_kind.find(kind);
    if (it != by_kind.end()) sum += it->second;
  }
  return sum;
}

ClusterChurn::ClusterChurn(apiserver_sim::ApiServerSim& sim, const SyntheticSpec& spec, std::string own_node,
                           std::uint64_t seed, ChurnMix mix)
    : sim_(sim), spec_(spec), own_node_(std::move(own_node)), rng_(seed), mix_(mix), next_new_index_(spec.services) {
  present_.reserve(static_cast<std::size_t>(spec.services));
  for (int i = 0; i < spec.services; ++i) present_.push_back(i);
  if (auto services = sim_.list("services")) {
    for (const json& service : (*services)["items"]) node_ports_in_use_ += node_ports_of(service);
  }
}

int ClusterChurn::random_below(int bound) { return std::uniform_int_distribution<int>(0, bound - 1)(rng_); }

std::expected<ChangeKind, std::string> ClusterChurn::change() {
  std::string last_refusal;
  // A refusal is the simulator disagreeing with this churn's view (it would
  // be a bug here): counted, and another change made instead.
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto made = try_change();
    if (made) {
      ++counts_.by_kind[*made];
      return made;
    }
    ++counts_.refused;
    if (counts_.first_refusal.empty()) counts_.first_refusal = made.error();
    last_refusal = made.error();
  }
  return std::unexpected("the simulator refused 10 changes in a row, the last: " + last_refusal);
}

std::expected<ChangeKind, std::string> ClusterChurn::try_change() {
  const int roll = random_below(100);
  if (roll < mix_.endpoints) return change_endpoints();
  if (roll < mix_.endpoints + mix_.services) return change_services();
  return change_nodes();
}

std::expected<ChangeKind, std::string> ClusterChurn::change_endpoints() {
  if (present_.empty()) return create_service();
  const int index = present_[static_cast<std::size_t>(random_below(static_cast<int>(present_.size())))];
  const ObjectName service = synthetic_service_name(index);
  auto slice = sim_.get("endpointslices", service.namespace_, slice_name(service));
  if (!slice) return std::unexpected("get the slice of " + service.to_string() + ": " + describe(slice.error()));
  json& endpoints = (*slice)["endpoints"];
  if (!endpoints.is_array()) endpoints = json::array();
  const int count = static_cast<int>(endpoints.size());

  const int roll = random_below(100);
  ChangeKind kind = roll < 40   ? ChangeKind::EndpointAdded
                    : roll < 80 ? ChangeKind::EndpointRemoved
                                : ChangeKind::EndpointConditionsChanged;
  if (count == 0) kind = ChangeKind::EndpointAdded;
  if (kind == ChangeKind::EndpointAdded && count >= kMaxEndpointsPerService) kind = ChangeKind::EndpointRemoved;

  if (kind == ChangeKind::EndpointAdded) {
    std::set<std::string> used;
    for (const json& endpoint : endpoints) {
      if (endpoint.contains("addresses") && !endpoint["addresses"].empty()) {
        used.insert(endpoint["addresses"][0].get<std::string>());
      }
    }
    std::vector<std::string> free;
    for (int e = 0; e < kEndpointAddresses; ++e) {
      std::string address = synthetic_endpoint_ip(index, e);
      if (!used.contains(address)) free.push_back(std::move(address));
    }
    if (free.empty()) return std::unexpected(service.to_string() + " has no free endpoint address left");
    endpoints.push_back({{"addresses", {free[static_cast<std::size_t>(random_below(static_cast<int>(free.size())))]}},
                         {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}},
                         {"nodeName", "node-" + std::to_string(random_below(spec_.nodes))}});
  } else if (kind == ChangeKind::EndpointRemoved) {
    endpoints.erase(endpoints.begin() + random_below(count));
  } else {
    // Ready; not ready; terminating and still serving; terminating and not.
    static const bool kStates[4][3] = {
        {true, true, false}, {false, false, false}, {false, true, true}, {false, false, true}};
    json& conditions = endpoints[static_cast<std::size_t>(random_below(count))]["conditions"];
    const auto now = [&](int s) {
      return conditions.value("ready", true) == kStates[s][0] && conditions.value("serving", true) == kStates[s][1] &&
             conditions.value("terminating", false) == kStates[s][2];
    };
    int state = random_below(4);
    while (now(state)) state = (state + 1) % 4;
    conditions = {{"ready", kStates[state][0]}, {"serving", kStates[state][1]}, {"terminating", kStates[state][2]}};
  }
  stamp_trigger_time(*slice);
  if (auto replaced = sim_.replace(*slice); !replaced) {
    return std::unexpected("update the slice of " + service.to_string() + ": " + describe(replaced.error()));
  }
  return kind;
}

std::expected<ChangeKind, std::string> ClusterChurn::change_services() {
  const int roll = random_below(100);
  if (roll < 35) return delete_service();
  if (roll < 70) return create_service();
  return modify_service();
}

std::expected<ChangeKind, std::string> ClusterChurn::delete_service() {
  if (present_.empty() || static_cast<int>(deleted_.size()) >= std::max(1, spec_.services / 10)) {
    if (deleted_.empty()) return std::unexpected("no Service to delete or create");
    return create_service();
  }
  const std::size_t at = static_cast<std::size_t>(random_below(static_cast<int>(present_.size())));
  const int index = present_[at];
  const ObjectName service = synthetic_service_name(index);
  auto existing = sim_.get("services", service.namespace_, service.name);
  if (!existing) return std::unexpected("get " + service.to_string() + ": " + describe(existing.error()));
  if (auto removed = sim_.remove("services", service.namespace_, service.name); !removed) {
    return std::unexpected("delete " + service.to_string() + ": " + describe(removed.error()));
  }
  node_ports_in_use_ -= node_ports_of(*existing);
  present_[at] = present_.back();
  present_.pop_back();
  deleted_.push_back(index);
  // Its slice goes too, as the garbage collector removes it once the
  // Service is gone.
  if (auto removed = sim_.remove("endpointslices", service.namespace_, slice_name(service)); !removed) {
    return std::unexpected("delete the slice of " + service.to_string() + ": " + describe(removed.error()));
  }
  return ChangeKind::ServiceDeleted;
}

std::expected<ChangeKind, std::string> ClusterChurn::create_service() {
  if (deleted_.empty()) {
    if (present_.empty()) return std::unexpected("no Service to delete or create");
    return delete_service();  // deletes: with none deleted, the cap is not reached
  }
  const std::size_t at = static_cast<std::size_t>(random_below(static_cast<int>(deleted_.size())));
  const int index = deleted_[at];
  if (auto created = create_with_slice(index); !created) return std::unexpected(created.error());
  deleted_[at] = deleted_.back();
  deleted_.pop_back();
  present_.push_back(index);
  return ChangeKind::ServiceCreated;
}

std::expected<ObjectName, std::string> ClusterChurn::add_new_service() {
  const int index = next_new_index_++;
  auto created = create_with_slice(index);
  if (!created) return created;
  present_.push_back(index);
  ++counts_.by_kind[ChangeKind::ServiceCreated];
  return created;
}

std::expected<ObjectName, std::string> ClusterChurn::create_with_slice(int index) {
  ClusterState scratch;
  const ObjectName service = add_synthetic_service(scratch, spec_, index);
  if (auto created = sim_.create(encode_service(scratch.services.at(service))); !created) {
    return std::unexpected("create " + service.to_string() + ": " + describe(created.error()));
  }
  json slice = encode_slice(scratch.slices.at(service).begin()->second);
  stamp_trigger_time(slice);
  if (auto created = sim_.create(slice); !created) {
    return std::unexpected("create the slice of " + service.to_string() + ": " + describe(created.error()));
  }
  return service;
}

std::expected<ChangeKind, std::string> ClusterChurn::modify_service() {
  if (present_.empty()) return create_service();
  const int index = present_[static_cast<std::size_t>(random_below(static_cast<int>(present_.size())))];
  const ObjectName name = synthetic_service_name(index);
  auto service = sim_.get("services", name.namespace_, name.name);
  if (!service) return std::unexpected("get " + name.to_string() + ": " + describe(service.error()));
  json& spec = (*service)["spec"];
  const std::string type = spec.value("type", "ClusterIP");
  const int before = node_ports_of(*service);
  const bool switch_type = random_below(2) == 0 && (type == "NodePort" || type == "ClusterIP") &&
                           (type == "NodePort" || node_ports_in_use_ + 1 <= kNodePortBudget);
  if (switch_type && type == "ClusterIP") {
    spec["type"] = "NodePort";  // the simulator allocates the port
  } else if (switch_type) {
    spec["type"] = "ClusterIP";
    for (json& port : spec["ports"]) port.erase("nodePort");
    spec.erase("externalTrafficPolicy");
    spec.erase("healthCheckNodePort");
  } else if (spec.value("sessionAffinity", "None") == "ClientIP") {
    spec["sessionAffinity"] = "None";
    spec.erase("sessionAffinityConfig");
  } else {
    spec["sessionAffinity"] = "ClientIP";
    spec["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 10800}}}};
  }
  auto replaced = sim_.replace(*service);
  if (!replaced) return std::unexpected("update " + name.to_string() + ": " + describe(replaced.error()));
  node_ports_in_use_ += node_ports_of(*replaced) - before;
  return ChangeKind::ServiceChanged;
}

std::expected<ChangeKind, std::string> ClusterChurn::change_nodes() {
  ++generation_;
  if (random_below(4) == 0) {
    auto node = sim_.get("nodes", "", own_node_);
    if (!node) return std::unexpected("get Node " + own_node_ + ": " + describe(node.error()));
    (*node)["metadata"]["labels"][std::string(kGenerationLabel)] = std::to_string(generation_);
    if (auto replaced = sim_.replace(*node); !replaced) {
      return std::unexpected("update Node " + own_node_ + ": " + describe(replaced.error()));
    }
    return ChangeKind::OwnNodeChanged;
  }
  const int roll = random_below(3);
  if (roll == 0 || (roll == 1 && extra_nodes_.empty())) {
    Node node;
    node.name = "soak-node-" + std::to_string(generation_);
    node.addresses.push_back({"InternalIP", "192.168.200." + std::to_string(generation_ % 250 + 1)});
    if (auto created = sim_.create(encode_node(node)); !created) {
      return std::unexpected("create Node " + node.name + ": " + describe(created.error()));
    }
    extra_nodes_.push_back(node.name);
  } else if (roll == 1) {
    const std::size_t at = static_cast<std::size_t>(random_below(static_cast<int>(extra_nodes_.size())));
    if (auto removed = sim_.remove("nodes", "", extra_nodes_[at]); !removed) {
      return std::unexpected("delete Node " + extra_nodes_[at] + ": " + describe(removed.error()));
    }
    extra_nodes_[at] = extra_nodes_.back();
    extra_nodes_.pop_back();
  } else {
    const std::string name = "node-" + std::to_string(1 + random_below(std::max(1, spec_.nodes - 1)));
    auto node = sim_.get("nodes", "", name);
    if (!node) return std::unexpected("get Node " + name + ": " + describe(node.error()));
    (*node)["metadata"]["labels"][std::string(kGenerationLabel)] = std::to_string(generation_);
    if (auto replaced = sim_.replace(*node); !replaced) {
      return std::unexpected("update Node " + name + ": " + describe(replaced.error()));
    }
  }
  return ChangeKind::OtherNodeChanged;
}

}  // namespace kubenat::bench
