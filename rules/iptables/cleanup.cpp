#include "rules/iptables/cleanup.h"

#include <algorithm>
#include <array>

namespace kubenat {
namespace {

// Per-service chains: KUBE-XLB- is the name kube-proxy used before 1.24.
constexpr std::array kServiceChainPrefixes{"KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-FW-", "KUBE-EXT-", "KUBE-XLB-"};

bool one_of(std::string_view chain, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), chain) != names.end();
}

// The chain a rule jumps or goes to, if any.
std::string_view target_of(std::string_view rule) {
  for (std::string_view flag : {std::string_view("-j "), std::string_view("-g ")}) {
    std::size_t at = 0;
    while ((at = rule.find(flag, at)) != std::string_view::npos) {
      // A flag starts the rule or follows a space; inside a quoted comment it
      // would follow other text.
      if (at == 0 || rule[at - 1] == ' ') {
        std::string_view target = rule.substr(at + flag.size());
        return target.substr(0, target.find(' '));
      }
      at += flag.size();
    }
  }
  return {};
}

}  // namespace

bool kubelet_present(const std::vector<SavedTable>& tables) {
  return std::any_of(tables.begin(), tables.end(), [](const SavedTable& table) {
    return table.has_chain("KUBE-KUBELET-CANARY") || table.has_chain("KUBE-IPTABLES-HINT");
  });
}

bool is_proxy_chain(std::string_view table, std::string_view chain, bool kubelet) {
  if (chain == "KUBE-PROXY-CANARY") return table == "nat" || table == "filter" || table == "mangle";
  if (table == "nat") {
    if (one_of(chain, {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"})) return true;
    return std::any_of(kServiceChainPrefixes.begin(), kServiceChainPrefixes.end(),
                       [&](std::string_view prefix) { return chain.starts_with(prefix); });
  }
  if (table == "filter") {
    if (chain == "KUBE-FIREWALL") return !kubelet;
    return one_of(chain,
                  {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"});
  }
  return false;
}

IptablesLeftovers iptables_leftovers(const SavedTable& table, bool kubelet) {
  IptablesLeftovers out;
  for (const std::string& chain : table.chains) {
    if (is_proxy_chain(table.name, chain, kubelet)) out.chains.push_back(chain);
  }
  if (out.chains.empty()) return out;
  // Chains in iptables-save's order, then any whose rules came undeclared.
  std::vector<std::string> chains = table.chains;
  for (const auto& [chain, rules] : table.rules) {
    if (!table.has_chain(chain)) chains.push_back(chain);
  }
  std::vector<std::string> deletions;
  for (const std::string& chain : chains) {
    if (is_proxy_chain(table.name, chain, kubelet)) continue;
    auto rules = table.rules.find(chain);
    if (rules == table.rules.end()) continue;
    for (const std::string& rule : rules->second) {
      const std::string_view target = target_of(rule);
      if (target.empty() || !is_proxy_chain(table.name, target, kubelet)) continue;
      out.jumps.push_back("-A " + chain + " " + rule);
      deletions.push_back("-D " + chain + " " + rule);
    }
  }
  // Flushing every chain first undoes the jumps between them, so that each
  // can then be deleted in any order.
  out.payload = "*" + table.name + "\n";
  for (const std::string& chain : out.chains) out.payload += ":" + chain + " - [0:0]\n";
  for (const std::string& line : deletions) out.payload += line + "\n";
  for (const std::string& chain : out.chains) out.payload += "-X " + chain + "\n";
  out.payload += "COMMIT\n";
  return out;
}

}  // namespace kubenat
