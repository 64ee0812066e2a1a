#pragma once

// What the watch reports: decoded objects as they are added, changed and
// deleted, and when each resource has been listed in full. The engine's sync
// loop implements this; tests record it.

#include <optional>
#include <string>

#include "rules/diagnostic.h"
#include "rules/model.h"

namespace kubenat {

enum class WatchedResource { Services, EndpointSlices, Endpoints, Nodes };
std::string_view watched_resource_name(WatchedResource resource);  // "services", "endpointslices", ...

// Counts the sync loop exports as metrics.
enum class WatchIncident {
  Reconnect,        // a watch stream ended or failed and is being reopened
  Relist,           // a full LIST was needed again (410 Gone, or a watch ERROR)
  DecodeError,      // an event or object that could not be decoded was skipped
  ServerUnreachable,  // a request could not reach the API server
};

// Callbacks come from the watch's own threads, one resource at a time per
// thread; implementations synchronise as they need.
class ClusterListener {
 public:
  virtual ~ClusterListener() = default;

  // The Service now, or nullopt when it was deleted, or is now one that
  // kube-proxy ignores (headless, service-proxy-name label), or no longer
  // decodes (the object was skipped; see diagnostics()).
  virtual void service_changed(const ObjectName& id, std::optional<Service> now) = 0;
  // An EndpointSlice (or a converted v1 Endpoints) of Service `service`,
  // named `slice_name`; nullopt when deleted.
  virtual void slice_changed(const ObjectName& service, const std::string& slice_name,
                             std::optional<EndpointSlice> now) = 0;
  virtual void node_changed(const std::string& name, std::optional<Node> now) = 0;

  // The resource has been listed completely (the first time, and again after
  // every relist): the listener holds all of it now.
  virtual void synced(WatchedResource resource) = 0;

  // Problems with objects (skipped) and with the connection (for metrics and
  // logs). Never fatal.
  virtual void diagnostics(const Diagnostics& diagnostics) = 0;
  virtual void incident(WatchedResource resource, WatchIncident incident, const std::string& detail) = 0;
};

}  // namespace kubenat
