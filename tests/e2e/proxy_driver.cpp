#include "tests/e2e/proxy_driver.h"

#include <algorithm>

#include "engine/process.h"
#include "rules/iptables_save.h"

namespace kubenat::e2e {

IptablesDriver::IptablesDriver(IptablesMode mode, std::string netns, ProxyConfig config)
    : mode_(mode),
      netns_(std::move(netns)),
      config_(std::move(config)),
      runner_(mode_, netns_),
      backend_(runner_, config_.family, IptablesBackend::Options{recommended_payload_bytes(mode)}),
      conntrack_(netns_),
      // The canary is checked before every diff sync, so that a flush is
      // repaired by the very next sync.
      syncer_(backend_, &conntrack_, clock_, IptablesSyncer::Options{std::chrono::hours(1), std::chrono::milliseconds(0)}) {}

std::expected<SyncResult, std::string> IptablesDriver::sync(const ClusterState& state) {
  IptablesCompileResult compiled = compile_iptables(state, config_);
  SyncResult result = syncer_.sync(std::move(compiled.plan));
  if (!result.ok) return std::unexpected(result.error);
  return result;
}

std::expected<void, std::string> IptablesDriver::external_flush() {
  auto result = runner_.run(config_.family, {"-t", "nat", "-F"});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("iptables -t nat -F: " + result->err);
  return {};
}

std::expected<void, std::string> IptablesDriver::write_foreign_rules(const std::string& payload) {
  return runner_.restore(config_.family, payload);
}

std::expected<std::string, std::string> IptablesDriver::normalized_rules() {
  std::string all;
  for (std::string_view table : {"filter", "nat"}) {
    auto text = runner_.save(config_.family, table);
    if (!text) return std::unexpected(text.error());
    all += *text;
  }
  return normalize_iptables_save(all);
}

std::string normalize_iptables_save(const std::string& text) {
  std::string out;
  for (auto& [name, table] : parse_iptables_save(text)) {
    std::vector<std::string> chains = table.chains;
    std::sort(chains.begin(), chains.end());
    out += "*" + name + "\n";
    for (const std::string& chain : chains) out += ":" + chain + "\n";
    for (const std::string& chain : chains) {
      for (const std::string& rule : table.rules[chain]) out += "-A " + chain + " " + rule + "\n";
    }
  }
  return out;
}

std::vector<DriverKind> all_driver_kinds() {
  auto iptables = [](IptablesMode mode) {
    return [mode](const std::string& netns, const ProxyConfig& config) -> std::unique_ptr<ProxyDriver> {
      return std::make_unique<IptablesDriver>(mode, netns, config);
    };
  };
  return {
      {"iptables_nft", iptables(IptablesMode::Nft)},
      {"iptables_legacy", iptables(IptablesMode::Legacy)},
  };
}

}  // namespace kubenat::e2e
