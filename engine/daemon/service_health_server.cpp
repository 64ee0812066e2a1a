#include "engine/daemon/service_health_server.h"

#include <nlohmann/json.hpp>

namespace kubenat {

HttpReply service_health_reply(const ObjectName& service, std::size_t local_endpoints, bool proxy_healthy) {
  // kube-proxy's body: fields in this order, indented with tabs, no
  // trailing newline.
  nlohmann::ordered_json body;
  body["service"]["namespace"] = service.namespace_;
  body["service"]["name"] = service.name;
  body["localEndpoints"] = local_endpoints;
  body["serviceProxyHealthy"] = proxy_healthy;
  const bool ok = local_endpoints != 0 && proxy_healthy;
  return HttpReply{ok ? 200 : 503,
                   "application/json",
                   body.dump(1, '\t'),
                   {{"X-Load-Balancing-Endpoint-Weight", std::to_string(local_endpoints)}}};
}

ServiceHealthServer::ServiceHealthServer(HttpListeners& listeners, const ProxyHealth& health, ProxyConfig config,
                                         std::vector<IpFamily> families)
    : listeners_(listeners),
      config_(std::move(config)),
      families_(families.empty() ? std::vector<IpFamily>{config_.family} : std::move(families)),
      shared_(std::make_shared<Shared>(health)) {}

ServiceHealthServer::~ServiceHealthServer() {
  // Closing waits for the listeners' thread, whose handlers take the lock:
  // close without it.
  std::vector<HttpListeners::Id> ids;
  {
    std::lock_guard lock(shared_->mutex);
    for (auto& [service, served] : shared_->served) ids.insert(ids.end(), served.listeners.begin(), served.listeners.end());
    shared_->served.clear();
  }
  for (HttpListeners::Id id : ids) listeners_.close(id);
}

void ServiceHealthServer::account(const ServiceHealth& facts, bool add) {
  if (add) {
    no_local_internal_ += facts.no_local_internal;
    no_local_external_ += facts.no_local_external;
  } else {
    no_local_internal_ -= facts.no_local_internal;
    no_local_external_ -= facts.no_local_external;
  }
}

void ServiceHealthServer::compile(const ClusterState& state, const std::set<ObjectName>* changed) {
  const auto node = state.nodes.find(config_.node_name);
  const std::string zone = node == state.nodes.end() ? std::string() : node->second.zone();
  const auto recompute = [&](const ObjectName& id) {
    if (auto old = facts_.find(id); old != facts_.end()) {
      account(old->second, false);
      facts_.erase(old);
    }
    auto service = state.services.find(id);
    if (service == state.services.end()) return;
    auto slices = state.slices.find(id);
    const ServiceHealth facts =
        service_health(service->second, slices == state.slices.end() ? nullptr : &slices->second, config_, zone);
    if (facts == ServiceHealth{}) return;  // nothing to serve or count
    account(facts, true);
    facts_.emplace(id, facts);
  };
  if (changed != nullptr) {
    for (const ObjectName& id : *changed) recompute(id);
    return;
  }
  facts_.clear();
  no_local_internal_ = no_local_external_ = 0;
  for (const auto& [id, service] : state.services) recompute(id);
}

std::expected<std::vector<HttpListeners::Id>, std::string> ServiceHealthServer::open(const ObjectName& service,
                                                                                     int port) {
  std::vector<std::string> addresses;
  bool wildcard_v4 = false;
  bool wildcard_v6 = false;
  for (IpFamily family : families_) {
    ProxyConfig of_family = config_;
    of_family.family = family;
    const auto ips = nodeport_ips(of_family);
    if (!ips) {
      (family == IpFamily::V4 ? wildcard_v4 : wildcard_v6) = true;
      continue;
    }
    for (const IpAddress& ip : *ips) {
      addresses.push_back((ip.is_v4() ? ip.to_string() : "[" + ip.to_string() + "]") + ":" + std::to_string(port));
    }
  }
  // "[::]" takes IPv4 too: one socket for a family without restriction, or
  // both. Beside IPv4 addresses of their own (--nodeport-addresses
  // restricting IPv4 alone) it would take their port, so IPv6 goes without.
  if (wildcard_v6 && (wildcard_v4 || addresses.empty())) {
    addresses.push_back("[::]:" + std::to_string(port));
  } else if (wildcard_v4) {
    addresses.push_back("0.0.0.0:" + std::to_string(port));
  }
  std::vector<HttpListeners::Id> opened;
  for (const std::string& address : addresses) {
    auto listening = listeners_.listen(address, [shared = shared_, service] {
      std::size_t local_endpoints = 0;
      {
        std::lock_guard lock(shared->mutex);
        auto it = shared->served.find(service);
        if (it != shared->served.end()) local_endpoints = it->second.local_endpoints;
      }
      return service_health_reply(service, local_endpoints, shared->health.healthy());
    });
    if (!listening) {
      for (HttpListeners::Id id : opened) listeners_.close(id);
      return std::unexpected(listening.error());
    }
    opened.push_back(listening->id);
  }
  return opened;
}

SyncResult ServiceHealthServer::apply() {
  SyncResult result;
  result.ok = true;
  // The Services with a port: a handful of load balancers among all
  // Services, so this is cheap at any cluster size.
  std::map<ObjectName, const ServiceHealth*> wanted;
  for (const auto& [id, facts] : facts_) {
    if (facts.health_check_node_port != 0) wanted.emplace(id, &facts);
  }
  // Under the lock only the map changes: opening and closing wait for the
  // listeners' thread, whose handlers take the lock.
  std::vector<HttpListeners::Id> to_close;
  std::vector<std::pair<ObjectName, int>> to_open;
  {
    std::lock_guard lock(shared_->mutex);
    auto& served = shared_->served;
    for (auto it = served.begin(); it != served.end();) {
      auto want = wanted.find(it->first);
      if (want == wanted.end() || want->second->health_check_node_port != it->second.port) {
        to_close.insert(to_close.end(), it->second.listeners.begin(), it->second.listeners.end());
        it = served.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, facts] : wanted) {
      Served& entry = served[id];
      entry.port = facts->health_check_node_port;
      entry.local_endpoints = facts->local_ready_endpoints;
      if (entry.listeners.empty()) to_open.emplace_back(id, entry.port);
    }
  }
  for (HttpListeners::Id id : to_close) listeners_.close(id);

  std::set<std::string> failures;
  for (const auto& [id, port] : to_open) {
    auto opened = open(id, port);
    if (opened) {
      std::lock_guard lock(shared_->mutex);
      shared_->served[id].listeners = std::move(*opened);
      continue;
    }
    ++failed_binds_;
    const std::string warning = "Warning FailedToStartServiceHealthcheck Service " + id.to_string() + ": node " +
                                config_.node_name + " failed to start healthcheck \"" + id.to_string() +
                                "\" on port " + std::to_string(port) + ": " + opened.error() +
                                " (retried at every sync)";
    failures.insert(warning);
    if (!reported_.contains(warning)) result.warnings.push_back(warning);
  }
  reported_ = std::move(failures);
  result.summary = std::to_string(open_ports()) + " health-check node ports served";
  return result;
}

std::size_t ServiceHealthServer::open_ports() const {
  std::lock_guard lock(shared_->mutex);
  std::size_t open = 0;
  for (const auto& [id, served] : shared_->served) open += served.listeners.empty() ? 0 : 1;
  return open;
}

}  // namespace kubenat
