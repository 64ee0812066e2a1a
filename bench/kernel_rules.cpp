#include "bench/kernel_rules.h"

#include <algorithm>
#include <map>
#include <regex>

#include "engine/process.h"
#include "rules/iptables/save.h"

namespace kubenat::bench {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string_view trimmed(std::string_view line) {
  const std::size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const std::size_t last = line.find_last_not_of(" \t");
  return line.substr(first, last - first + 1);
}

int brace_balance(std::string_view line) {
  int balance = 0;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '{') ++balance;
    if (c == '}') --balance;
  }
  return balance;
}

// Splits "a, b, { c, d }, e" at the commas outside braces and quotes.
std::vector<std::string> split_elements(std::string_view text) {
  std::vector<std::string> elements;
  std::string current;
  int depth = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '{') ++depth;
    if (!quoted && c == '}') --depth;
    if (!quoted && depth == 0 && c == ',') {
      elements.push_back(std::string(trimmed(current)));
      current.clear();
      continue;
    }
    current += c;
  }
  if (!trimmed(current).empty()) elements.push_back(std::string(trimmed(current)));
  return elements;
}

std::string without_counter_values(std::string_view line) {
  if (line.find("counter packets") == std::string_view::npos) return std::string(line);
  static const std::regex counter("counter packets [0-9]+ bytes [0-9]+");
  return std::regex_replace(std::string(line), counter, "counter");
}

// One chain, set, map (or other object) of a table: its lines, trimmed,
// with an element list turned into one element per line, sorted.
std::vector<std::string> normalized_block(const std::vector<std::string_view>& lines) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = trimmed(lines[i]);
    if (line.empty()) continue;
    if (!line.starts_with("elements = {")) {
      out.push_back(without_counter_values(line));
      continue;
    }
    // The list runs to the line where its braces close; nft wraps it.
    std::string list(line.substr(std::string_view("elements = {").size()));
    int depth = brace_balance(line);
    while (depth > 0 && i + 1 < lines.size()) {
      ++i;
      list += " ";
      list += trimmed(lines[i]);
      depth += brace_balance(lines[i]);
    }
    const std::size_t close = list.rfind('}');
    std::vector<std::string> elements = split_elements(list.substr(0, close));
    std::sort(elements.begin(), elements.end());
    out.push_back("elements = {");
    for (const std::string& element : elements) out.push_back("  " + element);
    out.push_back("}");
  }
  return out;
}

}  // namespace

std::string normalize_nft_ruleset(std::string_view text) {
  const std::vector<std::string_view> lines = split_lines(text);
  // table header -> (its own lines, its objects by first line)
  struct Table {
    std::vector<std::string> attributes;
    std::multimap<std::string, std::vector<std::string>> objects;
  };
  std::map<std::string, Table> tables;
  Table* table = nullptr;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = trimmed(lines[i]);
    if (line.empty()) continue;
    if (table == nullptr) {
      if (line.starts_with("table ")) table = &tables[std::string(line)];
      continue;
    }
    if (line == "}") {
      table = nullptr;
      continue;
    }
    const int balance = brace_balance(line);
    if (balance <= 0) {
      table->attributes.push_back(std::string(line));
      continue;
    }
    // An object: to the line where its braces close.
    std::vector<std::string_view> body;
    int depth = balance;
    while (depth > 0 && i + 1 < lines.size()) {
      ++i;
      depth += brace_balance(lines[i]);
      if (depth > 0) body.push_back(lines[i]);
    }
    table->objects.emplace(std::string(line), normalized_block(body));
  }
  std::string out;
  for (const auto& [header, content] : tables) {
    out += header + "\n";
    for (const std::string& attribute : content.attributes) out += "  " + attribute + "\n";
    for (const auto& [first, body] : content.objects) {
      out += "  " + first + "\n";
      for (const std::string& line : body) out += "    " + line + "\n";
      out += "  }\n";
    }
    out += "}\n";
  }
  return out;
}

std::string normalize_iptables_rules(std::string_view text) {
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

std::expected<std::string, std::string> dump_kernel_rules(const std::string& netns, BenchBackend backend) {
  const std::vector<std::string> command = backend == BenchBackend::Nftables
                                               ? std::vector<std::string>{"nft", "list", "ruleset"}
                                               : std::vector<std::string>{"iptables-save"};
  std::vector<std::string> argv = {"ip", "netns", "exec", netns};
  argv.insert(argv.end(), command.begin(), command.end());
  auto listed = run_process(argv, ProcessOptions{.input = {}, .timeout = std::chrono::minutes(5)});
  if (!listed) return std::unexpected(listed.error());
  if (!listed->ok()) {
    return std::unexpected(describe_command(argv) + ": exit status " + std::to_string(listed->exit_status) + ": " +
                           listed->err);
  }
  return backend == BenchBackend::Nftables ? normalize_nft_ruleset(listed->out) : normalize_iptables_rules(listed->out);
}

RulesDifference compare_rules(std::string_view first, std::string_view second, std::size_t examples) {
  std::map<std::string_view, long> balance;  // first's count minus second's
  const std::vector<std::string_view> first_lines = split_lines(first);
  const std::vector<std::string_view> second_lines = split_lines(second);
  for (std::string_view line : first_lines) ++balance[line];
  for (std::string_view line : second_lines) --balance[line];
  RulesDifference difference;
  for (const auto& [line, count] : balance) {
    if (count > 0) difference.only_in_first += static_cast<std::size_t>(count);
    if (count < 0) difference.only_in_second += static_cast<std::size_t>(-count);
  }
  // Examples in the order of the dumps, so that they read in context.
  auto pick = [&](const std::vector<std::string_view>& lines, bool in_first, std::vector<std::string>& out) {
    std::map<std::string_view, long> left = balance;
    for (std::string_view line : lines) {
      if (out.size() >= examples) break;
      long& count = left[line];
      if (in_first ? count > 0 : count < 0) {
        out.push_back(std::string(line));
        count += in_first ? -1 : 1;
      }
    }
  };
  pick(first_lines, true, difference.first_examples);
  pick(second_lines, false, difference.second_examples);
  return difference;
}

}  // namespace kubenat::bench
