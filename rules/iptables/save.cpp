#include "rules/iptables/save.h"

#include <algorithm>

namespace kubenat {

bool SavedTable::has_chain(std::string_view chain) const {
  return std::find(chains.begin(), chains.end(), chain) != chains.end();
}

std::map<std::string, SavedTable> parse_iptables_save(std::string_view text) {
  std::map<std::string, SavedTable> tables;
  SavedTable* table = nullptr;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      table = &tables[std::string(line.substr(1))];
      table->name = line.substr(1);
    } else if (table == nullptr) {
      continue;
    } else if (line[0] == ':') {
      table->chains.emplace_back(line.substr(1, line.find(' ') - 1));
    } else if (line.starts_with("-A ")) {
      line.remove_prefix(3);
      const std::size_t space = line.find(' ');
      const std::string chain(line.substr(0, space));
      table->rules[chain].emplace_back(space == std::string_view::npos ? std::string_view() : line.substr(space + 1));
    }
  }
  return tables;
}

}  // namespace kubenat
