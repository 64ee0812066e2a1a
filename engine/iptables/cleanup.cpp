#include "engine/iptables/cleanup.h"

#include "rules/iptables/cleanup.h"
#include "rules/iptables/save.h"

namespace kubenat {

std::expected<IptablesCleanupResult, std::string> remove_iptables_leftovers(IptablesRunner& runner, IpFamily family,
                                                                            const std::vector<std::string>& tables) {
  // Every table read first: whether the kubelet is there decides about
  // KUBE-FIREWALL, and its canary may be in another table.
  std::vector<SavedTable> saved;
  for (const std::string& name : tables) {
    auto text = runner.save(family, name);
    if (!text) return std::unexpected(text.error());
    auto parsed = parse_iptables_save(*text);
    auto table = parsed.find(name);
    if (table != parsed.end()) saved.push_back(std::move(table->second));  // absent: nothing of anyone's
  }
  const bool kubelet = kubelet_present(saved);
  IptablesCleanupResult result;
  for (const SavedTable& table : saved) {
    const IptablesLeftovers leftovers = iptables_leftovers(table, kubelet);
    if (leftovers.payload.empty()) continue;
    if (auto restored = runner.restore(family, leftovers.payload); !restored) {
      return std::unexpected("table " + table.name + ": " + restored.error());
    }
    result.chains += leftovers.chains.size();
    result.jumps += leftovers.jumps.size();
  }
  return result;
}

}  // namespace kubenat
