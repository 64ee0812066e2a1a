#pragma once

// The model back into Kubernetes objects: the inverse of rules/decode.h, for
// handing a cluster to something that reads what the API server serves
// (`kubenat apply --snapshot`, the API server simulator). Only the fields
// kubenat reads are written.

#include <nlohmann/json_fwd.hpp>

#include "rules/model.h"

namespace kubenat {

// A v1 Service, discovery.k8s.io/v1 EndpointSlice and v1 Node.
nlohmann::json encode_service(const Service& service);
nlohmann::json encode_slice(const EndpointSlice& slice);
nlohmann::json encode_node(const Node& node);

// Every object of the state as a v1 List, as `kubectl get
// services,endpointslices,nodes -A -o json` prints it: read_snapshot() of
// its text gives the state back (slices that came from v1 Endpoints come
// back as EndpointSlices).
nlohmann::json encode_cluster(const ClusterState& state);

}  // namespace kubenat
