#pragma once

// Random changes to a synthetic cluster held by the API server simulator,
// one at a time, through its API as controllers would make them: the churn
// of the soak scenario. Seeded, so a soak's sequence of changes is
// reproducible (its timing is not).
//
// The mix, of every change:
// - 78 % EndpointSlices: an endpoint added (on a random node, this one
//   included) or removed, 40 % each; an endpoint's conditions changed (ready,
//   not ready, terminating and serving or not), 20 %;
// - 20 % Services: one deleted with its slice, or one deleted before
//   created again (ClusterIP, with --endpoints endpoints), 35 % each; one
//   changed, 30 %: its session affinity switched, or ClusterIP made NodePort
//   and back (the simulator allocates the port);
// - 2 % Nodes: this node's labels (25 %; every Service is compiled again),
//   other Nodes created, relabelled or deleted (75 %; `kubenat run` watches
//   only its own Node, so these cost it nothing).
// At most a tenth of the Services are deleted at a time, and Services keep
// 0 to 60 endpoints, so the cluster stays the size asked for.

#include <cstdint>
#include <expected>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/synthetic_cluster.h"
#include "tools/apiserver_sim/apiserver_sim.h"

namespace kubenat::bench {

enum class ChangeKind {
  EndpointAdded,
  EndpointRemoved,
  EndpointConditionsChanged,
  ServiceDeleted,
  ServiceCreated,
  ServiceChanged,
  OwnNodeChanged,
  OtherNodeChanged,
};

inline constexpr ChangeKind kAllChangeKinds[] = {
    ChangeKind::EndpointAdded,  ChangeKind::EndpointRemoved,  ChangeKind::EndpointConditionsChanged,
    ChangeKind::ServiceDeleted, ChangeKind::ServiceCreated,   ChangeKind::ServiceChanged,
    ChangeKind::OwnNodeChanged, ChangeKind::OtherNodeChanged,
};

// "endpoint_added", ...: the keys of the report's JSON.
std::string_view change_kind_name(ChangeKind kind);

struct ChurnCounts {
  std::map<ChangeKind, std::uint64_t> by_kind;
  // Changes the simulator refused (each is retried as another change);
  // the first refusal's message.
  std::uint64_t refused = 0;
  std::string first_refusal;

  std::uint64_t total() const;
  std::uint64_t endpoints() const;  // the EndpointSlice changes
  std::uint64_t services() const;
  std::uint64_t nodes() const;
};

// The shares of change() in percent: EndpointSlices, Services, and Nodes
// for the rest. The soak's mix above by default.
struct ChurnMix {
  int endpoints = 78;
  int services = 20;
};

class ClusterChurn {
 public:
  // `spec` is the cluster the simulator was seeded with
  // (make_synthetic_cluster(spec)); `own_node` the daemon's node.
  ClusterChurn(apiserver_sim::ApiServerSim& sim, const SyntheticSpec& spec, std::string own_node, std::uint64_t seed,
               ChurnMix mix = {});

  // Makes one change and returns its kind. A change the simulator refuses
  // is counted and another one made instead; the error says why none could
  // be made after several tries.
  [[nodiscard]] std::expected<ChangeKind, std::string> change();

  // Creates a Service the cluster never held (numbered after all others,
  // ClusterIP, with its EndpointSlice of --endpoints endpoints), counted as
  // a ServiceCreated; later changes may pick it. The error says which write
  // the simulator refused.
  [[nodiscard]] std::expected<ObjectName, std::string> add_new_service();

  const ChurnCounts& counts() const { return counts_; }

 private:
  std::expected<ChangeKind, std::string> try_change();
  std::expected<ChangeKind, std::string> change_endpoints();
  std::expected<ChangeKind, std::string> change_services();
  std::expected<ChangeKind, std::string> change_nodes();
  std::expected<ChangeKind, std::string> delete_service();
  std::expected<ChangeKind, std::string> create_service();
  std::expected<ChangeKind, std::string> modify_service();
  // Creates Service `index` and its slice in the simulator.
  std::expected<ObjectName, std::string> create_with_slice(int index);
  int random_below(int bound);

  apiserver_sim::ApiServerSim& sim_;
  SyntheticSpec spec_;
  std::string own_node_;
  std::mt19937_64 rng_;
  ChurnMix mix_;
  int next_new_index_;  // add_new_service()'s next
  std::vector<int> present_;  // Service indexes in the cluster
  std::vector<int> deleted_;  // and out of it, to come back
  int node_ports_in_use_ = 0;
  std::vector<std::string> extra_nodes_;  // other Nodes this churn created
  std::uint64_t generation_ = 0;          // label values, node names
  ChurnCounts counts_;
};

}  // namespace kubenat::bench
