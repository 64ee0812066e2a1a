#pragma once

// A ClusterListener that records every callback as a line of text (for exact
// comparisons) and keeps the resulting ClusterState (for content checks).
// Thread-safe; wait_for() lets integration tests wait for an event.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "rules/model.h"
#include "watch/cluster_listener.h"

namespace kubenat::testing {

inline std::string incident_name(WatchIncident incident) {
  switch (incident) {
    case WatchIncident::Reconnect:
      return "Reconnect";
    case WatchIncident::Relist:
      return "Relist";
    case WatchIncident::DecodeError:
      return "DecodeError";
    case WatchIncident::ServerUnreachable:
      return "ServerUnreachable";
  }
  return "?";
}

class RecordingListener final : public ClusterListener {
 public:
  void service_changed(const ObjectName& id, std::optional<Service> now) override {
    const std::lock_guard lock(mutex_);
    record("service " + id.to_string() + (now ? "" : " gone"));
    if (now) {
      state_.services[id] = std::move(*now);
    } else {
      state_.services.erase(id);
    }
  }

  void slice_changed(const ObjectName& service, const std::string& slice_name,
                     std::optional<EndpointSlice> now) override {
    const std::lock_guard lock(mutex_);
    record("slice " + service.to_string() + " " + slice_name + (now ? "" : " gone"));
    if (now) {
      state_.slices[service][slice_name] = std::move(*now);
    } else if (auto it = state_.slices.find(service); it != state_.slices.end()) {
      it->second.erase(slice_name);
      if (it->second.empty()) {
        state_.slices.erase(it);
      }
    }
  }

  void node_changed(const std::string& name, std::optional<Node> now) override {
    const std::lock_guard lock(mutex_);
    record("node " + name + (now ? "" : " gone"));
    if (now) {
      state_.nodes[name] = std::move(*now);
    } else {
      state_.nodes.erase(name);
    }
  }

  void synced(WatchedResource resource) override {
    const std::lock_guard lock(mutex_);
    record("synced " + std::string(watched_resource_name(resource)));
  }

  void diagnostics(const Diagnostics& diagnostics) override {
    const std::lock_guard lock(mutex_);
    for (const Diagnostic& diagnostic : diagnostics) {
      diagnostics_.push_back(diagnostic.to_string());
    }
    cond_.notify_all();
  }

  void incident(WatchedResource resource, WatchIncident incident, const std::string& detail) override {
    const std::lock_guard lock(mutex_);
    record("incident " + std::string(watched_resource_name(resource)) + " " + incident_name(incident));
    details_.push_back(detail);
  }

  std::vector<std::string> events() const {
    const std::lock_guard lock(mutex_);
    return events_;
  }
  // Events without incidents (whose number depends on timing).
  std::vector<std::string> changes() const {
    const std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const std::string& event : events_) {
      if (!event.starts_with("incident ")) {
        out.push_back(event);
      }
    }
    return out;
  }
  std::vector<std::string> diagnostics() const {
    const std::lock_guard lock(mutex_);
    return diagnostics_;
  }
  std::vector<std::string> incident_details() const {
    const std::lock_guard lock(mutex_);
    return details_;
  }
  ClusterState state() const {
    const std::lock_guard lock(mutex_);
    return state_;
  }
  std::size_t count(const std::string& event) const {
    const std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count(events_.begin(), events_.end(), event));
  }
  void clear() {
    const std::lock_guard lock(mutex_);
    events_.clear();
    diagnostics_.clear();
    details_.clear();
  }

  // Waits until `done` holds for the recorded events (checked after every
  // callback); false on timeout.
  bool wait_for(const std::function<bool(const std::vector<std::string>&)>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    std::unique_lock lock(mutex_);
    return cond_.wait_for(lock, timeout, [&] { return done(events_); });
  }
  // Waits until `event` has been recorded (at least `times` times).
  bool wait_for_event(const std::string& event, std::size_t times = 1,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    return wait_for(
        [&](const std::vector<std::string>& events) {
          return static_cast<std::size_t>(std::count(events.begin(), events.end(), event)) >= times;
        },
        timeout);
  }

 private:
  void record(std::string event) {
    events_.push_back(std::move(event));
    cond_.notify_all();
  }

  mutable std::mutex mutex_;
  mutable std::condition_variable cond_;
  std::vector<std::string> events_;
  std::vector<std::string> diagnostics_;
  std::vector<std::string> details_;
  ClusterState state_;
};

}  // namespace kubenat::testing
