// Upstream kube-proxy's own expected rulesets, replayed through
// `kubenat plan`: for each case in tests/rules/iptables/golden/upstream, the same
// input and settings must give the same rules, compared after the
// normalization upstream's assertIPTablesRulesEqual applies (see the README
// there). The one known difference is the mark: upstream's fake proxier
// prints "0x4000" where production kube-proxy, and kubenat, print
// "0x00004000".

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/plan_dump.h"
#include "tools/kubenat/commands.h"

namespace kubenat {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(KUBENAT_SOURCE_DIR) / "tests/rules/iptables/golden/upstream";

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

// The "service name" upstream sorts shared chains by: the comment without
// quotes, cut at the first space or colon.
std::optional<std::string> service_name(const std::string& rule) {
  const std::string marker = "--comment ";
  auto at = rule.find(marker);
  if (at == std::string::npos) return std::nullopt;
  std::string rest = rule.substr(at + marker.size());
  if (!rest.empty() && rest[0] == '"') {
    rest = rest.substr(1, rest.find('"', 1) - 1);
  } else {
    rest = rest.substr(0, rest.find(' '));
  }
  return rest.substr(0, rest.find_first_of(" :"));
}

int chain_rank(const std::string& chain) {
  if (chain == "KUBE-NODEPORTS") return 0;
  if (chain == "KUBE-SERVICES") return 1;
  if (chain.starts_with("KUBE-")) return 2;
  return 3;
}

// upstream's sortIPTablesRules: tables by name; chains KUBE-NODEPORTS,
// KUBE-SERVICES, other KUBE-*, then the rest; rules in order except the
// service-sorted shared chains. Rules of undeclared chains (our jumps from
// the built-in chains, which upstream ensures outside the restore) are
// dropped.
std::string normalize(const std::string& text) {
  struct Table {
    std::vector<std::string> chains;
    std::map<std::string, std::vector<std::string>> rules;
  };
  std::map<std::string, Table> tables;
  Table* table = nullptr;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line == "COMMIT") continue;
    if (line[0] == '*') {
      table = &tables[line.substr(1)];
    } else if (line[0] == ':') {
      table->chains.push_back(line.substr(1, line.find(' ') - 1));
    } else if (line.starts_with("-A ")) {
      const std::string chain = line.substr(3, line.find(' ', 3) - 3);
      if (std::find(table->chains.begin(), table->chains.end(), chain) == table->chains.end()) continue;
      table->rules[chain].push_back(line);
    }
  }
  std::string out;
  for (auto& [name, t] : tables) {
    std::stable_sort(t.chains.begin(), t.chains.end(), [](const std::string& a, const std::string& b) {
      return chain_rank(a) != chain_rank(b) ? chain_rank(a) < chain_rank(b) : a < b;
    });
    for (const char* sorted : {"KUBE-NODEPORTS", "KUBE-SERVICES"}) {
      if (name == "nat" && std::string(sorted) == "KUBE-SERVICES") {
        std::stable_sort(t.rules[sorted].begin(), t.rules[sorted].end(), [](const std::string& a, const std::string& b) {
          const bool a_last = a.find("must be the last rule") != std::string::npos;
          const bool b_last = b.find("must be the last rule") != std::string::npos;
          if (a_last || b_last) return !a_last && b_last;
          auto na = service_name(a), nb = service_name(b);
          return na && nb && *na < *nb;
        });
        continue;
      }
      std::stable_sort(t.rules[sorted].begin(), t.rules[sorted].end(), [](const std::string& a, const std::string& b) {
        auto na = service_name(a), nb = service_name(b);
        return na && nb && *na < *nb;
      });
    }
    out += "*" + name + "\n";
    for (const std::string& chain : t.chains) out += ":" + chain + " - [0:0]\n";
    for (const std::string& chain : t.chains) {
      for (const std::string& rule : t.rules[chain]) out += rule + "\n";
    }
    out += "COMMIT\n";
  }
  return out;
}

std::string upstream_mark(std::string text) {
  for (std::size_t at; (at = text.find("0x00004000")) != std::string::npos;) text.replace(at, 10, "0x4000");
  return text;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kGoldenDir)) {
    if (entry.path().extension() == ".expected") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class UpstreamGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(UpstreamGolden, PlanEqualsUpstreamRuleset) {
  const fs::path base = kGoldenDir / GetParam();
  std::vector<std::string> args = split_words(read_file(base.string() + ".args"));
  const bool ipv6 = std::find(args.begin(), args.end(), "ipv6") != args.end();
  args.insert(args.end(), {"--snapshot", base.string() + ".json"});
  std::ostringstream out, err;
  ASSERT_EQ(plan_command(args, out, err), 0) << err.str();
  EXPECT_EQ(err.str(), "") << "no warnings expected for upstream's inputs";
  EXPECT_EQ(normalize(upstream_mark(out.str())), read_file(base.string() + ".expected"));
  testing::dump_rules_for_kernel_check(out.str(), ipv6 ? IpFamily::V6 : IpFamily::V4);
}

INSTANTIATE_TEST_SUITE_P(Cases, UpstreamGolden, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& param) { return param.param; });

TEST(UpstreamGoldenCorpus, HasTheExpectedCases) { EXPECT_GE(case_names().size(), 25u); }

}  // namespace
}  // namespace kubenat
