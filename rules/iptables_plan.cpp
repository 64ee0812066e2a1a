#include "rules/iptables_plan.h"

#include <algorithm>

namespace kubenat {

std::string_view table_name(IptablesTable table) {
  return table == IptablesTable::Filter ? "filter" : "nat";
}

IptablesChain IptablesPlan::assemble(const SharedChain& shared) const {
  IptablesChain chain{shared.name, shared.head};
  for (const auto& [name, fragment] : service_ports) {
    for (const SharedRule& rule : fragment.shared_rules) {
      if (rule.table == shared.table && rule.chain == shared.name) chain.rules.push_back(rule.rule);
    }
  }
  chain.rules.insert(chain.rules.end(), shared.tail.begin(), shared.tail.end());
  return chain;
}

std::vector<IptablesChain> IptablesPlan::chains(IptablesTable table) const {
  std::vector<IptablesChain> out;
  for (const SharedChain& shared : shared_chains) {
    if (shared.table == table) out.push_back(assemble(shared));
  }
  if (table == IptablesTable::Nat) {
    const std::size_t first_owned = out.size();
    for (const auto& [name, fragment] : service_ports) {
      out.insert(out.end(), fragment.nat_chains.begin(), fragment.nat_chains.end());
    }
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first_owned), out.end(),
              [](const IptablesChain& a, const IptablesChain& b) { return a.name < b.name; });
  }
  return out;
}

}  // namespace kubenat
