#include "watch/cluster_listener.h"

namespace kubenat {

std::string_view watched_resource_name(WatchedResource resource) {
  switch (resource) {
    case WatchedResource::Services:
      return "services";
    case WatchedResource::EndpointSlices:
      return "endpointslices";
    case WatchedResource::Endpoints:
      return "endpoints";
    case WatchedResource::Nodes:
      return "nodes";
  }
  return "unknown";
}

}  // namespace kubenat
