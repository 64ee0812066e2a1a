// The baseline: what upstream kube-proxy's iptables mode hands to
// iptables-restore for the same plans. A partial sync rewrites every shared
// chain besides the changed services' chains; a full sync restores the
// whole plan without touching the built-in chains.

#include "bench/kube_proxy_baseline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "bench/bench_cluster.h"
#include "bench/synthetic_cluster.h"
#include "rules/iptables/change.h"
#include "rules/iptables/compiler.h"
#include "rules/iptables/render.h"

namespace kubenat::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

SyntheticSpec spec_for_baseline() {
  SyntheticSpec spec;
  spec.services = 60;
  spec.endpoints_per_service = 3;
  spec.nodes = 4;
  spec.node_port_share = 0.2;
  spec.load_balancer_share = 0.1;
  spec.affinity_share = 0.1;
  spec.seed = 7;
  return spec;
}

// A plan before and after one change to the cluster, and kubenat's own
// (minimal) change between them.
struct Transition {
  IptablesPlan before;
  IptablesPlan after;
  IptablesChange minimal;
};

template <typename Mutate>
Transition transition(Mutate mutate) {
  const SyntheticSpec spec = spec_for_baseline();
  const ProxyConfig config = bench_proxy_config();
  ClusterState state = make_synthetic_cluster(spec);
  Transition t;
  t.before = compile_iptables(state, config).plan;
  const std::set<ObjectName> touched = mutate(state, spec);
  t.after = t.before;
  auto ports = recompile_services(t.after, state, config, touched);
  EXPECT_TRUE(ports.has_value());
  t.minimal = ports ? diff_iptables(t.before, t.after, *ports) : diff_iptables(t.before, t.after);
  return t;
}

Transition one_endpoint_added() {
  return transition([](ClusterState& state, const SyntheticSpec& spec) {
    return std::set<ObjectName>{add_endpoint_for_run(state, spec, 0, last_in_kube_services(state))};
  });
}

Transition one_service_added() {
  return transition([](ClusterState& state, const SyntheticSpec& spec) {
    return std::set<ObjectName>{add_service_for_run(state, spec, 0)};
  });
}

Transition one_service_removed() {
  return transition([](ClusterState& state, const SyntheticSpec&) {
    const ObjectName gone = synthetic_service_name(5);
    state.services.erase(gone);
    state.slices.erase(gone);
    return std::set<ObjectName>{gone};
  });
}

using ChainKey = std::pair<IptablesTable, std::string>;

std::map<ChainKey, int> write_counts(const IptablesChange& change) {
  std::map<ChainKey, int> counts;
  for (const ChainWrite& write : change.writes) ++counts[{write.table, write.chain.name.str()}];
  return counts;
}

const ChainWrite* find_write(const IptablesChange& change, IptablesTable table, std::string_view name) {
  for (const ChainWrite& write : change.writes) {
    if (write.table == table && write.chain.name == name) return &write;
  }
  return nullptr;
}

int count_lines_starting(const std::string& text, std::string_view prefix) {
  int count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) count += line.starts_with(prefix);
  return count;
}

// --- partial sync ---

TEST(KubeProxyPartialChange, WritesEverySharedChainOfThePlan) {
  const Transition t = one_endpoint_added();
  const IptablesChange change = kube_proxy_partial_change(t.after, t.minimal);
  for (const SharedChain& shared : t.after.shared_chains) {
    const ChainWrite* write = find_write(change, shared.table, shared.name);
    ASSERT_NE(write, nullptr) << table_name(shared.table) << " " << shared.name;
    EXPECT_EQ(write->chain, t.after.assemble(shared)) << shared.name;
  }
}

TEST(KubeProxyPartialChange, KeepsTheMinimalChangesWritesFirstAndInOrder) {
  const Transition t = one_endpoint_added();
  ASSERT_FALSE(t.minimal.writes.empty());
  const IptablesChange change = kube_proxy_partial_change(t.after, t.minimal);
  ASSERT_GE(change.writes.size(), t.minimal.writes.size());
  for (std::size_t i = 0; i < t.minimal.writes.size(); ++i) {
    EXPECT_EQ(change.writes[i], t.minimal.writes[i]) << i;
  }
}

TEST(KubeProxyPartialChange, KeepsTheMinimalChangesDeletesAndChangedPorts) {
  const Transition t = one_service_removed();
  ASSERT_FALSE(t.minimal.deletes.empty());
  const IptablesChange change = kube_proxy_partial_change(t.after, t.minimal);
  EXPECT_EQ(change.deletes, t.minimal.deletes);
  EXPECT_EQ(change.changed_service_ports, t.minimal.changed_service_ports);
  EXPECT_EQ(change.family, t.minimal.family);
}

TEST(KubeProxyPartialChange, WritesOnlyTheMinimalChangePlusSharedChains) {
  const Transition t = one_endpoint_added();
  const IptablesChange change = kube_proxy_partial_change(t.after, t.minimal);
  std::set<ChainKey> expected;
  for (const ChainWrite& write : t.minimal.writes) expected.insert({write.table, write.chain.name.str()});
  for (const SharedChain& shared : t.after.shared_chains) expected.insert({shared.table, shared.name});
  EXPECT_EQ(change.writes.size(), expected.size());
  for (const ChainWrite& write : change.writes) {
    EXPECT_TRUE(expected.contains({write.table, write.chain.name.str()})) << write.chain.name;
  }
}

TEST(KubeProxyPartialChange, DoesNotDuplicateASharedChainTheMinimalChangeWrites) {
  // A new Service adds its rule to KUBE-SERVICES: the minimal change with
  // the shared chains rewritten (not edited in place) already writes it.
  const Transition t = one_service_added();
  const IptablesChange minimal = diff_iptables(t.before, t.after, {.edit_shared_chains_in_place = false});
  ASSERT_NE(find_write(minimal, IptablesTable::Nat, "KUBE-SERVICES"), nullptr);
  const IptablesChange change = kube_proxy_partial_change(t.after, minimal);
  for (const auto& [key, count] : write_counts(change)) {
    EXPECT_EQ(count, 1) << table_name(key.first) << " " << key.second;
  }
}

TEST(KubeProxyPartialChange, WritesEverySharedChainEvenWhenNothingChanged) {
  const Transition t = transition([](ClusterState&, const SyntheticSpec&) { return std::set<ObjectName>{}; });
  ASSERT_TRUE(t.minimal.empty());
  const IptablesChange change = kube_proxy_partial_change(t.after, t.minimal);
  EXPECT_EQ(change.writes.size(), t.after.shared_chains.size());
}

TEST(KubeProxyPartialChange, WritesMoreThanTheMinimalChange) {
  const Transition t = one_endpoint_added();
  const IptablesChange change = kube_proxy_partial_change(t.after, t.minimal);
  EXPECT_GT(change.writes.size(), t.minimal.writes.size());
  // The filter table is rewritten whole although the endpoint change touched
  // nat only.
  EXPECT_NE(find_write(change, IptablesTable::Filter, "KUBE-SERVICES"), nullptr);
  EXPECT_EQ(find_write(t.minimal, IptablesTable::Filter, "KUBE-SERVICES"), nullptr);
}

TEST(KubeProxyPartialPayload, IsOneRestoreInputOfThePartialChange) {
  const Transition t = one_endpoint_added();
  const std::vector<std::string> rendered = render_iptables_change(kube_proxy_partial_change(t.after, t.minimal), 0);
  ASSERT_EQ(rendered.size(), 1u);
  EXPECT_EQ(kube_proxy_partial_payload(t.after, t.minimal), rendered[0]);
}

TEST(KubeProxyPartialPayload, HasOneSectionPerTableEachCommitted) {
  const Transition t = one_endpoint_added();
  const std::string payload = kube_proxy_partial_payload(t.after, t.minimal);
  EXPECT_EQ(count_lines_starting(payload, "*filter"), 1);
  EXPECT_EQ(count_lines_starting(payload, "*nat"), 1);
  EXPECT_EQ(count_lines_starting(payload, "COMMIT"), 2);
  EXPECT_TRUE(payload.ends_with("COMMIT\n"));
}

TEST(KubeProxyPartialPayload, DeclaresEverySharedChainAndTheChangedChains) {
  const Transition t = one_endpoint_added();
  const std::string payload = kube_proxy_partial_payload(t.after, t.minimal);
  for (const SharedChain& shared : t.after.shared_chains) {
    EXPECT_THAT(payload, HasSubstr(":" + shared.name + " - [0:0]\n"));
  }
  for (const ChainWrite& write : t.minimal.writes) {
    EXPECT_THAT(payload, HasSubstr(":" + write.chain.name.str() + " - [0:0]\n"));
  }
}

TEST(KubeProxyPartialPayload, CarriesTheDeletesOfARemovedService) {
  const Transition t = one_service_removed();
  const std::string payload = kube_proxy_partial_payload(t.after, t.minimal);
  ASSERT_FALSE(t.minimal.deletes.empty());
  for (const ChainDelete& del : t.minimal.deletes) EXPECT_THAT(payload, HasSubstr("-X " + del.name.str() + "\n"));
}

TEST(KubeProxyPartialPayload, TouchesNoBuiltInChain) {
  const Transition t = one_service_added();
  const std::string payload = kube_proxy_partial_payload(t.after, t.minimal);
  for (std::string_view builtin : {"-A PREROUTING ", "-A INPUT ", "-A FORWARD ", "-A OUTPUT ", "-A POSTROUTING "}) {
    EXPECT_EQ(count_lines_starting(payload, builtin), 0) << builtin;
  }
}

// --- full sync ---

TEST(KubeProxyFullPayload, HasNoJumpsFromBuiltInChains) {
  const IptablesPlan plan = compile_iptables(make_synthetic_cluster(spec_for_baseline()), bench_proxy_config()).plan;
  ASSERT_FALSE(plan.jumps.empty());
  const std::string payload = kube_proxy_full_payload(plan);
  for (std::string_view builtin : {"-A PREROUTING ", "-A INPUT ", "-A FORWARD ", "-A OUTPUT ", "-A POSTROUTING "}) {
    EXPECT_EQ(count_lines_starting(payload, builtin), 0) << builtin;
  }
}

TEST(KubeProxyFullPayload, LeavesOutOnlyTheJumps) {
  const IptablesPlan plan = compile_iptables(make_synthetic_cluster(spec_for_baseline()), bench_proxy_config()).plan;
  const std::string with_jumps = render_iptables_restore(plan);
  const std::string payload = kube_proxy_full_payload(plan);
  EXPECT_EQ(with_jumps.size() - payload.size(), [&] {
    std::size_t bytes = 0;
    for (const JumpRule& jump : plan.jumps) bytes += 3 + jump.chain.size() + 1 + jump.rule.size() + 1;
    return bytes;
  }());
  EXPECT_EQ(count_lines_starting(with_jumps, "-A PREROUTING "), 1);
}

TEST(KubeProxyFullPayload, HasEveryServicesRuleInKubeServices) {
  const SyntheticSpec spec = spec_for_baseline();
  const IptablesPlan plan = compile_iptables(make_synthetic_cluster(spec), bench_proxy_config()).plan;
  const std::string payload = kube_proxy_full_payload(plan);
  EXPECT_GE(count_lines_starting(payload, "-A KUBE-SERVICES "), spec.services);
  EXPECT_THAT(payload, HasSubstr("\"ns0/svc0:http cluster IP\""));
  EXPECT_THAT(payload, HasSubstr("-A KUBE-SVC-"));
  EXPECT_THAT(payload, HasSubstr("-A KUBE-SEP-"));
}

TEST(KubeProxyFullPayload, CommitsEachTable) {
  const IptablesPlan plan = compile_iptables(make_synthetic_cluster(spec_for_baseline()), bench_proxy_config()).plan;
  const std::string payload = kube_proxy_full_payload(plan);
  EXPECT_TRUE(payload.starts_with("*filter\n"));
  EXPECT_EQ(count_lines_starting(payload, "*filter"), 1);
  EXPECT_EQ(count_lines_starting(payload, "*nat"), 1);
  EXPECT_EQ(count_lines_starting(payload, "COMMIT"), 2);
  EXPECT_LT(payload.find("COMMIT\n"), payload.find("*nat\n"));
  EXPECT_TRUE(payload.ends_with("COMMIT\n"));
}

TEST(KubeProxyFullPayload, DeclaresEveryChainOfThePlan) {
  const IptablesPlan plan = compile_iptables(make_synthetic_cluster(spec_for_baseline()), bench_proxy_config()).plan;
  const std::string payload = kube_proxy_full_payload(plan);
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    for (const IptablesChain& chain : plan.chains(table)) {
      EXPECT_THAT(payload, HasSubstr(":" + chain.name.str() + " - [0:0]\n"));
    }
  }
}

}  // namespace
}  // namespace kubenat::bench
