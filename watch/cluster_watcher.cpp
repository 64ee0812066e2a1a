#include "watch/cluster_watcher.h"

#include <system_error>
#include <thread>
#include <utility>


namespace kubenat {

struct ClusterWatcher::Worker {
  std::unique_ptr<ApiTransport> transport;
  InterruptibleSleeper sleeper;
  std::unique_ptr<Informer> informer;
  std::thread thread;
};

std::expected<std::unique_ptr<ClusterWatcher>, std::string> ClusterWatcher::start(
    const ApiServerConfig& config, ClusterListener& listener, const ClusterWatcherOptions& options) {
  // Fail now on what cannot work, rather than in three threads later.
  if (auto probe = ApiClient::create(config, options.client); !probe) {
    return std::unexpected(probe.error());
  }
  const TransportFactory make = [config, client = options.client]()
      -> std::expected<std::unique_ptr<ApiTransport>, std::string> {
    auto made = ApiClient::create(config, client);
    if (!made) {
      return std::unexpected(made.error());
    }
    return std::unique_ptr<ApiTransport>(std::move(*made));
  };
  return start(make, listener, options);
}

std::expected<std::unique_ptr<ClusterWatcher>, std::string> ClusterWatcher::start(
    const TransportFactory& make_transport, ClusterListener& listener, const ClusterWatcherOptions& options) {
  std::vector<InformerOptions> informers;
  InformerOptions services;
  services.resource = WatchedResource::Services;
  services.label_selector = options.label_selector;
  if (!options.service_proxy_name.empty()) {
    services.label_selector = service_proxy_label_selector(options.service_proxy_name);
    services.decode.service_proxy_name = options.service_proxy_name;
  }
  informers.push_back(services);

  InformerOptions endpoints = services;
  endpoints.resource = WatchedResource::EndpointSlices;
  endpoints.fall_back_to_endpoints = options.fall_back_to_endpoints;
  informers.push_back(endpoints);

  if (options.watch_nodes) {
    InformerOptions nodes;
    nodes.resource = WatchedResource::Nodes;
    if (options.only_own_node) {
      if (options.node_name.empty()) {
        return std::unexpected("watching only this node's Node needs the node name");
      }
      nodes.field_selector = "metadata.name=" + options.node_name;
    }
    informers.push_back(nodes);
  }

  std::unique_ptr<ClusterWatcher> watcher(new ClusterWatcher());
  for (InformerOptions& informer : informers) {
    informer.page_size = options.page_size;
    informer.watch_timeout_seconds = options.watch_timeout_seconds;
    informer.backoff = options.backoff;
    auto transport = make_transport();
    if (!transport) {
      return std::unexpected(transport.error());  // ~ClusterWatcher stops what started
    }
    auto worker = std::make_unique<Worker>();
    worker->transport = std::move(*transport);
    worker->informer = std::make_unique<Informer>(*worker->transport, listener, informer, worker->sleeper);
    watcher->workers_.push_back(std::move(worker));
  }
  try {
    for (auto& worker : watcher->workers_) {
      worker->thread = std::thread([informer = worker->informer.get()] { informer->run(); });
    }
  } catch (const std::system_error& error) {
    return std::unexpected(std::string("cannot start a watch thread: ") + error.what());
  }
  return watcher;
}

ClusterWatcher::~ClusterWatcher() { stop(); }

void ClusterWatcher::stop() {
  // Stop them all first, so that they wind down together.
  for (auto& worker : workers_) {
    worker->informer->stop();
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) {
      worker->thread.join();
    }
  }
}

}  // namespace kubenat
