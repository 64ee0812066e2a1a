#include "rules/iptables/plan.h"

namespace kubenat {

std::string_view table_name(IptablesTable table) {
  return table == IptablesTable::Filter ? "filter" : "nat";
}

void IptablesChain::append(std::string_view rule) {
  lines.reserve(lines.size() + name.size() + rule.size() + 5);
  lines += "-A ";
  lines += name;
  lines += ' ';
  lines += rule;
  lines += '\n';
}

std::vector<std::string> IptablesChain::rules() const {
  std::vector<std::string> out;
  const std::size_t prefix = name.size() + 4;  // "-A <name> "
  std::size_t start = 0;
  while (start < lines.size()) {
    std::size_t end = lines.find('\n', start);
    if (end == std::string::npos) end = lines.size();
    out.push_back(lines.substr(start + prefix, end - start - prefix));
    start = end + 1;
  }
  return out;
}

IptablesChain IptablesPlan::assemble(const SharedChain& shared) const {
  IptablesChain chain{shared.name, {}};
  for (const std::string& rule : shared.head) chain.append(rule);
  for (const auto& [name, fragment] : service_ports) {
    for (const SharedRule& rule : fragment->shared_rules) {
      if (rule.table == shared.table && rule.chain == shared.name) chain.append(rule.rule);
    }
  }
  for (const std::string& rule : shared.tail) chain.append(rule);
  return chain;
}

std::optional<IptablesChain> ServicePortRules::find(std::string_view name) const {
  for (const OwnedChain& chain : chains) {
    if (chain.name == name) return IptablesChain{chain.name, std::string(lines(chain))};
  }
  return std::nullopt;
}

void IptablesPlan::visit_chains(IptablesTable table,
                                const std::function<void(const ChainName&, std::string_view)>& visit) const {
  for (const SharedChain& shared : shared_chains) {
    if (shared.table != table) continue;
    const IptablesChain assembled = assemble(shared);
    visit(assembled.name, assembled.lines);
  }
  if (table != IptablesTable::Nat) return;
  for (const auto& [name, fragment] : service_ports) {
    for (const OwnedChain& chain : fragment->chains) visit(chain.name, fragment->lines(chain));
  }
}

bool IptablesPlan::operator==(const IptablesPlan& other) const {
  if (family != other.family || jumps != other.jumps || shared_chains != other.shared_chains ||
      total_endpoints != other.total_endpoints || service_port_rules != other.service_port_rules ||
      large_cluster_mode != other.large_cluster_mode || service_ports.size() != other.service_ports.size()) {
    return false;
  }
  auto a = service_ports.begin();
  for (auto b = other.service_ports.begin(); b != other.service_ports.end(); ++a, ++b) {
    if (a->first != b->first) return false;
    if (a->second != b->second && *a->second != *b->second) return false;
  }
  return true;
}

std::vector<IptablesChain> IptablesPlan::chains(IptablesTable table) const {
  std::vector<IptablesChain> out;
  visit_chains(table, [&out](const ChainName& name, std::string_view lines) {
    out.push_back(IptablesChain{name, std::string(lines)});
  });
  return out;
}

std::size_t IptablesPlan::rule_count(IptablesTable table) const {
  std::size_t count = service_port_rules[static_cast<std::size_t>(table)];
  for (const SharedChain& shared : shared_chains) {
    if (shared.table == table) count += shared.head.size() + shared.tail.size();
  }
  return count;
}

}  // namespace kubenat
