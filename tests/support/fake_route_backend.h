#pragma once

// An in-memory main routing table behind the RouteBackend interface, with
// the kernel's rules where they matter to the route syncer: one route per
// destination and metric, EXCL adds that refuse to overwrite, deletes that
// match the protocol and gateway, IPv6 metric 0 stored as 1024, and
// gateways that must be on a connected subnet. Operations are recorded, and
// any of them can be made to fail.

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/routes/backend.h"

namespace kubenat::testing {

class FakeRouteBackend final : public RouteBackend {
 public:
  std::expected<std::vector<KernelRoute>, RouteError> list_routes(int protocol) override {
    ++dumps_;
    if (auto failure = failure_for("list")) return std::unexpected(*failure);
    std::vector<KernelRoute> out;
    for (const KernelRoute& route : table_) {
      if (route.protocol == protocol) out.push_back(route);
    }
    return out;
  }

  std::expected<std::vector<KernelRoute>, RouteError> routes_to(const std::vector<Cidr>& destinations) override {
    ++dumps_;
    if (auto failure = failure_for("routes_to")) return std::unexpected(*failure);
    std::vector<KernelRoute> out;
    for (const KernelRoute& route : table_) {
      if (std::find(destinations.begin(), destinations.end(), route.destination) != destinations.end()) {
        out.push_back(route);
      }
    }
    return out;
  }

  std::expected<std::vector<Cidr>, RouteError> connected_subnets() override {
    if (auto failure = failure_for("subnets")) return std::unexpected(*failure);
    return subnets_;
  }

  std::expected<void, RouteError> add(const KernelRoute& route) override {
    log_.push_back("add " + route.to_string());
    if (auto failure = failure_for("add")) return std::unexpected(*failure);
    KernelRoute stored = normalized(route);
    if (find(stored.destination, stored.priority) != table_.end()) {
      return std::unexpected(RouteError{EEXIST, "adding route " + route.to_string() + ": File exists (EEXIST)"});
    }
    if (auto unreachable = check_gateway(route)) return std::unexpected(*unreachable);
    table_.push_back(stored);
    return {};
  }

  std::expected<void, RouteError> replace(const KernelRoute& route) override {
    log_.push_back("replace " + route.to_string());
    if (auto failure = failure_for("replace")) return std::unexpected(*failure);
    if (auto unreachable = check_gateway(route)) return std::unexpected(*unreachable);
    KernelRoute stored = normalized(route);
    auto it = find(stored.destination, stored.priority);
    if (it == table_.end()) {
      table_.push_back(stored);
    } else {
      *it = stored;
    }
    return {};
  }

  std::expected<void, RouteError> remove(const KernelRoute& route) override {
    log_.push_back("remove " + route.to_string());
    if (auto failure = failure_for("remove")) return std::unexpected(*failure);
    auto it = std::find_if(table_.begin(), table_.end(), [&](const KernelRoute& held) {
      return held.destination == route.destination && held.priority == normalized(route).priority &&
             (route.protocol == 0 || held.protocol == route.protocol) &&
             (!route.gateway || held.gateway == route.gateway);
    });
    if (it == table_.end()) {
      return std::unexpected(RouteError{ESRCH, "deleting route " + route.to_string() + ": No such process (ESRCH)"});
    }
    table_.erase(it);
    return {};
  }

  // --- the test's side ---------------------------------------------------

  void set_subnets(std::vector<Cidr> subnets) { subnets_ = std::move(subnets); }
  // Puts a route in the table as someone else (or an earlier run) would.
  void put(KernelRoute route) { table_.push_back(normalized(route)); }
  // Deletes routes to `destination`, as `ip route del` by hand would.
  void erase(const Cidr& destination) {
    std::erase_if(table_, [&](const KernelRoute& route) { return route.destination == destination; });
  }
  // Operation `op` ("list", "routes_to", "subnets", "add", "replace",
  // "remove") fails with `code` from now on; nullopt heals it.
  void fail(const std::string& op, std::optional<int> code) {
    if (code) {
      failures_[op] = *code;
    } else {
      failures_.erase(op);
    }
  }

  const std::vector<KernelRoute>& table() const { return table_; }
  // The routes of `protocol` as "10.200.2.0/24 via 10.240.0.12" lines, sorted.
  std::vector<std::string> routes_of(int protocol) const {
    std::vector<std::string> out;
    for (const KernelRoute& route : table_) {
      if (route.protocol == protocol) {
        out.push_back(route.destination.to_string() + " via " + (route.gateway ? route.gateway->to_string() : "-"));
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Every add, replace and remove, in order ("add 10.200.2.0/24 via ... proto 214").
  const std::vector<std::string>& log() const { return log_; }
  void clear_log() { log_.clear(); }
  int dumps() const { return dumps_; }

 private:
  static KernelRoute normalized(KernelRoute route) {
    // As the kernel does: an IPv6 route added with metric 0 gets 1024.
    if (route.destination.family() == IpFamily::V6 && route.priority == 0) route.priority = 1024;
    return route;
  }

  std::vector<KernelRoute>::iterator find(const Cidr& destination, std::uint32_t priority) {
    return std::find_if(table_.begin(), table_.end(), [&](const KernelRoute& route) {
      return route.destination == destination && route.priority == priority;
    });
  }

  std::optional<RouteError> check_gateway(const KernelRoute& route) const {
    if (!route.gateway) return std::nullopt;
    const bool on_link = std::any_of(subnets_.begin(), subnets_.end(),
                                     [&](const Cidr& subnet) { return subnet.contains(*route.gateway); });
    if (on_link) return std::nullopt;
    return RouteError{ENETUNREACH, "route " + route.to_string() + ": Network is unreachable (ENETUNREACH)"};
  }

  std::optional<RouteError> failure_for(const std::string& op) const {
    auto it = failures_.find(op);
    if (it == failures_.end()) return std::nullopt;
    return RouteError{it->second, op + " failed: " + describe_errno(it->second)};
  }

  std::vector<KernelRoute> table_;
  std::vector<Cidr> subnets_;
  std::map<std::string, int> failures_;
  std::vector<std::string> log_;
  int dumps_ = 0;
};

}  // namespace kubenat::testing
