#pragma once

// The cluster a bench cell works on and the changes its runs make: a
// synthetic cluster (bench/synthetic_cluster.h) shaped by the flags, with
// the data plane's pod as the one endpoint of the Service that iptables
// finds last.

#include <string>

#include "bench/bench_options.h"
#include "bench/synthetic_cluster.h"
#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat::bench {

SyntheticSpec synthetic_spec(const BenchOptions& options, int services);

// The node every cell compiles for: node-0 at the data plane's node address,
// cluster CIDR 10.0.0.0/8 (which holds the synthetic endpoints and the pod).
ProxyConfig bench_proxy_config();

// The Service whose cluster-IP rule stands last in KUBE-SERVICES: a new
// connection to it is matched against every other Service's rule first, the
// worst case for iptables. The compiler orders KUBE-SERVICES by service
// port name, and every synthetic Service has one port with endpoints.
ObjectName last_in_kube_services(const ClusterState& state);

// Replaces `service`'s endpoints with one: `pod_ip` on node-0, port 8080.
void route_to_pod(ClusterState& state, const ObjectName& service, const std::string& pod_ip);

// Run `run`'s one-endpoint change: one more endpoint for a Service, a
// different one each run (spread over the table, never `spare`, which
// keeps its endpoints). Returns the Service changed.
ObjectName add_endpoint_for_run(ClusterState& state, const SyntheticSpec& spec, int run, const ObjectName& spare);

// Run `run`'s one-service add: a new ClusterIP Service numbered after the
// cluster's own, with its endpoints. Returns it.
ObjectName add_service_for_run(ClusterState& state, const SyntheticSpec& spec, int run);

}  // namespace kubenat::bench
