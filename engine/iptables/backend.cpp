#include "engine/iptables/backend.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "rules/iptables/save.h"

namespace kubenat {
namespace {

constexpr std::string_view kCanaryRule = "-m comment --comment \"kubenat canary\" -j RETURN";

// iptables-restore names the refused line ("line N failed" from the legacy
// tool, "Error occurred at line: N" from the nft one): that line of the
// payload, or nullopt when the message names none.
std::optional<std::string_view> refused_line(const std::string& payload, const std::string& message) {
  std::size_t at = message.find("line: ");
  std::size_t skip = 6;
  if (at == std::string::npos) {
    at = message.find("line ");
    skip = 5;
  }
  if (at == std::string::npos) return std::nullopt;
  std::size_t line = 0;
  const char* begin = message.data() + at + skip;
  auto [end, ec] = std::from_chars(begin, message.data() + message.size(), line);
  if (ec != std::errc() || line == 0) return std::nullopt;
  std::size_t start = 0;
  for (std::size_t n = 1; n < line && start != std::string::npos; ++n) {
    start = payload.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos || start >= payload.size()) return std::nullopt;
  return std::string_view(payload.data() + start, payload.find('\n', start) - start);
}

// The chain a payload line names (":CHAIN", "-A CHAIN ...", "-X CHAIN", ...).
std::optional<std::string> chain_of(std::string_view text) {
  if (text.starts_with(":")) return std::string(text.substr(1, text.find(' ') - 1));
  if (text.starts_with("-A ") || text.starts_with("-X ") || text.starts_with("-I ") || text.starts_with("-D ")) {
    text.remove_prefix(3);
    return std::string(text.substr(0, text.find(' ')));
  }
  return std::nullopt;
}

// The canary chains and the jump rules that are missing from the built-in
// chains, as one payload.
std::string ensure_payload(const IptablesPlan& plan, const std::map<std::string, SavedTable>& saved) {
  std::string out;
  for (std::string_view table : {"mangle", "filter", "nat"}) {
    out += '*';
    out += table;
    out += '\n';
    out += ':';
    out += kCanaryChain;
    out += " - [0:0]\n";
    out += "-A ";
    out += kCanaryChain;
    out += ' ';
    out += kCanaryRule;
    out += '\n';
    auto saved_table = saved.find(std::string(table));
    // Jumps are listed top-down per built-in chain; inserting each missing
    // one at the top, bottom-up, puts them in that order.
    for (auto jump = plan.jumps.rbegin(); jump != plan.jumps.rend(); ++jump) {
      if (table_name(jump->table) != table) continue;
      bool present = false;
      if (saved_table != saved.end()) {
        auto rules = saved_table->second.rules.find(jump->chain);
        present = rules != saved_table->second.rules.end() &&
                  std::find(rules->second.begin(), rules->second.end(), jump->rule) != rules->second.end();
      }
      if (present) continue;
      out += "-I ";
      out += jump->chain;
      out += " 1 ";
      out += jump->rule;
      out += '\n';
    }
    out += "COMMIT\n";
  }
  return out;
}

}  // namespace

void IptablesBackend::count_rules(const IptablesChange& change, IptablesApplyStats& stats) {
  for (const ChainWrite& write : change.writes) {
    stats.rules_written[static_cast<std::size_t>(write.table)] +=
        static_cast<std::size_t>(std::count(write.chain.lines.begin(), write.chain.lines.end(), '\n'));
  }
  for (const RuleEdit& edit : change.edits) {
    if (edit.kind == RuleEdit::Kind::Insert) ++stats.rules_written[static_cast<std::size_t>(edit.table)];
  }
  stats.rules_edited = change.edits.size();
}

std::expected<void, IptablesApplyError> IptablesBackend::restore_all(const std::vector<std::string>& payloads,
                                                             IptablesApplyStats& stats) {
  for (const std::string& payload : payloads) {
    if (auto ok = runner_.restore(family_, payload); !ok) {
      const std::optional<std::string_view> line = refused_line(payload, ok.error());
      const bool edit = line && (line->starts_with("-D ") || line->starts_with("-I "));
      return std::unexpected(IptablesApplyError{ok.error(), line ? chain_of(*line) : std::nullopt, stats, edit});
    }
    stats.bytes += payload.size();
    ++stats.payloads;
  }
  return {};
}

std::expected<IptablesApplyStats, IptablesApplyError> IptablesBackend::apply(const IptablesChange& change) {
  IptablesApplyStats stats;
  if (change.empty()) return stats;
  if (auto ok = restore_all(render_iptables_change(change, options_.max_payload_bytes), stats); !ok) {
    return std::unexpected(ok.error());
  }
  stats.chains_written = change.writes.size();
  stats.chains_deleted = change.deletes.size();
  count_rules(change, stats);
  return stats;
}

std::expected<IptablesApplyStats, IptablesApplyError> IptablesBackend::apply_full(const IptablesPlan& plan) {
  std::map<std::string, SavedTable> saved;
  for (std::string_view table : {"filter", "nat"}) {
    auto text = runner_.save(family_, table);
    if (!text) return std::unexpected(IptablesApplyError{text.error(), std::nullopt, {}});
    for (auto& [name, parsed] : parse_iptables_save(*text)) saved[name] = std::move(parsed);
  }

  IptablesChange change = full_iptables_change(plan);
  std::set<std::string_view> planned;
  for (const ChainWrite& write : change.writes) {
    if (write.table == IptablesTable::Nat) planned.insert(write.chain.name.view());
  }
  if (auto nat = saved.find("nat"); nat != saved.end()) {
    for (const std::string& chain : nat->second.chains) {
      // KUBE-XLB- chains are what kube-proxy before 1.24 called KUBE-SVL-.
      const bool ours = is_service_chain(chain) || chain.starts_with("KUBE-XLB-");
      if (ours && !planned.contains(chain)) {
        change.deletes.push_back(ChainDelete{IptablesTable::Nat, ChainName(chain)});
      }
    }
  }

  IptablesApplyStats stats;
  std::vector<std::string> payloads = render_iptables_change(change, options_.max_payload_bytes);
  payloads.push_back(ensure_payload(plan, saved));
  if (auto ok = restore_all(payloads, stats); !ok) return std::unexpected(ok.error());
  stats.chains_written = change.writes.size();
  stats.chains_deleted = change.deletes.size();
  count_rules(change, stats);
  return stats;
}

std::expected<bool, std::string> IptablesBackend::canary_intact() {
  for (std::string_view table : {"mangle", "nat", "filter"}) {
    auto result = runner_.run(family_, {"-t", std::string(table), "-S", std::string(kCanaryChain)});
    if (!result) return std::unexpected(result.error());
    if (!result->ok()) return false;  // no such chain
    if (result->out.find(kCanaryRule) == std::string::npos) return false;
  }
  return true;
}

}  // namespace kubenat
