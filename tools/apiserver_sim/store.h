#pragma once

// The simulator's etcd and registry in one: objects by resource, one global
// resourceVersion counter, a bounded event history that watches resume from,
// and the watchers that every write is fanned out to.
//
// Writers never wait for watchers: an event is appended to each watcher's
// queue (a pointer push under the watcher's own lock) and the watcher's
// thread formats and sends it. Objects are immutable once stored and shared
// by pointer, with their JSON text rendered once, so a LIST of 10,000
// objects copies pointers under the lock and concatenates text outside it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/apiserver_sim/apiserver_sim.h"
#include "tools/apiserver_sim/patch.h"
#include "tools/apiserver_sim/resources.h"
#include "tools/apiserver_sim/selectors.h"

namespace kubenat::apiserver_sim {

template <class T>
using Result = std::expected<T, ApiError>;

struct StoredObject {
  nlohmann::json object;
  std::string text;  // object.dump(), rendered once
  std::uint64_t resource_version = 0;
};
using ObjectPtr = std::shared_ptr<const StoredObject>;

enum class EventType { Added, Modified, Deleted };
std::string_view event_type_name(EventType type);

struct Event {
  std::uint64_t resource_version = 0;
  ResourceId resource = 0;
  EventType type = EventType::Added;
  std::string key;      // "namespace/name", or "name" for cluster-scoped objects
  ObjectPtr object;     // the new state; for Deleted the last state, at the deletion's resourceVersion
  ObjectPtr previous;   // the state before; null for Added
  std::chrono::steady_clock::time_point at;
};
using EventPtr = std::shared_ptr<const Event>;

// Which objects a watch or list wants besides the resource.
struct Selection {
  std::string namespace_name;  // empty: all namespaces
  LabelSelector labels;
  FieldSelector fields;

  bool matches(ResourceId resource, const StoredObject& object) const;
};

// One watcher's inbox. The store pushes events and fault signals; the watch
// stream's thread waits and takes them.
class WatchQueue {
 public:
  WatchQueue(ResourceId resource, Selection selection) : resource_(resource), selection_(std::move(selection)) {}

  ResourceId resource() const { return resource_; }
  const Selection& selection() const { return selection_; }

  // Past this many unsent events the watch is ended (Batch::stopped).
  static constexpr std::size_t kMaxQueuedEvents = 200000;

  void push(EventPtr event);
  // The connection is to be cut without a final chunk.
  void drop();
  // The stream is to end cleanly (server stopping).
  void stop();
  // The stream is to send garbage next; then end when close.
  void garbage(bool close);

  struct Batch {
    std::vector<EventPtr> events;
    bool drained = false;  // the queue was empty after taking these
    bool dropped = false;
    bool stopped = false;
    int garbage = 0;  // garbage requests since the last batch
    bool garbage_close = false;
  };
  // Waits until something is queued or `until`; takes at most `max` events.
  Batch wait(std::chrono::steady_clock::time_point until, std::size_t max);

 private:
  const ResourceId resource_;
  const Selection selection_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<EventPtr> events_;
  bool dropped_ = false;
  bool stopped_ = false;
  int garbage_ = 0;
  bool garbage_close_ = false;
};

struct ListOptions {
  Selection selection;
  std::size_t limit = 0;  // 0: everything
  std::string continue_token;
  std::string resource_version;        // "", "0" or a number
  std::string resource_version_match;  // "", "NotOlderThan" or "Exact"
};

struct ListResult {
  std::vector<ObjectPtr> items;
  std::uint64_t resource_version = 0;  // of the snapshot the items come from
  std::string continue_token;          // empty on the last page
};

struct WatchStart {
  std::shared_ptr<WatchQueue> queue;  // registered; pass to Store::unwatch when done
  // Synthetic ADDED events (resourceVersion "" or "0"): the objects that
  // exist, in key order.
  std::vector<ObjectPtr> initial;
  // The resourceVersion the watch starts after: the first bookmark's.
  std::uint64_t resource_version = 0;
  // Set when the requested resourceVersion is older than the event window:
  // the watch sends this as an ERROR event and ends. queue is then null.
  std::optional<ApiError> expired;
};

struct StoreOptions {
  std::size_t history_limit = 10000;
  std::chrono::milliseconds history_age{0};
  NodePortRange node_port_range;
};

class Store {
 public:
  explicit Store(StoreOptions options);

  // POST. namespace_name is the one in the URL ("" for cluster-scoped).
  // Assigns uid, creationTimestamp and resourceVersion; defaults and
  // allocates Service fields; creates a missing namespace.
  [[nodiscard]] Result<ObjectPtr> create(ResourceId resource, std::string_view namespace_name, nlohmann::json object,
                                         bool dry_run);
  // PUT. A metadata.resourceVersion that is not the current one is a 409
  // Conflict. status_only (the /status subresource) replaces .status alone.
  // Without changes nothing is written and the stored object is returned.
  [[nodiscard]] Result<ObjectPtr> replace(ResourceId resource, std::string_view namespace_name, std::string_view name,
                                          nlohmann::json object, bool dry_run, bool status_only);
  // PATCH; Apply creates the object when it does not exist.
  [[nodiscard]] Result<ObjectPtr> patch(ResourceId resource, std::string_view namespace_name, std::string_view name,
                                        const nlohmann::json& patch, PatchType type, bool dry_run, bool status_only);
  // DELETE. delete_options may carry preconditions (uid, resourceVersion).
  // An object with metadata.finalizers is only marked (deletionTimestamp)
  // until an update empties them. Deleting a namespace deletes what is in it.
  [[nodiscard]] Result<ObjectPtr> remove(ResourceId resource, std::string_view namespace_name, std::string_view name,
                                         const nlohmann::json& delete_options, bool dry_run);
  [[nodiscard]] Result<std::vector<ObjectPtr>> remove_collection(ResourceId resource, const Selection& selection,
                                                                 bool dry_run);
  [[nodiscard]] Result<ObjectPtr> get(ResourceId resource, std::string_view namespace_name, std::string_view name) const;
  // Pages are consistent: a continue token lists the snapshot its first page
  // came from, rebuilt from the event history, and is 410 Expired once the
  // history no longer reaches back to it. resourceVersion "0" ignores limit,
  // as the real server's watch cache does.
  [[nodiscard]] Result<ListResult> list(ResourceId resource, const ListOptions& options);
  // Registers a watcher. resource_version "" or "0" starts now with
  // synthetic ADDED events; a number N replays the kept events after N, or
  // reports `expired` when events after N have been forgotten.
  [[nodiscard]] Result<WatchStart> watch(ResourceId resource, Selection selection, const std::string& resource_version);
  void unwatch(const std::shared_ptr<WatchQueue>& queue);

  // Stores (creates or replaces) every object of a List or a single object,
  // keeping uid and creationTimestamp. Returns how many were stored.
  [[nodiscard]] Result<std::size_t> seed(const nlohmann::json& document);

  std::uint64_t resource_version() const;
  // The resourceVersion up to which every event has been queued to every
  // watcher: what a bookmark may carry once a watcher's queue is empty.
  std::uint64_t published_resource_version() const { return published_.load(std::memory_order_acquire); }

  // Faults. drop/garbage reach only watchers that exist now.
  void drop_watches();
  void inject_garbage(bool close);
  void stop_watches();
  void compact();
  void jump(std::uint64_t by);  // compact, then move the counter ahead

  std::size_t open_watches() const;
  std::map<std::string, std::size_t> object_counts() const;

 private:
  struct ServiceAllocations {
    std::vector<std::uint32_t> cluster_ips;  // in the service range only
    std::vector<int> node_ports;
  };

  Result<ObjectPtr> create_locked(ResourceId resource, std::string_view namespace_name, nlohmann::json object,
                                  bool dry_run, bool seeding);
  Result<ObjectPtr> update_locked(ResourceId resource, const ObjectPtr& current, nlohmann::json object, bool dry_run);
  Result<ObjectPtr> remove_locked(ResourceId resource, const std::string& key, const nlohmann::json& delete_options,
                                  bool dry_run);
  void ensure_namespace_locked(std::string_view name);
  ObjectPtr find_locked(ResourceId resource, const std::string& key) const;
  // Stamps the next resourceVersion on object, stores it (or erases it for
  // Deleted), records the event and queues it to the watchers.
  ObjectPtr commit_locked(ResourceId resource, const std::string& key, EventType type, nlohmann::json object,
                          const ObjectPtr& previous);
  void prune_locked();
  // For a list at `snapshot`: the keys written since, mapped to their state
  // at snapshot (null: did not exist).
  std::map<std::string, ObjectPtr> snapshot_overrides_locked(ResourceId resource, std::uint64_t snapshot) const;

  // Service defaulting and ClusterIP / NodePort allocation.
  Result<void> prepare_service_locked(nlohmann::json& service, const nlohmann::json* old_service, bool seeding);
  ServiceAllocations allocations_of(const nlohmann::json& service) const;
  void reserve_locked(const ServiceAllocations& allocations);
  void release_locked(const ServiceAllocations& allocations);
  Result<std::uint32_t> allocate_cluster_ip_locked(const std::set<std::uint32_t>& taken_now);
  Result<int> allocate_node_port_locked(const std::set<int>& taken_now);

  const StoreOptions options_;
  mutable std::mutex mutex_;
  std::uint64_t resource_version_ = 0;
  // Events with a resourceVersion up to this one are forgotten.
  std::uint64_t compacted_ = 0;
  std::atomic<std::uint64_t> published_{0};
  std::vector<std::map<std::string, ObjectPtr>> objects_;  // by ResourceId, then key
  std::deque<EventPtr> history_;
  std::vector<std::shared_ptr<WatchQueue>> watchers_;
  std::unordered_set<std::uint32_t> used_cluster_ips_;
  std::unordered_set<int> used_node_ports_;
  std::uint32_t next_cluster_ip_ = 0;
  int next_node_port_ = 0;
};

}  // namespace kubenat::apiserver_sim
