#include "tests/support/fake_iptables.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>

namespace kubenat::testing {
namespace {

// Targets that are not chains: what kubenat, kube-proxy and the usual
// neighbours (Docker, CNI plugins, firewalld) jump to.
const std::set<std::string, std::less<>> kStandardTargets = {
    "ACCEPT", "DROP",     "REJECT", "RETURN", "QUEUE",   "MARK",   "CONNMARK", "DNAT",     "SNAT",
    "MASQUERADE", "REDIRECT", "LOG", "NFLOG", "CT",      "NOTRACK", "TPROXY",  "TCPMSS", "CHECKSUM"};

constexpr std::string_view kNoSuchChain = "No chain/target/match by that name.";

// The words of a rule, with double-quoted arguments kept whole.
std::vector<std::string_view> words(std::string_view rule) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < rule.size()) {
    while (i < rule.size() && rule[i] == ' ') ++i;
    if (i == rule.size()) break;
    const std::size_t start = i;
    bool quoted = false;
    while (i < rule.size() && (quoted || rule[i] != ' ')) {
      if (rule[i] == '"') quoted = !quoted;
      ++i;
    }
    out.push_back(rule.substr(start, i - start));
  }
  return out;
}

// The chain a rule jumps or goes to, if its target is not a standard one.
std::optional<std::string_view> chain_target(std::string_view rule) {
  const std::vector<std::string_view> w = words(rule);
  for (std::size_t i = 0; i + 1 < w.size(); ++i) {
    if ((w[i] == "-j" || w[i] == "-g" || w[i] == "--jump" || w[i] == "--goto") && !kStandardTargets.contains(w[i + 1])) {
      return w[i + 1];
    }
  }
  return std::nullopt;
}

// "CHAIN rest" into its parts; rest may be empty.
std::pair<std::string_view, std::string_view> split_first(std::string_view text) {
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return {text, {}};
  return {text.substr(0, space), text.substr(space + 1)};
}

std::string quote_argument(const std::string& arg) {
  if (!arg.empty() && arg.find(' ') == std::string::npos) return arg;
  return "\"" + arg + "\"";
}

}  // namespace

FakeIptables::FakeIptables() {
  const std::map<std::string, std::vector<std::string>> builtins = {
      {"filter", {"INPUT", "FORWARD", "OUTPUT"}},
      {"nat", {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}},
      {"mangle", {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}},
  };
  for (IpFamily family : {IpFamily::V4, IpFamily::V6}) {
    for (const auto& [name, chains] : builtins) {
      Table& table = state_[family][name];
      table.builtins = chains;
      for (const std::string& chain : chains) table.chains[chain] = Chain{"ACCEPT", {}};
    }
  }
}

std::expected<void, std::string> FakeIptables::apply(Tables& tables, std::string_view payload) {
  Table* table = nullptr;
  std::size_t line_number = 0;
  auto fail = [&line_number](std::string_view why) {
    return std::unexpected("iptables-restore: line " + std::to_string(line_number) + " failed: " + std::string(why));
  };
  auto is_builtin = [&table](std::string_view chain) {
    return std::find(table->builtins.begin(), table->builtins.end(), chain) != table->builtins.end();
  };
  auto referenced = [&table](std::string_view chain) {
    for (const auto& [name, c] : table->chains) {
      for (const Rule& rule : c.rules) {
        if (chain_target(rule.text) == chain) return true;
      }
    }
    return false;
  };
  // "-X CHAIN" or "-X" (every user chain).
  auto delete_chain = [&](std::string_view chain) -> std::optional<std::string> {
    auto it = table->chains.find(chain);
    if (it == table->chains.end()) return std::string(kNoSuchChain) + " (" + std::string(chain) + ")";
    if (is_builtin(chain)) return "cannot delete built-in chain " + std::string(chain);
    if (!it->second.rules.empty()) return "chain " + std::string(chain) + " is not empty";
    if (referenced(chain)) return "chain " + std::string(chain) + " is still referenced";
    table->chains.erase(it);
    return std::nullopt;
  };

  while (!payload.empty()) {
    ++line_number;
    const std::size_t end = std::min(payload.find('\n'), payload.size());
    const std::string_view line = payload.substr(0, end);
    payload.remove_prefix(std::min(end + 1, payload.size()));
    if (line.empty() || line.front() == '#') continue;

    if (line.front() == '*') {
      if (table != nullptr) return fail("COMMIT expected before a new table");
      auto found = tables.find(line.substr(1));
      if (found == tables.end()) return fail("no such table " + std::string(line.substr(1)));
      table = &found->second;
      continue;
    }
    if (table == nullptr) return fail("not in a table section");

    if (line == "COMMIT") {
      for (auto& [name, chain] : table->chains) {
        for (Rule& rule : chain.rules) {
          auto target = chain_target(rule.text);
          if (target && !table->chains.contains(*target)) {
            if (rule.line != 0) line_number = rule.line;
            return fail("chain " + name + " jumps to missing chain " + std::string(*target));
          }
        }
      }
      for (auto& [name, chain] : table->chains) {
        for (Rule& rule : chain.rules) rule.line = 0;
      }
      table = nullptr;
      continue;
    }

    if (line.front() == ':') {
      const std::vector<std::string_view> w = words(line.substr(1));
      if (w.empty() || w.size() > 3) return fail("bad chain line");
      const std::string_view name = w[0];
      const std::string_view policy = w.size() > 1 ? w[1] : "-";
      if (is_builtin(name)) {
        if (policy != "-") table->chains.find(name)->second.policy = policy;
      } else if (policy != "-") {
        return fail("a user chain has no policy");
      } else if (auto it = table->chains.find(name); it != table->chains.end()) {
        it->second.rules.clear();
      } else {
        table->chains.emplace(std::string(name), Chain{"-", {}});
      }
      continue;
    }

    const auto [command, rest] = split_first(line);
    const auto [chain_name, rule_text] = split_first(rest);
    if (command == "-F") {
      if (chain_name.empty()) {
        for (auto& [name, chain] : table->chains) chain.rules.clear();
      } else if (auto it = table->chains.find(chain_name); it != table->chains.end()) {
        it->second.rules.clear();
      } else {
        return fail(kNoSuchChain);
      }
      continue;
    }
    if (command == "-X") {
      if (!chain_name.empty()) {
        if (auto error = delete_chain(chain_name)) return fail(*error);
        continue;
      }
      std::vector<std::string> user;
      for (const auto& [name, chain] : table->chains) {
        if (!is_builtin(name)) user.push_back(name);
      }
      for (const std::string& name : user) {
        if (auto error = delete_chain(name)) return fail(*error);
      }
      continue;
    }
    if (command == "-N") {
      if (chain_name.empty() || table->chains.contains(chain_name)) return fail("chain already exists");
      table->chains.emplace(std::string(chain_name), Chain{"-", {}});
      continue;
    }
    if (command != "-A" && command != "-I" && command != "-D") return fail("unknown command");

    auto it = table->chains.find(chain_name);
    if (it == table->chains.end()) return fail(std::string(kNoSuchChain) + " (" + std::string(chain_name) + ")");
    std::vector<Rule>& rules = it->second.rules;
    if (command == "-A") {
      rules.push_back(Rule{std::string(rule_text), line_number});
    } else if (command == "-I") {
      std::size_t position = 1;
      std::string_view text = rule_text;
      const auto [first, after] = split_first(rule_text);
      if (!first.empty() && std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::from_chars(first.data(), first.data() + first.size(), position);
        text = after;
      }
      if (position == 0 || position > rules.size() + 1) return fail("index of insertion too big");
      rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(position - 1), Rule{std::string(text), line_number});
    } else {
      auto found = std::find_if(rules.begin(), rules.end(), [&](const Rule& r) { return r.text == rule_text; });
      if (found == rules.end()) return fail("Bad rule (does a matching rule exist in that chain?)");
      rules.erase(found);
    }
  }
  if (table != nullptr) {
    ++line_number;
    return fail("COMMIT expected");
  }
  return {};
}

std::expected<void, std::string> FakeIptables::restore(IpFamily family, const std::string& payload) {
  Restore call{family, payload, {}};
  if (fail_next_) {
    call.error = std::move(*fail_next_);
    fail_next_.reset();
  } else if (fail_at_text_ && payload.find(*fail_at_text_) != std::string::npos) {
    std::size_t line_number = 1;
    for (std::size_t start = 0; start < payload.size(); ++line_number) {
      const std::size_t end = std::min(payload.find('\n', start), payload.size());
      if (std::string_view(payload).substr(start, end - start).find(*fail_at_text_) != std::string_view::npos) break;
      start = end + 1;
    }
    call.error = "iptables-restore: line " + std::to_string(line_number) + " failed: refused by the (fake) kernel";
    fail_at_text_.reset();
  } else {
    Tables working = state_[family];
    if (auto ok = apply(working, payload); ok) {
      state_[family] = std::move(working);
    } else {
      call.error = ok.error();
    }
  }
  restores_.push_back(call);
  if (!call.ok()) return std::unexpected(call.error);
  return {};
}

void FakeIptables::seed(std::string_view payload, IpFamily family) {
  Tables working = state_[family];
  if (auto ok = apply(working, payload); !ok) throw std::runtime_error("FakeIptables::seed: " + ok.error());
  state_[family] = std::move(working);
}

void FakeIptables::fail_next_restore(std::string message) { fail_next_ = std::move(message); }

void FakeIptables::fail_next_restore_at_line_containing(std::string text) { fail_at_text_ = std::move(text); }

const FakeIptables::Table* FakeIptables::find_table(IpFamily family, std::string_view table) const {
  const Tables& tables = state_.at(family);
  auto it = tables.find(table);
  return it == tables.end() ? nullptr : &it->second;
}

std::expected<std::string, std::string> FakeIptables::save(IpFamily family, std::string_view table_name) {
  const Table* table = find_table(family, table_name);
  if (table == nullptr) return std::unexpected("iptables-save: no such table " + std::string(table_name));
  std::string out = "# Generated by FakeIptables\n*" + std::string(table_name) + "\n";
  const std::vector<std::string> names = chains(table_name, family);
  for (const std::string& name : names) {
    out += ":" + name + " " + table->chains.find(name)->second.policy + " [0:0]\n";
  }
  for (const std::string& name : names) {
    for (const Rule& rule : table->chains.find(name)->second.rules) out += "-A " + name + " " + rule.text + "\n";
  }
  out += "COMMIT\n# Completed\n";
  return out;
}

std::expected<ProcessResult, std::string> FakeIptables::run(IpFamily family, const std::vector<std::string>& args) {
  std::string table_name = "filter";
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-w" || args[i] == "--wait") continue;
    if ((args[i] == "-t" || args[i] == "--table") && i + 1 < args.size()) {
      table_name = args[++i];
      continue;
    }
    rest.push_back(args[i]);
  }
  if (rest.empty()) return std::unexpected("fake iptables: no command in " + describe_command(args));
  const Table* table = find_table(family, table_name);
  if (table == nullptr) return ProcessResult{3, "", "iptables: can't initialize table `" + table_name + "'\n"};
  const std::string& command = rest[0];
  const std::string chain = rest.size() > 1 ? rest[1] : "";
  const ProcessResult no_such_chain{1, "", "iptables: " + std::string(kNoSuchChain) + "\n"};

  if (command == "-S") {
    if (!chain.empty() && !table->chains.contains(chain)) return no_such_chain;
    std::string out;
    std::vector<std::string> names = chain.empty() ? chains(table_name, family) : std::vector<std::string>{chain};
    for (const std::string& name : names) {
      const Chain& c = table->chains.find(name)->second;
      out += c.policy == "-" ? "-N " + name + "\n" : "-P " + name + " " + c.policy + "\n";
    }
    for (const std::string& name : names) {
      for (const Rule& rule : table->chains.find(name)->second.rules) out += "-A " + name + " " + rule.text + "\n";
    }
    return ProcessResult{0, out, ""};
  }
  if (command == "-C") {
    if (!table->chains.contains(chain)) return no_such_chain;
    std::string text;
    for (std::size_t i = 2; i < rest.size(); ++i) text += (i > 2 ? " " : "") + quote_argument(rest[i]);
    const std::vector<Rule>& rules = table->chains.find(chain)->second.rules;
    const bool found = std::any_of(rules.begin(), rules.end(), [&](const Rule& r) { return r.text == text; });
    if (found) return ProcessResult{0, "", ""};
    return ProcessResult{1, "", "iptables: Bad rule (does a matching rule exist in that chain?).\n"};
  }
  if (command != "-F" && command != "-X" && command != "-N" && command != "-A" && command != "-I" && command != "-D") {
    return std::unexpected("fake iptables: unsupported command " + describe_command(args));
  }
  // The mutating commands are one-line restores of the same semantics.
  std::string line = command;
  for (std::size_t i = 1; i < rest.size(); ++i) line += " " + (i == 1 ? rest[i] : quote_argument(rest[i]));
  Tables working = state_[family];
  if (auto ok = apply(working, "*" + table_name + "\n" + line + "\nCOMMIT\n"); !ok) {
    return ProcessResult{1, "", "iptables: " + ok.error() + "\n"};
  }
  state_[family] = std::move(working);
  return ProcessResult{0, "", ""};
}

std::vector<std::string> FakeIptables::chains(std::string_view table_name, IpFamily family) const {
  const Table* table = find_table(family, table_name);
  if (table == nullptr) return {};
  std::vector<std::string> out = table->builtins;
  const std::vector<std::string> user = user_chains(table_name, family);
  out.insert(out.end(), user.begin(), user.end());
  return out;
}

std::vector<std::string> FakeIptables::user_chains(std::string_view table_name, IpFamily family) const {
  const Table* table = find_table(family, table_name);
  std::vector<std::string> out;
  if (table == nullptr) return out;
  for (const auto& [name, chain] : table->chains) {
    if (chain.policy == "-") out.push_back(name);
  }
  return out;
}

std::vector<std::string> FakeIptables::rules(std::string_view table_name, std::string_view chain,
                                             IpFamily family) const {
  std::vector<std::string> out;
  const Table* table = find_table(family, table_name);
  if (table == nullptr) return out;
  auto it = table->chains.find(chain);
  if (it == table->chains.end()) return out;
  for (const Rule& rule : it->second.rules) out.push_back(rule.text);
  return out;
}

bool FakeIptables::has_chain(std::string_view table_name, std::string_view chain, IpFamily family) const {
  const Table* table = find_table(family, table_name);
  return table != nullptr && table->chains.contains(chain);
}

std::vector<std::string> differences_from_plan(const FakeIptables& iptables, const IptablesPlan& plan,
                                               const std::set<std::string, std::less<>>& ignored) {
  std::vector<std::string> out;
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    const std::string name(table_name(table));
    std::map<std::string, std::vector<std::string>> planned;
    for (const IptablesChain& chain : plan.chains(table)) planned[chain.name.str()] = chain.rules();
    for (const std::string& chain : iptables.user_chains(name, plan.family)) {
      if (ignored.contains(chain)) continue;
      auto it = planned.find(chain);
      if (it == planned.end()) {
        out.push_back(name + " " + chain + ": not in the plan");
        continue;
      }
      const std::vector<std::string> held = iptables.rules(name, chain, plan.family);
      if (held != it->second) {
        std::string message = name + " " + chain + ": holds";
        for (const std::string& rule : held) message += "\n    " + rule;
        message += "\n  the plan says";
        for (const std::string& rule : it->second) message += "\n    " + rule;
        out.push_back(message);
      }
      planned.erase(it);
    }
    for (const auto& [chain, rules] : planned) out.push_back(name + " " + chain + ": missing");
  }
  return out;
}

}  // namespace kubenat::testing
