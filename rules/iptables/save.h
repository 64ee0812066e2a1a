#pragma once

// Reading iptables-save output: which chains a table holds and their rules.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kubenat {

struct SavedTable {
  std::string name;
  // Every chain, built-in or not, in the order iptables-save lists them.
  std::vector<std::string> chains;
  // Rules by chain: the text after "-A <chain> ", in order.
  std::map<std::string, std::vector<std::string>> rules;

  bool has_chain(std::string_view chain) const;
};

// The tables of iptables-save output, by name. Comment lines, counters and
// COMMIT lines are dropped; lines it does not understand are ignored.
std::map<std::string, SavedTable> parse_iptables_save(std::string_view text);

}  // namespace kubenat
