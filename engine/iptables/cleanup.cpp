#include "engine/iptables/cleanup.h"

#include "rules/iptables/cleanup.h"
#include "rules/iptables/save.h"

namespace kubenat {

std::expected<IptablesCleanupResult, std::string> remove_iptables_leftovers(IptablesRunner& runner, IpFamily family,
                                                                            const std::vector<std::string>& tables) {
  IptablesCleanupResult result;
  for (const std::string& name : tables) {
    auto saved = runner.save(family, name);
    if (!saved) return std::unexpected(saved.error());
    const auto parsed = parse_iptables_save(*saved);
    auto table = parsed.find(name);
    if (table == parsed.end()) continue;  // the table is not there: nothing of anyone's
    const IptablesLeftovers leftovers = iptables_leftovers(table->second);
    if (leftovers.payload.empty()) continue;
    if (auto restored = runner.restore(family, leftovers.payload); !restored) {
      return std::unexpected("table " + name + ": " + restored.error());
    }
    result.chains += leftovers.chains.size();
    result.jumps += leftovers.jumps.size();
  }
  return result;
}

}  // namespace kubenat
