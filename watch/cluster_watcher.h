#pragma once

// Everything kubenat watches, on its own threads: one informer (informer.h)
// per resource, each with its own connection to the API server, reporting to
// one ClusterListener.
//
//   services        /api/v1/services, kube-proxy's label selector (or a
//                   named proxy's: service_proxy_name)
//   endpoints       /apis/discovery.k8s.io/v1/endpointslices, same selector;
//                   v1 Endpoints when the server does not serve EndpointSlices
//                   (synced(Endpoints) is then reported instead of
//                   synced(EndpointSlices))
//   nodes           /api/v1/nodes: all of them (pod-CIDR routes need every
//                   node), or only this node's (a proxy alone needs only its
//                   own labels and addresses)
//
// Never throws once started and logs nothing: every problem goes to the
// listener (diagnostics(), incident()) and is retried.

#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "watch/api_client.h"
#include "watch/api_config.h"
#include "watch/api_transport.h"
#include "watch/backoff.h"
#include "watch/cluster_listener.h"
#include "watch/informer.h"

namespace kubenat {

struct ClusterWatcherOptions {
  // Applied to Services, EndpointSlices and Endpoints; empty watches all.
  std::string label_selector = std::string(kKubeProxyLabelSelector);
  // Non-empty: be the service proxy of this name (serviceProxyName): watch
  // service_proxy_label_selector(name) instead of label_selector, and take
  // exactly the objects labelled with the name (DecodeOptions).
  std::string service_proxy_name;
  bool watch_nodes = true;
  // Watch only the Node named node_name (fieldSelector metadata.name=...).
  bool only_own_node = false;
  std::string node_name;
  bool fall_back_to_endpoints = true;
  int page_size = 500;
  int watch_timeout_seconds = 300;
  BackoffPolicy backoff;
  ApiClientOptions client;
};

// Makes one transport per informer (each informer thread owns its own).
using TransportFactory = std::function<std::expected<std::unique_ptr<ApiTransport>, std::string>()>;

class ClusterWatcher {
 public:
  // Starts the informer threads against the server of `config`. Errors are
  // for configurations that cannot work (a bad URL, CA, certificate or key)
  // and for threads that cannot be started; an unreachable server is not an
  // error but incidents, while the informers keep trying. `listener` must
  // outlive the watcher (or its stop()).
  [[nodiscard]] static std::expected<std::unique_ptr<ClusterWatcher>, std::string> start(
      const ApiServerConfig& config, ClusterListener& listener, const ClusterWatcherOptions& options = {});
  // The same over transports from `make_transport` (tests use fakes).
  [[nodiscard]] static std::expected<std::unique_ptr<ClusterWatcher>, std::string> start(
      const TransportFactory& make_transport, ClusterListener& listener, const ClusterWatcherOptions& options = {});

  ~ClusterWatcher();  // stop()
  ClusterWatcher(const ClusterWatcher&) = delete;
  ClusterWatcher& operator=(const ClusterWatcher&) = delete;

  // Aborts every request in progress and joins the threads: returns within
  // about a second whatever the server does. No callback follows its return.
  // Idempotent.
  void stop();

 private:
  struct Worker;
  ClusterWatcher() = default;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace kubenat
