#pragma once

// The daemon's heart. It holds the cluster as the watch reports it and keeps
// the kernel in step: changes are coalesced (engine/sync_scheduler.h: as
// kube-proxy does when min_sync_period is set, else as the cost of syncs
// requires; at least once per sync_period), each sync compiles only
// the Services that changed, and nothing is synced before every watched
// resource has been listed once. Losing the API server changes nothing: the
// last state stays, and so do the rules.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "engine/clock.h"
#include "engine/proxier.h"
#include "engine/sync_scheduler.h"
#include "watch/cluster_listener.h"

namespace kubenat {

// What one sync did, for metrics, health and logs.
struct SyncReport {
  SyncResult result;  // the service proxier's (iptables, nftables; none when proxying is off)
  // The other proxiers' (static routes), in the order they were added.
  std::vector<SyncResult> other_results;
  std::chrono::steady_clock::duration duration{};
  std::chrono::steady_clock::duration compile_duration{};  // of duration: compiling, the rest applying
  std::size_t services_changed = 0;  // Services whose Service object changed
  std::size_t endpoints_changed = 0; // Services whose slices changed
  // Every Service this sync looked at again; when it looked at all of them
  // (`all_services`: a first sync, or this node's labels changed), empty
  // instead, as the names would only add to the sync's peak (10 MB at
  // 100,000 Services).
  std::set<ObjectName> changed_services;
  bool all_services = false;
  // For each changed Service: how long from the change's arrival to the
  // rules being in the kernel (kubenat's own share of network programming
  // latency).
  std::vector<std::chrono::steady_clock::duration> programming_latencies;
  // The last-change-trigger-time of every Service and EndpointSlice version
  // this sync applied (kube-proxy measures network programming latency from
  // them); empty when the sync failed, as kube-proxy drops them then.
  std::vector<std::chrono::system_clock::time_point> trigger_times;
  // Changes that arrived during the sync and wait for the next one.
  std::size_t services_pending = 0;
  std::size_t endpoints_pending = 0;
};

// Told what happens, so that metrics, health and logs stay outside the loop.
class SyncObserver {
 public:
  virtual ~SyncObserver() = default;
  // A change arrived; so many Services wait for a sync because of their
  // Service objects, and so many because of their endpoints.
  virtual void sync_queued(std::size_t /*services_pending*/, std::size_t /*endpoints_pending*/) {}
  virtual void sync_done(const SyncReport&) {}
  virtual void watch_incident(WatchedResource, WatchIncident, const std::string&) {}
  virtual void object_diagnostics(const Diagnostics&) {}
  // A watched resource's first list is complete: so many objects of it are
  // held (Services, EndpointSlices or v1 Endpoints as slices, Nodes). Once
  // per resource; relists are watch incidents.
  virtual void resource_listed(WatchedResource, std::size_t /*objects*/) {}
  // This node's Node object changed (nullopt: deleted), as the watch
  // reported it: what decides whether load balancers may send it traffic.
  virtual void own_node_changed(const std::optional<Node>&) {}
};

class SyncLoop final : public ClusterListener {
 public:
  struct Options {
    // Unset: the spacing of syncs follows their cost (engine/sync_scheduler.h).
    std::optional<std::chrono::milliseconds> min_sync_period = std::chrono::seconds(1);
    std::chrono::milliseconds sync_period = std::chrono::seconds(30);
    // Resources that must have synced before the first sync.
    std::set<WatchedResource> wait_for = {WatchedResource::Services, WatchedResource::EndpointSlices};
    // This node: a change to its Node object's labels, addresses or pod
    // CIDRs recompiles everything (labels decide topology, addresses the
    // node IPs); a change of its taints or deletion only tells the observer.
    std::string node_name;
    // Whether a change to another Node makes a sync due (the static routes
    // need every node; service rules only this one).
    bool sync_on_any_node_change = false;
  };

  // `proxier` may be null: no service proxying (routes only).
  SyncLoop(Proxier* proxier, const Clock& clock, Options options, SyncObserver* observer = nullptr);

  // Another proxier synced after the service proxier, with the same state
  // and the same changed Services (static routes, health-check node ports).
  // Call before run().
  void add_proxier(Proxier& proxier) { others_.push_back(&proxier); }

  // ClusterListener: called from the watch's threads.
  void service_changed(const ObjectName& id, std::optional<Service> now) override;
  void slice_changed(const ObjectName& service, const std::string& slice_name,
                     std::optional<EndpointSlice> now) override;
  void node_changed(const std::string& name, std::optional<Node> now) override;
  void synced(WatchedResource resource) override;
  void diagnostics(const Diagnostics& diagnostics) override;
  void incident(WatchedResource resource, WatchIncident incident, const std::string& detail) override;

  // Syncs whenever a sync is due, until stop(). Blocks the calling thread.
  void run();
  void stop();

  // One sync now, if every resource has been listed (for tests and for
  // callers that drive the loop themselves); nullopt otherwise.
  std::optional<SyncReport> sync_now();

  // Whether every resource waited for has been listed once.
  bool ready() const;
  std::size_t syncs() const;
  ClusterState state() const;  // a copy, for tests and debugging

 private:
  // Under the lock; `trigger_time` is the changed object's, if it has one.
  void mark_changed(const ObjectName& service, bool endpoints,
                    const std::optional<std::chrono::system_clock::time_point>& trigger_time);
  void queued(std::size_t services_pending, std::size_t endpoints_pending);
  bool ready_locked() const;
  SyncReport sync_locked(std::unique_lock<std::mutex>& lock);

  Proxier* proxier_;
  std::vector<Proxier*> others_;
  const Clock& clock_;
  Options options_;
  SyncObserver* observer_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  ClusterState state_;
  std::set<WatchedResource> synced_;
  // Since the last sync: which Services changed (the Service itself, its
  // endpoints), and when each of them first did, in no order: all the sync
  // reports of them (a name for each would be 10 MB more at a first sync of
  // 100,000 Services).
  std::set<ObjectName> services_changed_;
  std::set<ObjectName> endpoints_changed_;
  std::vector<Clock::time_point> first_changes_;
  std::vector<std::chrono::system_clock::time_point> trigger_times_;
  bool everything_changed_ = true;
  SyncScheduler scheduler_;
  std::size_t syncs_ = 0;
};

}  // namespace kubenat
