#include "tests/e2e/proxy_driver.h"

#include <algorithm>
#include <sstream>

#include "engine/network_namespace.h"
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

void IptablesDriver::force_full_sync() { syncer_.force_full_sync("forced by the test"); }

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

NftDriver::NftDriver(std::string netns, ProxyConfig config)
    : netns_(std::move(netns)), config_(std::move(config)), conntrack_(netns_) {
  // The netlink socket belongs to the namespace it is opened in.
  auto entered = run_in_network_namespace(netns_, [this] {
    auto transport = KernelNftTransport::open();
    if (transport) {
      transport_ = std::make_unique<KernelNftTransport>(std::move(*transport));
    } else {
      open_error_ = transport.error();
    }
  });
  if (!entered) open_error_ = entered.error();
  if (transport_) {
    backend_ = std::make_unique<NftBackend>(*transport_, config_.family, config_.nftables_table);
    // The table is checked before every diff sync, so that a flush is
    // repaired by the very next sync.
    proxier_ = std::make_unique<NftProxier>(*backend_, &conntrack_, clock_, config_,
                                            NftProxier::Options{std::chrono::hours(1), std::chrono::milliseconds(0)});
  }
}

std::expected<SyncResult, std::string> NftDriver::sync(const ClusterState& state) {
  if (!proxier_) return std::unexpected("no netlink socket in " + netns_ + ": " + open_error_);
  SyncResult result = proxier_->sync(state, nullptr);
  if (!result.ok) return std::unexpected(result.error);
  return result;
}

void NftDriver::force_full_sync() {
  if (proxier_) proxier_->force_full_sync("forced by the test");
}

std::expected<void, std::string> NftDriver::external_flush() {
  auto result = run_process({"ip", "netns", "exec", netns_, "nft", "flush", "ruleset"});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("nft flush ruleset: " + result->err);
  return {};
}

std::expected<void, std::string> NftDriver::write_foreign_rules(const std::string& payload) {
  auto result = run_process({"ip", "netns", "exec", netns_, "nft", "-f", "-"}, ProcessOptions{.input = payload});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("nft -f: " + result->err);
  return {};
}

std::expected<std::string, std::string> NftDriver::normalized_rules() {
  const std::string family = config_.family == IpFamily::V4 ? "ip" : "ip6";
  auto result = run_process({"ip", "netns", "exec", netns_, "nft", "list", "table", family, config_.nftables_table});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("nft list table: " + result->err);
  return normalize_nft_listing(result->out);
}

namespace {

// `nft list` prints sets, maps and chains in creation order, which differs between a table built
// by diffs and one built in one go; sorting the blocks (each kept whole) makes them comparable.
std::string sort_table_blocks(const std::string& text) {
  std::string out;
  std::vector<std::string> blocks;
  std::string current;
  bool in_block = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const bool top_level = line.size() > 1 && line[0] == '\t' && line[1] != '\t';
    if (!in_block && top_level && line.back() == '{') {
      in_block = true;
      current = line + "\n";
    } else if (in_block) {
      current += line + "\n";
      if (line == "\t}") {
        blocks.push_back(current);
        in_block = false;
      }
    } else if (line == "}") {
      std::sort(blocks.begin(), blocks.end());
      for (const std::string& block : blocks) out += block;
      blocks.clear();
      out += line + "\n";
    } else {
      out += line + "\n";
    }
  }
  return out;
}

std::string sort_set_elements(const std::string& text) {
  std::string out;
  std::size_t at = 0;
  const std::string marker = "elements = {";
  while (true) {
    const std::size_t start = text.find(marker, at);
    if (start == std::string::npos) {
      out += text.substr(at);
      return out;
    }
    const std::size_t end = text.find('}', start);
    out += text.substr(at, start + marker.size() - at);
    std::vector<std::string> elements;
    std::string current;
    for (char c : text.substr(start + marker.size(), end - start - marker.size())) {
      if (c == ',') {
        elements.push_back(current);
        current.clear();
      } else if (c != '\n' && c != '\t' && !(c == ' ' && (current.empty() || current.back() == ' '))) {
        current += c;
      }
    }
    elements.push_back(current);
    for (std::string& e : elements) {
      while (!e.empty() && e.back() == ' ') e.pop_back();
    }
    std::sort(elements.begin(), elements.end());
    for (std::size_t i = 0; i < elements.size(); ++i) out += (i ? ", " : " ") + elements[i];
    out += " }";
    at = end + 1;
  }
}

}  // namespace

std::string normalize_nft_listing(const std::string& text) { return sort_table_blocks(sort_set_elements(text)); }

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
      {"nftables",
       [](const std::string& netns, const ProxyConfig& config) -> std::unique_ptr<ProxyDriver> {
         return std::make_unique<NftDriver>(netns, config);
       }},
  };
}

}  // namespace kubenat::e2e
