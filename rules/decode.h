#pragma once

// Decoding of single Kubernetes API objects (as a JsonTree's value, or an
// nlohmann::json document, which is copied into a tree first) into the
// model. The same functions serve a whole snapshot (rules/snapshot.h) and the
// API-server watch, so each works on one object and never throws: bad data
// becomes a Diagnostic, and the smallest enclosing part (a list entry, a
// port, an endpoint, or the whole object) is skipped.
//
// Every Diagnostic names the object ("Service ns1/svc1", "EndpointSlice
// ns1/svc1-abcde", "Endpoints ns1/svc1", "Node worker-1") and the field path
// ("spec.ports[1].protocol"), quotes the bad value JSON-escaped and shortened
// to about 64 characters, and ends with what was skipped ("service skipped",
// "port skipped", "entry skipped", "endpoint skipped", "field ignored", ...).
//
// Names that end up in rule comments (namespaces, object names, port names,
// the service-name label) are checked against the Kubernetes name syntax, so
// a quote, space or newline can never reach iptables-restore input. More
// generally, what the API server's validation refuses in the fields
// kube-proxy reads is refused here too (rules/kubernetes_validation.h), since
// objects may come from somewhere less strict than the API server (a
// snapshot, an older server): the decoder never hands a rule what the API
// server would never have stored.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/diagnostic.h"
#include "rules/json_tree.h"
#include "rules/model.h"
#include "rules/shared_text.h"

namespace kubenat {

template <class T>
struct [[nodiscard]] Decoded {
  // Empty when the object was skipped: because it is invalid (diagnostics
  // say why) or because kube-proxy deliberately ignores it (ignored_reason).
  std::optional<T> value;
  Diagnostics diagnostics;
  // Set, with value empty and no diagnostic, for objects kube-proxy filters
  // out on purpose: its informers select only objects without the labels
  // service.kubernetes.io/service-proxy-name and service.kubernetes.io/headless.
  std::string ignored_reason;
};

struct DecodeOptions {
  // Empty: kube-proxy's choice, objects labelled
  // service.kubernetes.io/service-proxy-name belong to another proxy and are
  // ignored. Set: kubenat is the service proxy of this name (serviceProxyName)
  // and takes only the objects whose label has exactly this value; unlabelled
  // ones are ignored. Headless ones are ignored either way.
  std::string service_proxy_name;
  // Where endpoints' node names and zones are interned, so that equal names
  // share one block (rules/shared_text.h); null: each endpoint holds its own.
  // The pool belongs to the caller and must not be used by two threads at once.
  SharedTextPool* texts = nullptr;
};

// A Kubernetes label value: empty, or at most 63 characters, alphanumeric at
// both ends with '-', '_' and '.' inside.
[[nodiscard]] bool is_valid_label_value(std::string_view text);

// A v1 Service. ExternalName Services come back with only id and type set:
// kube-proxy never reads their other fields, so neither do we. Headless
// Services (clusterIP "None" or empty) come back with cluster_ips empty.
Decoded<Service> decode_service(const JsonValue& object, const DecodeOptions& options = {});
Decoded<Service> decode_service(const nlohmann::json& object, const DecodeOptions& options = {});

// A discovery.k8s.io/v1 (or v1beta1) EndpointSlice. FQDN slices keep their
// ports but no endpoints: kube-proxy ignores FQDN addresses.
Decoded<EndpointSlice> decode_endpoint_slice(const JsonValue& object, const DecodeOptions& options = {});
Decoded<EndpointSlice> decode_endpoint_slice(const nlohmann::json& object, const DecodeOptions& options = {});

// A v1 Endpoints object, converted to EndpointSlices (from_endpoints_v1 set),
// one per subset and address family, named "<endpoints name>/subset-<i>-ipv4"
// or "-ipv6". The '/' keeps these names apart from real slice names, which
// are DNS subdomains. addresses become ready endpoints, notReadyAddresses
// endpoints with ready and serving false. Subsets without addresses produce no
// slice, so the value may be an empty vector.
Decoded<std::vector<EndpointSlice>> decode_endpoints_v1(const JsonValue& object, const DecodeOptions& options = {});
Decoded<std::vector<EndpointSlice>> decode_endpoints_v1(const nlohmann::json& object,
                                                       const DecodeOptions& options = {});

// A v1 Node: name, labels, status.addresses and spec.podCIDRs (or podCIDR).
Decoded<Node> decode_node(const JsonValue& object);
Decoded<Node> decode_node(const nlohmann::json& object);

}  // namespace kubenat
