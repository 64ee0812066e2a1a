#include "rules/nftables/affinity_cleanup.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <variant>

namespace kubenat {
namespace {

bool subset(const std::vector<NftEndpoint>& part, const std::vector<NftEndpoint>& whole) {
  return std::includes(whole.begin(), whole.end(), part.begin(), part.end());
}

// The affinity map's element as a client, a destination and an endpoint;
// nullopt for an element of another shape.
struct RememberedClient {
  IpAddress client;
  NftDestination destination;
  NftEndpoint endpoint;
};

std::optional<RememberedClient> read_entry(const NftElement& element) {
  const std::vector<NftValue> key = element.key;
  const std::vector<NftValue> data = element.data;
  if (key.size() != 4 || data.size() != 2) return std::nullopt;
  const auto* client = std::get_if<IpAddress>(&key[0]);
  const auto* address = std::get_if<IpAddress>(&key[1]);
  const auto* protocol = std::get_if<Protocol>(&key[2]);
  const auto* port = std::get_if<std::uint16_t>(&key[3]);
  const auto* endpoint = std::get_if<IpAddress>(&data[0]);
  const auto* endpoint_port = std::get_if<std::uint16_t>(&data[1]);
  if (!client || !address || !protocol || !port || !endpoint || !endpoint_port) return std::nullopt;
  return RememberedClient{*client, NftDestination{*address, *protocol, *port}, NftEndpoint{*endpoint, *endpoint_port}};
}

}  // namespace

bool affinity_endpoints_lost(const NftServicePortRules* before, const NftServicePortRules* after) {
  if (before == nullptr) return false;
  for (const NftAffinityTarget& was : before->affinity) {
    const NftAffinityTarget* now = nullptr;
    if (after != nullptr) {
      for (const NftAffinityTarget& target : after->affinity) {
        if (target.destination == was.destination) now = &target;
      }
    }
    if (now == nullptr) return true;
    if (!subset(was.from_cluster, now->from_cluster) || !subset(was.from_outside, now->from_outside)) return true;
  }
  return false;
}

std::vector<NftElement> stale_affinity_entries(const NftPlan& plan, const std::vector<Cidr>& cluster_sources,
                                               const std::vector<NftElement>& entries) {
  std::map<NftDestination, const NftAffinityTarget*> by_address;
  std::map<std::pair<Protocol, std::uint16_t>, const NftAffinityTarget*> by_node_port;
  for (const auto& [name, fragment] : plan.service_ports) {
    for (const NftAffinityTarget& target : fragment->affinity) {
      if (target.destination.ip) {
        by_address.emplace(target.destination, &target);
      } else {
        by_node_port.emplace(std::pair(target.destination.protocol, target.destination.port), &target);
      }
    }
  }
  std::vector<NftElement> stale;
  for (const NftElement& element : entries) {
    const std::optional<RememberedClient> entry = read_entry(element);
    if (!entry) continue;  // not kubenat's shape: nothing it would have learned
    const NftAffinityTarget* target = nullptr;
    if (auto it = by_address.find(entry->destination); it != by_address.end()) {
      target = it->second;
    } else if (!plan.claims.contains(entry->destination)) {
      auto np = by_node_port.find(std::pair(entry->destination.protocol, entry->destination.port));
      if (np != by_node_port.end()) target = np->second;
    }
    bool valid = false;
    if (target != nullptr) {
      const bool from_cluster = std::any_of(cluster_sources.begin(), cluster_sources.end(),
                                            [&](const Cidr& cidr) { return cidr.contains(entry->client); });
      const std::vector<NftEndpoint>& allowed = from_cluster ? target->from_cluster : target->from_outside;
      valid = std::binary_search(allowed.begin(), allowed.end(), entry->endpoint);
    }
    if (!valid) stale.push_back(element);
  }
  return stale;
}

}  // namespace kubenat
