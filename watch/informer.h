#pragma once

// List and watch one resource (Services, EndpointSlices or v1 Endpoints,
// Nodes), as client-go's reflector does, and report what changes to a
// ClusterListener:
//
//   LIST    paginated (limit, continue), then synced(resource); on a relist,
//           objects that vanished meanwhile are reported deleted and objects
//           whose resourceVersion did not change are not reported again.
//   WATCH   from the list's resourceVersion, with bookmarks; ADDED and
//           MODIFIED report the decoded object, DELETED reports nullopt.
//   410     (an ERROR event or HTTP status, "Expired" or "Gone"): relist at
//           once (WatchIncident::Relist), or after a backoff delay when no
//           event arrived since the last list (a server that cannot keep its
//           history would otherwise be listed in a loop). Any other ERROR
//           event: relist after a backoff delay.
//   failure a dropped or failed watch is resumed from the last resourceVersion
//           seen (event or bookmark) after a jittered exponential backoff
//           (WatchIncident::Reconnect; ServerUnreachable when no connection
//           could be made); a watch line that is not an event is skipped
//           (WatchIncident::DecodeError) and the watch resumed the same way,
//           since the stream it came from can no longer be trusted. A watch
//           the server ends normally is reopened at once, unless it ended
//           within a second without any event (then as after a failure).
//
// Objects that do not decode. The API server validates every object, so an
// object rules/decode rejects means kubenat and the server disagree (a field
// kubenat does not understand yet, a stricter check). The object is reported
// as gone (nullopt) with the decoder's diagnostics and a DecodeError
// incident, rather than keeping its last good version: the stale version is
// known to be wrong (its author changed it), while the rules of every other
// Service stay intact, and the diagnostics say exactly what was dropped. The
// same holds for objects kube-proxy deliberately ignores (ignored_reason):
// reported as nullopt if they were reported before, without a diagnostic.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/decode.h"
#include "watch/api_transport.h"
#include "watch/backoff.h"
#include "watch/cluster_listener.h"
#include "watch/known_objects.h"

namespace kubenat {

// kube-proxy's selection for Services, EndpointSlices and Endpoints: objects
// another proxy handles and headless Services' endpoints are not watched.
inline constexpr std::string_view kKubeProxyLabelSelector =
    "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";

// The selection of the service proxy named `service_proxy_name`: the objects
// labelled service.kubernetes.io/service-proxy-name=<name> that are not
// headless; kKubeProxyLabelSelector when the name is empty.
[[nodiscard]] std::string service_proxy_label_selector(std::string_view service_proxy_name);

struct InformerOptions {
  WatchedResource resource = WatchedResource::Services;
  // For EndpointSlices: ask /apis/discovery.k8s.io/v1 first, and watch v1
  // Endpoints instead when the server does not serve EndpointSlices.
  bool fall_back_to_endpoints = true;
  std::string label_selector;  // as written ("a,!b"); URL-encoded here. Empty: all objects.
  // How objects are decoded; its service_proxy_name must agree with
  // label_selector (service_proxy_label_selector()), or every object the
  // selector lets through is ignored.
  DecodeOptions decode;
  std::string field_selector;  // "metadata.name=worker-1"; empty: all objects
  int page_size = 500;
  int watch_timeout_seconds = 300;  // the server ends each watch after this; it is then reopened
  // A watch the server ends normally sooner than this without a single event
  // is treated as a failure (Reconnect, after a backoff delay).
  std::chrono::milliseconds short_watch = std::chrono::seconds(1);
  BackoffPolicy backoff;
  std::uint64_t backoff_seed = 0;  // 0: random
};

// The API path of a resource's collection: "/api/v1/services", ...
std::string_view collection_path(WatchedResource resource);

// Percent-encodes everything but RFC 3986's unreserved characters.
[[nodiscard]] std::string url_encode(std::string_view text);

class Informer {
 public:
  // `transport`, `listener` and `sleeper` must outlive the informer.
  Informer(ApiTransport& transport, ClusterListener& listener, InformerOptions options, Sleeper& sleeper);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Lists and watches until stop(); blocks the calling thread. Never throws:
  // everything that goes wrong is reported to the listener and retried (an
  // exception out of the listener itself included: the informer relists).
  void run();

  // Any thread: makes run() return promptly, by cancelling the sleeper and
  // aborting the transport. Final.
  void stop();

  // What run() watches: options.resource, or Endpoints once discovery found
  // no EndpointSlices. Only meaningful on the thread that calls run().
  WatchedResource resource() const { return resource_; }

 private:
  struct Update;
  enum class WatchEnd;

  [[nodiscard]] bool discover();
  [[nodiscard]] bool list();
  [[nodiscard]] WatchEnd watch();
  WatchEnd handle_event(std::string_view line, bool& any_event);
  [[nodiscard]] WatchEnd relist_now_or_later() const;

  Update decode(const JsonValue& object, std::string key, std::string resource_version) const;
  void apply(Update update);
  void forget(const std::string& key);
  void report_gone(const ReportedObject& reported);
  void report_incident(WatchIncident incident, const std::string& detail);
  [[nodiscard]] bool pause();  // a backoff delay; false once stopped
  [[nodiscard]] std::string query(bool watch, const std::string& continue_token) const;

  ApiTransport& transport_;
  ClusterListener& listener_;
  InformerOptions options_;
  Sleeper& sleeper_;
  Backoff backoff_;
  WatchedResource resource_;
  std::atomic<bool> stopped_{false};
  // Where decoded endpoints' node names and zones are interned
  // (options_.decode.texts): a million endpoints name a few thousand nodes.
  SharedTextPool texts_;

  KnownObjects known_;                  // by "namespace/name" (Nodes: name)
  std::string resource_version_;        // where the next watch starts
  bool events_since_list_ = false;      // a watch event or bookmark arrived since the last list
  // The listener may have missed reports (it threw): the next list reports
  // every object, changed or not.
  bool report_all_ = false;
};

}  // namespace kubenat
