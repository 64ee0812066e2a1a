#include "tests/e2e/proxy_driver.h"

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/network_namespace.h"
#include "engine/process.h"
#include "rules/encode.h"
#include "rules/iptables/save.h"
#include "watch/cluster_listener.h"

namespace kubenat::e2e {

ProxyDriver::ProxyDriver(Backend backend, Through through, std::string netns, ProxyConfig config)
    : backend_(backend), through_(through), netns_(std::move(netns)), config_(std::move(config)) {
  if (through_ == Through::ApplyCommand) return;
  ProxyStackOptions options;
  options.mode = backend_ == Backend::Nftables ? ProxyMode::Nftables : ProxyMode::Iptables;
  options.config = config_;
  options.iptables_mode = iptables_mode();
  // The kernel is checked before every diff sync, so that a flush is
  // repaired by the very next sync.
  options.integrity_check_period = std::chrono::milliseconds(0);
  options.netns = netns_;
  auto stack = ProxyStack::build(options, clock_);
  if (!stack) {
    open_error_ = stack.error();
    return;
  }
  stack_ = std::move(*stack);
  SyncLoop::Options loop_options;
  loop_options.node_name = config_.node_name;
  loop_ = std::make_unique<SyncLoop>(stack_->service_proxier(), clock_, loop_options);
  loop_->synced(WatchedResource::Services);
  loop_->synced(WatchedResource::EndpointSlices);
}

std::expected<SyncResult, std::string> ProxyDriver::sync(const ClusterState& state) {
  if (through_ == Through::ApplyCommand) return apply_command(state);
  if (!loop_) return std::unexpected("no proxy stack for " + netns_ + ": " + open_error_);
  report_changes(*loop_, fed_, state);
  fed_ = state;
  std::optional<SyncReport> report = loop_->sync_now();
  if (!report) return std::unexpected(std::string("the sync loop is not ready"));
  if (!report->result.ok) return std::unexpected(report->result.error);
  return report->result;
}

std::expected<SyncResult, std::string> ProxyDriver::apply_command(const ClusterState& state) {
  std::vector<std::string> argv = {"ip", "netns", "exec", netns_, KUBENAT_BINARY, "apply", "--snapshot", "/dev/stdin",
                                   "--node", config_.node_name};
  argv.insert(argv.end(), {"--proxy-mode", backend_ == Backend::Nftables ? "nftables" : "iptables"});
  argv.insert(argv.end(), {"--iptables-mode", iptables_mode() == IptablesMode::Legacy ? "legacy" : "nft"});
  argv.insert(argv.end(), {"--nftables-table", config_.nftables_table});
  if (config_.family == IpFamily::V6) argv.insert(argv.end(), {"--ip-family", "ipv6"});
  const auto join = [](const auto& values) {
    std::string out;
    for (const auto& value : values) out += (out.empty() ? "" : ",") + value.to_string();
    return out;
  };
  if (!config_.cluster_cidrs.empty()) argv.insert(argv.end(), {"--cluster-cidr", join(config_.cluster_cidrs)});
  if (!config_.node_ips.empty()) argv.insert(argv.end(), {"--node-ip", join(config_.node_ips)});
  auto result = run_process(argv, ProcessOptions{.input = encode_cluster(state).dump()});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("kubenat apply: " + result->err);
  // A new process: every sync it makes is full.
  SyncResult synced;
  synced.ok = true;
  synced.full = true;
  synced.reason = "first sync";
  synced.summary = result->out;
  const std::string filters = " cleared from conntrack (";
  if (auto at = result->out.find(filters); at != std::string::npos) {
    synced.conntrack = ConntrackCleanup{.filters = std::stoul(result->out.substr(at + filters.size()))};
  }
  return synced;
}

void ProxyDriver::force_full_sync() {
  if (stack_) stack_->service_proxier()->force_full_sync("forced by the test");
}

std::expected<void, std::string> ProxyDriver::external_flush() {
  if (backend_ == Backend::Nftables) {
    auto result = run_process({"ip", "netns", "exec", netns_, "nft", "flush", "ruleset"});
    if (!result) return std::unexpected(result.error());
    if (!result->ok()) return std::unexpected("nft flush ruleset: " + result->err);
    return {};
  }
  ProcessIptablesRunner runner(iptables_mode(), netns_);
  auto result = runner.run(config_.family, {"-t", "nat", "-F"});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("iptables -t nat -F: " + result->err);
  return {};
}

std::expected<void, std::string> ProxyDriver::write_foreign_rules(const std::string& payload) {
  if (backend_ == Backend::Nftables) {
    auto result = run_process({"ip", "netns", "exec", netns_, "nft", "-f", "-"}, ProcessOptions{.input = payload});
    if (!result) return std::unexpected(result.error());
    if (!result->ok()) return std::unexpected("nft -f: " + result->err);
    return {};
  }
  ProcessIptablesRunner runner(iptables_mode(), netns_);
  return runner.restore(config_.family, payload);
}

std::expected<std::string, std::string> ProxyDriver::normalized_rules() {
  if (backend_ == Backend::Nftables) {
    const std::string family = config_.family == IpFamily::V4 ? "ip" : "ip6";
    auto result =
        run_process({"ip", "netns", "exec", netns_, "nft", "list", "table", family, config_.nftables_table});
    if (!result) return std::unexpected(result.error());
    if (!result->ok()) return std::unexpected("nft list table: " + result->err);
    return normalize_nft_listing(result->out);
  }
  ProcessIptablesRunner runner(iptables_mode(), netns_);
  std::string all;
  for (std::string_view table : {"filter", "nat"}) {
    auto text = runner.save(config_.family, table);
    if (!text) return std::unexpected(text.error());
    all += *text;
  }
  return normalize_iptables_save(all);
}

namespace {

// Reports every key of `before` or `after` whose value differs.
template <class Key, class Value>
void report_each(const std::map<Key, Value>& before, const std::map<Key, Value>& after,
                 const std::function<void(const Key&, std::optional<Value>)>& report) {
  for (const auto& [key, value] : before) {
    if (!after.contains(key)) report(key, std::nullopt);
  }
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    if (it == before.end() || !(it->second == value)) report(key, value);
  }
}

}  // namespace

void report_changes(ClusterListener& listener, const ClusterState& before, const ClusterState& after) {
  using Slices = std::map<std::string, EndpointSlice>;
  report_each<ObjectName, Service>(before.services, after.services,
                                   [&](const ObjectName& id, std::optional<Service> now) {
                                     listener.service_changed(id, std::move(now));
                                   });
  report_each<ObjectName, Slices>(before.slices, after.slices, [&](const ObjectName& service, std::optional<Slices> now) {
    static const Slices kNone;
    auto was = before.slices.find(service);
    report_each<std::string, EndpointSlice>(was == before.slices.end() ? kNone : was->second, now.value_or(kNone),
                                            [&](const std::string& name, std::optional<EndpointSlice> slice) {
                                              listener.slice_changed(service, name, std::move(slice));
                                            });
  });
  report_each<std::string, Node>(before.nodes, after.nodes, [&](const std::string& name, std::optional<Node> now) {
    listener.node_changed(name, std::move(now));
  });
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

std::vector<DriverKind> sync_loop_driver_kinds() {
  return {
      {"iptables_nft", ProxyDriver::Backend::IptablesNft},
      {"iptables_legacy", ProxyDriver::Backend::IptablesLegacy},
      {"nftables", ProxyDriver::Backend::Nftables},
  };
}

std::vector<DriverKind> all_driver_kinds() {
  std::vector<DriverKind> kinds = sync_loop_driver_kinds();
  for (const DriverKind& kind : sync_loop_driver_kinds()) {
    kinds.push_back({"apply_" + kind.name, kind.backend, ProxyDriver::Through::ApplyCommand});
  }
  return kinds;
}

}  // namespace kubenat::e2e
