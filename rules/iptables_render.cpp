#include "rules/iptables_render.h"

namespace kubenat {
namespace {

void append_rule(std::string& out, std::string_view chain, std::string_view rule) {
  out += "-A ";
  out += chain;
  out += ' ';
  out += rule;
  out += '\n';
}

void render_table(std::string& out, const IptablesPlan& plan, IptablesTable table,
                  const IptablesRenderOptions& options) {
  const std::vector<IptablesChain> chains = plan.chains(table);
  out += '*';
  out += table_name(table);
  out += '\n';
  for (const IptablesChain& chain : chains) {
    out += ':';
    out += chain.name;
    out += " - [0:0]\n";
  }
  if (options.include_jumps) {
    for (const JumpRule& jump : plan.jumps) {
      if (jump.table == table) append_rule(out, jump.chain, jump.rule);
    }
  }
  for (const IptablesChain& chain : chains) {
    for (const std::string& rule : chain.rules) append_rule(out, chain.name, rule);
  }
  out += "COMMIT\n";
}

}  // namespace

std::string render_iptables_restore(const IptablesPlan& plan, const IptablesRenderOptions& options) {
  std::string out;
  out.reserve(1 << 16);
  render_table(out, plan, IptablesTable::Filter, options);
  render_table(out, plan, IptablesTable::Nat, options);
  return out;
}

}  // namespace kubenat
