#pragma once

// A whole cluster read from text, for `kubenat plan` and tests: what
// `kubectl get services,endpointslices,nodes -A -o json` (or -o yaml) prints.

#include <expected>
#include <string>
#include <string_view>

#include "rules/diagnostic.h"
#include "rules/model.h"

namespace kubenat {

struct Snapshot {
  ClusterState state;
  // Objects, fields and list items that were skipped, and why.
  Diagnostics diagnostics;
};

// Reads JSON, or YAML (one or more "---" separated documents). Each document
// is a Kubernetes object or a list of them: kind List, or a typed list such as
// ServiceList or EndpointSliceList, whose items may omit their kind (as the
// API server's list responses do).
//
// Used kinds: Service (v1), EndpointSlice (discovery.k8s.io/v1 and v1beta1),
// Endpoints (v1, converted to slices) and Node (v1). Other kinds, and these
// kind names in other API groups (a Knative Service, say), are skipped
// silently; a list item without a kind is skipped with a diagnostic. Objects
// the decoder rejects are skipped with its diagnostics (rules/decode.h); those
// kube-proxy ignores on purpose are skipped silently. A slice whose Service is
// missing is kept. When the same object (kind, namespace, name) appears
// twice, the later copy that decodes replaces the earlier one, with a
// diagnostic.
//
// Returns a one-line error only when the text is not JSON or YAML at all, or
// holds no Kubernetes object or list ("snapshot: not JSON or YAML: ...",
// "snapshot: not a Kubernetes object or list: ...", "snapshot: empty input").
[[nodiscard]] std::expected<Snapshot, std::string> read_snapshot(std::string_view text);

}  // namespace kubenat
