#include "rules/iptables/change.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

namespace kubenat {
namespace {

// Dependency rank: a chain only jumps to chains of a lower rank. Endpoint
// and service chains jump to KUBE-MARK-MASQ, and nat KUBE-SERVICES jumps to
// KUBE-NODEPORTS, which jumps to the external chains.
int write_rank(const ChainWrite& write) {
  const std::string_view name = write.chain.name.view();
  if (name == "KUBE-MARK-MASQ") return 0;
  if (name.starts_with("KUBE-SEP-")) return 1;
  if (name.starts_with("KUBE-SVC-") || name.starts_with("KUBE-SVL-")) return 2;
  if (name.starts_with("KUBE-EXT-")) return 3;
  if (name.starts_with("KUBE-FW-")) return 4;
  if (name == "KUBE-SERVICES") return 6;
  return 5;
}

void sort_writes(std::vector<ChainWrite>& writes) {
  std::stable_sort(writes.begin(), writes.end(),
                   [](const ChainWrite& a, const ChainWrite& b) { return write_rank(a) < write_rank(b); });
}

// Owned chains of one fragment, by name.
std::map<std::string_view, std::string_view> owned_lines(const ServicePortRules& fragment) {
  std::map<std::string_view, std::string_view> out;
  for (const OwnedChain& chain : fragment.chains) out.emplace(chain.name.view(), fragment.lines(chain));
  return out;
}

// A service port whose rules in one shared chain changed.
struct DirtyPort {
  const ServicePortName* name = nullptr;
  const ServicePortRules* before = nullptr;  // null: the port is new
  const ServicePortRules* after = nullptr;   // null: the port is gone
};
using SharedKey = std::pair<IptablesTable, std::string>;
// By shared chain, the ports whose contribution to it changed, in port order.
using DirtyShared = std::map<SharedKey, std::vector<DirtyPort>>;

bool is_in(const SharedRule& rule, IptablesTable table, std::string_view chain) {
  return rule.table == table && rule.chain == chain;
}

// Compares one service port's fragments (either may be missing) and records
// the owned chains to write and delete, and the shared chains it touches.
void diff_fragment(const ServicePortName& name, const ServicePortRules* before, const ServicePortRules* after,
                   IptablesChange& change, DirtyShared& dirty_shared) {
  if (before != nullptr && after != nullptr && (before == after || *before == *after)) return;
  change.changed_service_ports.push_back(name);

  const auto old_chains = before ? owned_lines(*before) : std::map<std::string_view, std::string_view>{};
  if (after != nullptr) {
    for (const OwnedChain& chain : after->chains) {
      auto old = old_chains.find(chain.name.view());
      const std::string_view lines = after->lines(chain);
      if (old == old_chains.end() || old->second != lines) {
        change.writes.push_back(ChainWrite{IptablesTable::Nat, IptablesChain{chain.name, std::string(lines)}});
      }
    }
  }
  if (before != nullptr) {
    for (const OwnedChain& chain : before->chains) {
      const bool kept = after != nullptr && std::any_of(after->chains.begin(), after->chains.end(),
                                                        [&](const OwnedChain& c) { return c.name == chain.name; });
      if (!kept) change.deletes.push_back(ChainDelete{IptablesTable::Nat, chain.name});
    }
  }

  const std::vector<SharedRule> none;
  const std::vector<SharedRule>& old_rules = before ? before->shared_rules : none;
  const std::vector<SharedRule>& new_rules = after ? after->shared_rules : none;
  if (old_rules == new_rules) return;
  // A shared chain is dirty when this port's contribution to it changed.
  auto contribution = [](const std::vector<SharedRule>& rules, IptablesTable table, const std::string& chain) {
    std::vector<std::string_view> out;
    for (const SharedRule& r : rules) {
      if (is_in(r, table, chain)) out.push_back(r.rule);
    }
    return out;
  };
  std::set<SharedKey> compared;
  for (const std::vector<SharedRule>* rules : {&old_rules, &new_rules}) {
    for (const SharedRule& r : *rules) {
      SharedKey key(r.table, r.chain);
      if (!compared.insert(key).second) continue;
      if (contribution(old_rules, r.table, r.chain) != contribution(new_rules, r.table, r.chain)) {
        dirty_shared[std::move(key)].push_back(DirtyPort{&name, before, after});
      }
    }
  }
}

// Whether editing `edits` rules in place is cheaper than rewriting the chain
// of `rules` rules. iptables-nft-restore finds a rule to delete by comparing
// it with the chain's rules one by one, so each deletion costs about what
// reading the chain does; the rewrite costs its size (2.3 s for 10,000
// rules). A few dozen edits stay well below it; beyond, a burst of changes
// is cheapest rewritten, as kube-proxy does.
bool cheaper_in_place(std::size_t edits, std::size_t rules) { return edits <= 64 && edits <= rules; }

// The in-place edits that turn `shared` as the applied plan holds it into
// what `after` holds, or nullopt when rewriting it is cheaper. `ports` are
// the ports whose rules in it changed, in port order. Every rule of such a
// port is deleted and its new rules inserted, so that a port's rules keep
// their order; the insert positions are those of a full rewrite.
std::optional<std::vector<RuleEdit>> edit_in_place(const IptablesPlan& after, const SharedChain& shared,
                                                   const std::vector<DirtyPort>& ports) {
  std::vector<RuleEdit> edits;
  for (const DirtyPort& port : ports) {
    if (port.before == nullptr) continue;
    for (const SharedRule& r : port.before->shared_rules) {
      if (is_in(r, shared.table, shared.name)) {
        edits.push_back(RuleEdit{RuleEdit::Kind::Delete, shared.table, shared.name, r.rule, 0});
      }
    }
  }
  // The chain is head, every port's rules in port order, tail; counting
  // the rules of the ports before a changed one gives its position. After
  // the deletions the chain holds the unchanged ports' rules in that order,
  // so inserting by ascending position rebuilds it exactly.
  std::size_t position = shared.head.size();
  auto next = ports.begin();
  for (const auto& [name, fragment] : after.service_ports) {
    while (next != ports.end() && *next->name < name) ++next;
    const bool changed = next != ports.end() && *next->name == name;
    for (const SharedRule& r : fragment->shared_rules) {
      if (!is_in(r, shared.table, shared.name)) continue;
      ++position;
      if (changed) edits.push_back(RuleEdit{RuleEdit::Kind::Insert, shared.table, shared.name, r.rule, position});
    }
    if (edits.size() > 64) return std::nullopt;  // not worth finishing the count
  }
  if (!cheaper_in_place(edits.size(), position + shared.tail.size())) return std::nullopt;
  return edits;
}

void finish(const IptablesPlan& before, const IptablesPlan& after, DirtyShared& dirty_shared,
            const IptablesDiffOptions& options, IptablesChange& change) {
  change.family = after.family;
  for (const SharedChain& shared : after.shared_chains) {
    const auto old = std::find_if(before.shared_chains.begin(), before.shared_chains.end(),
                                  [&](const SharedChain& c) { return c.table == shared.table && c.name == shared.name; });
    const bool same_frame = old != before.shared_chains.end() && old->head == shared.head && old->tail == shared.tail;
    const auto dirty = dirty_shared.find(SharedKey(shared.table, shared.name));
    if (same_frame && dirty == dirty_shared.end()) continue;
    if (same_frame && options.edit_shared_chains_in_place) {
      std::vector<DirtyPort>& ports = dirty->second;
      std::sort(ports.begin(), ports.end(), [](const DirtyPort& a, const DirtyPort& b) { return *a.name < *b.name; });
      if (auto edits = edit_in_place(after, shared, ports)) {
        change.edits.insert(change.edits.end(), edits->begin(), edits->end());
        continue;
      }
    }
    change.writes.push_back(ChainWrite{shared.table, after.assemble(shared)});
  }
  for (const SharedChain& shared : before.shared_chains) {
    const bool kept = std::any_of(after.shared_chains.begin(), after.shared_chains.end(), [&](const SharedChain& c) {
      return c.table == shared.table && c.name == shared.name;
    });
    if (!kept) change.deletes.push_back(ChainDelete{shared.table, ChainName(shared.name)});
  }
  sort_writes(change.writes);
}

}  // namespace

bool is_service_chain(std::string_view name) {
  for (std::string_view prefix : {"KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"}) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

IptablesChange diff_iptables(const IptablesPlan& before, const IptablesPlan& after,
                             const IptablesDiffOptions& options) {
  IptablesChange change;
  DirtyShared dirty_shared;
  auto b = before.service_ports.begin();
  auto a = after.service_ports.begin();
  while (b != before.service_ports.end() || a != after.service_ports.end()) {
    if (a == after.service_ports.end() || (b != before.service_ports.end() && b->first < a->first)) {
      diff_fragment(b->first, b->second.get(), nullptr, change, dirty_shared);
      ++b;
    } else if (b == before.service_ports.end() || a->first < b->first) {
      diff_fragment(a->first, nullptr, a->second.get(), change, dirty_shared);
      ++a;
    } else {
      diff_fragment(a->first, b->second.get(), a->second.get(), change, dirty_shared);
      ++a;
      ++b;
    }
  }
  finish(before, after, dirty_shared, options, change);
  return change;
}

IptablesChange diff_iptables(const IptablesPlan& before, const IptablesPlan& after,
                             const std::set<ServicePortName>& candidates, const IptablesDiffOptions& options) {
  IptablesChange change;
  DirtyShared dirty_shared;
  for (const ServicePortName& name : candidates) {
    auto b = before.service_ports.find(name);
    auto a = after.service_ports.find(name);
    diff_fragment(name, b == before.service_ports.end() ? nullptr : b->second.get(),
                  a == after.service_ports.end() ? nullptr : a->second.get(), change, dirty_shared);
  }
  finish(before, after, dirty_shared, options, change);
  return change;
}

IptablesChange full_iptables_change(const IptablesPlan& plan) {
  IptablesChange change;
  change.family = plan.family;
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    plan.visit_chains(table, [&](const ChainName& name, std::string_view lines) {
      change.writes.push_back(ChainWrite{table, IptablesChain{name, std::string(lines)}});
    });
  }
  for (const auto& [name, fragment] : plan.service_ports) change.changed_service_ports.push_back(name);
  sort_writes(change.writes);
  return change;
}

std::vector<std::string> render_iptables_change(const IptablesChange& change, std::size_t max_bytes) {
  // A payload holds one section per table: declarations, then rules, then
  // deletions. Writes are taken in order, so a payload never holds a chain
  // whose targets come in a later payload.
  struct Section {
    std::string declarations;
    std::string rules;
    std::string deletions;
    bool used = false;
  };
  std::vector<std::string> payloads;
  Section sections[2];
  std::size_t size = 0;
  auto flush = [&] {
    std::string payload;
    for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
      Section& s = sections[static_cast<int>(table)];
      if (!s.used) continue;
      payload += '*';
      payload += table_name(table);
      payload += '\n';
      payload += s.declarations;
      payload += s.rules;
      payload += s.deletions;
      payload += "COMMIT\n";
      s = Section{};
    }
    if (!payload.empty()) payloads.push_back(std::move(payload));
    size = 0;
  };
  auto declare = [](Section& s, const ChainName& name) {
    s.used = true;
    s.declarations += ':';
    s.declarations += name.view();
    s.declarations += " - [0:0]\n";
  };

  for (const ChainWrite& write : change.writes) {
    const std::size_t bytes = write.chain.lines.size() + write.chain.name.size() + 10;
    if (max_bytes != 0 && size > 0 && size + bytes > max_bytes) flush();
    Section& s = sections[static_cast<int>(write.table)];
    declare(s, write.chain.name);
    s.rules += write.chain.lines;
    size += bytes;
  }
  // The edits and deletions go with the last writes: by then every chain an
  // inserted rule jumps to exists, and once the edits are done no shared
  // chain jumps to the deleted chains any more. An edited chain is never
  // declared: that would flush it.
  // A chain that is also written whole already gets its final rules (a
  // caller may add such writes, as kube-proxy's partial sync does): its
  // edits would apply twice.
  std::set<std::pair<IptablesTable, std::string_view>> written;
  if (!change.edits.empty()) {
    for (const ChainWrite& write : change.writes) written.emplace(write.table, write.chain.name.view());
  }
  for (const RuleEdit& edit : change.edits) {
    if (written.contains({edit.table, edit.chain})) continue;
    Section& s = sections[static_cast<int>(edit.table)];
    s.used = true;
    if (edit.kind == RuleEdit::Kind::Delete) {
      s.rules += "-D ";
      s.rules += edit.chain;
    } else {
      s.rules += "-I ";
      s.rules += edit.chain;
      s.rules += ' ';
      s.rules += std::to_string(edit.position);
    }
    s.rules += ' ';
    s.rules += edit.rule;
    s.rules += '\n';
  }
  for (const ChainDelete& del : change.deletes) {
    Section& s = sections[static_cast<int>(del.table)];
    declare(s, del.name);
    s.deletions += "-X ";
    s.deletions += del.name.view();
    s.deletions += '\n';
  }
  flush();
  return payloads;
}

}  // namespace kubenat
