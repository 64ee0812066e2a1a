#include "rules/iptables/render.h"

namespace kubenat {
namespace {

void render_table(std::string& out, const IptablesPlan& plan, IptablesTable table,
                  const IptablesRenderOptions& options) {
  // Shared chains are assembled once; owned chains are only pointed at.
  std::vector<IptablesChain> assembled;
  for (const SharedChain& shared : plan.shared_chains) {
    if (shared.table == table) assembled.push_back(plan.assemble(shared));
  }
  std::size_t size = 16;
  for (const IptablesChain& chain : assembled) size += chain.name.size() + 10 + chain.lines.size();
  if (table == IptablesTable::Nat) {
    for (const auto& [name, fragment] : plan.service_ports) {
      size += fragment->text.size() + fragment->chains.size() * (ChainName::kMaxLength + 10);
    }
  }
  out.reserve(out.size() + size + 4096);

  auto declare = [&out](const ChainName& name) {
    out += ':';
    out += name.view();
    out += " - [0:0]\n";
  };
  out += '*';
  out += table_name(table);
  out += '\n';
  for (const IptablesChain& chain : assembled) declare(chain.name);
  if (table == IptablesTable::Nat) {
    for (const auto& [name, fragment] : plan.service_ports) {
      for (const OwnedChain& chain : fragment->chains) declare(chain.name);
    }
  }
  if (options.include_jumps) {
    for (const JumpRule& jump : plan.jumps) {
      if (jump.table != table) continue;
      out += "-A ";
      out += jump.chain;
      out += ' ';
      out += jump.rule;
      out += '\n';
    }
  }
  for (const IptablesChain& chain : assembled) out += chain.lines;
  if (table == IptablesTable::Nat) {
    for (const auto& [name, fragment] : plan.service_ports) {
      for (const OwnedChain& chain : fragment->chains) out += fragment->lines(chain);
    }
  }
  out += "COMMIT\n";
}

}  // namespace

std::string render_iptables_restore(const IptablesPlan& plan, const IptablesRenderOptions& options) {
  std::string out;
  render_table(out, plan, IptablesTable::Filter, options);
  render_table(out, plan, IptablesTable::Nat, options);
  return out;
}

}  // namespace kubenat
