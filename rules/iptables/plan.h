#pragma once

// The iptables rule plan: what the filter and nat tables must hold for one IP
// family. Built by compile_iptables (rules/iptables/compiler.h), rendered by
// rules/iptables/render.h and rules/iptables/plan_json.h, compared by the diff.
//
// The plan is split the way it changes. Each service port owns a fragment:
// its KUBE-SVC/SVL/EXT/FW/SEP chains, plus the rules it contributes to the
// shared chains (KUBE-SERVICES, KUBE-NODEPORTS, ...). The shared chains are
// fixed rules around those contributions. One changed Service therefore
// changes one fragment, which can be recompiled and compared alone.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/conntrack_cleanup.h"
#include "rules/ip.h"
#include "rules/iptables/chain_name.h"
#include "rules/model.h"

namespace kubenat {

enum class IptablesTable : std::uint8_t { Filter, Nat };
std::string_view table_name(IptablesTable table);  // "filter", "nat"

// A chain and its rules. The rules are kept as the iptables-restore lines
// that write them, "-A <name> <rule>\n" each, in order: one string per chain
// keeps a hundred thousand chains cheap to build, compare and render.
struct IptablesChain {
  ChainName name;
  std::string lines;

  // Appends "-A <name> <rule>\n". A rule is the text after "-A <chain> ",
  // exactly as kube-proxy writes it.
  void append(std::string_view rule);
  // The rules without the "-A <name> " prefix, in order.
  std::vector<std::string> rules() const;
  bool empty() const { return lines.empty(); }

  bool operator==(const IptablesChain&) const = default;
};

// A rule a service port adds to one of the shared chains.
struct SharedRule {
  IptablesTable table = IptablesTable::Nat;
  std::string chain;
  std::string rule;
  bool operator==(const SharedRule&) const = default;
};

// One chain a service port owns: its name and where its lines stand in the
// service port's text.
struct OwnedChain {
  ChainName name;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  bool operator==(const OwnedChain&) const = default;
};

struct ServicePortRules {
  std::vector<SharedRule> shared_rules;  // in kube-proxy's order
  // The lines of every chain the port owns (KUBE-SVC/SVL/EXT/FW/SEP), in one
  // string: a port with a hundred endpoints is one allocation, not a
  // hundred. `chains`, sorted by name, says which lines are whose.
  std::string text;
  std::vector<OwnedChain> chains;
  // Set for UDP ports only.
  std::optional<UdpFlowTargets> udp;
  // The port's endpoints, counted as kube-proxy counts them towards its
  // large-cluster threshold (all of them, whatever their conditions).
  std::size_t endpoint_count = 0;
  // Its rules in each table (by IptablesTable): its chains' and its shared
  // rules.
  std::array<std::uint32_t, 2> rule_counts{};

  std::string_view lines(const OwnedChain& chain) const {
    return std::string_view(text).substr(chain.begin, chain.end - chain.begin);
  }
  // The chain's own IptablesChain (a copy), or nullopt when not owned.
  std::optional<IptablesChain> find(std::string_view name) const;

  bool operator==(const ServicePortRules&) const = default;
};

// A chain kubenat always has. Its content is `head`, then the service ports'
// shared rules for it (in service-port order), then `tail`.
struct SharedChain {
  IptablesTable table = IptablesTable::Nat;
  std::string name;
  std::vector<std::string> head;
  std::vector<std::string> tail;
  bool operator==(const SharedChain&) const = default;
};

// A rule in a built-in chain (INPUT, PREROUTING, ...) that jumps to one of
// ours. These are ensured one by one, never restored wholesale, because the
// built-in chains hold other people's rules.
struct JumpRule {
  IptablesTable table = IptablesTable::Filter;
  std::string chain;  // the built-in chain
  std::string rule;   // "... -j KUBE-..."
  bool operator==(const JumpRule&) const = default;
};

struct IptablesPlan {
  IpFamily family = IpFamily::V4;
  // In the order they stand at the top of each built-in chain.
  std::vector<JumpRule> jumps;
  // In declaration order: filter chains first, then nat.
  std::vector<SharedChain> shared_chains;
  // Shared, immutable fragments: copying a plan copies pointers, so the
  // applied plan and the next one share every fragment that did not change.
  std::map<ServicePortName, std::shared_ptr<const ServicePortRules>> service_ports;
  // Endpoints counted over all service ports; above the configured threshold
  // the plan was compiled in large-cluster mode (no per-endpoint comments).
  std::size_t total_endpoints = 0;
  bool large_cluster_mode = false;
  // The service ports' rules in each table (by IptablesTable), summed like
  // total_endpoints, so that counting the plan's rules costs no walk.
  std::array<std::size_t, 2> service_port_rules{};

  // Every rule of `table` the plan writes into chains of its own (kube-proxy's
  // sync_proxy_rules_iptables_total): the shared chains' fixed rules and the
  // service ports'.
  std::size_t rule_count(IptablesTable table) const;

  // The full content of every chain of `table` the plan declares: the shared
  // chains in declaration order, then the service ports' chains, service
  // port by service port (each port's chains sorted by name).
  std::vector<IptablesChain> chains(IptablesTable table) const;
  // The same chains in the same order, without copying the owned ones:
  // visit(name, lines) per chain.
  void visit_chains(IptablesTable table,
                    const std::function<void(const ChainName&, std::string_view)>& visit) const;
  // The full content of one shared chain.
  IptablesChain assemble(const SharedChain& shared) const;

  // Equal content (fragments compared by value).
  bool operator==(const IptablesPlan& other) const;
};

}  // namespace kubenat
