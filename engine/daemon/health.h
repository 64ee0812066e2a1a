#pragma once

// kube-proxy's health semantics (pkg/proxy/healthcheck/proxy_health.go), as
// pure logic: the sync loop reports queued and applied updates, the HTTP
// server asks for /healthz and /livez replies. No sockets here.
//
// The proxy is healthy unless an update has been queued and not applied for
// healthTimeout or longer (kube-proxy uses 2 × the sync period). With
// nothing pending it is healthy however long ago the last sync was: a quiet
// cluster is not a sick proxy. /healthz also fails while the node is not
// eligible (being deleted, or tainted ToBeDeletedByClusterAutoscaler), so
// that load balancers drain it; /livez ignores the node.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "engine/clock.h"
#include "rules/ip.h"
#include "rules/model.h"
#include "rules/rfc3339.h"

namespace kubenat {

inline constexpr std::string_view kHealthContentType = "application/json";

struct HealthReply {
  int status = 200;  // 200 healthy, 503 not
  std::string body;  // JSON, kube-proxy's fields
};

// kube-proxy's healthTimeout for a given --iptables-sync-period.
constexpr std::chrono::nanoseconds health_timeout_for(std::chrono::nanoseconds sync_period) { return 2 * sync_period; }

// Thread-safe: the sync loop reports from its thread, the HTTP server reads
// from its own.
class ProxyHealth {
 public:
  // `clock` decides health (steady time) and must outlive this object.
  ProxyHealth(const Clock& clock, std::chrono::nanoseconds health_timeout);

  // A Service, EndpointSlice or Node change arrived that the rules of
  // `family` must reflect. Only the oldest pending one counts: later calls
  // before updated() do not move the deadline.
  void queued_update(IpFamily family);
  // The rules of `family` were applied successfully and reflect everything
  // queued so far.
  void updated(IpFamily family);
  // Whether the node may receive load-balancer traffic (true until told
  // otherwise, as kube-proxy starts).
  void set_node_eligible(bool eligible);

  // The proxy's own health (all families), ignoring the node.
  bool healthy() const;
  bool node_eligible() const;

  // The /healthz and /livez replies. `wall_now` is the wall-clock time of
  // the request: it only renders timestamps (steady times are shown
  // relative to it), it never decides health. Body, as kube-proxy marshals
  // it (RFC 3339 times, UTC):
  //   {"lastUpdated":"...","currentTime":"...","nodeEligible":true,"healthy":true,
  //    "status":{"IPv4":{"lastUpdated":"...","healthy":true}}}
  // "nodeEligible" only in /healthz. The top-level lastUpdated is the
  // current time when healthy (kube-proxy's compatibility rule), else the
  // most recent successful sync ("0001-01-01T00:00:00Z" if none).
  HealthReply healthz(std::chrono::system_clock::time_point wall_now) const;
  HealthReply livez(std::chrono::system_clock::time_point wall_now) const;

 private:
  struct FamilyState {
    std::optional<Clock::time_point> last_updated;
    std::optional<Clock::time_point> oldest_pending;
  };
  HealthReply reply(bool include_node, std::chrono::system_clock::time_point wall_now) const;
  bool family_healthy(const FamilyState& state, Clock::time_point now) const;

  const Clock& clock_;
  std::chrono::nanoseconds health_timeout_;
  mutable std::mutex mutex_;
  std::map<IpFamily, FamilyState> families_;
  bool node_eligible_ = true;
};

// Whether load balancers may send this node traffic (KEP-3836): not when its
// Node is gone, being deleted, or tainted ToBeDeletedByClusterAutoscaler
// (any value, any effect), as kube-proxy decides it.
bool node_eligible_for_traffic(const std::optional<Node>& node);

}  // namespace kubenat
