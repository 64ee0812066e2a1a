#pragma once

// The rules a network namespace's kernel holds, as text that two kernels
// holding the same rules print alike: for comparing the rules a daemon
// reached by many small changes with those of a fresh full sync. The
// normalisers are pure; dump_kernel_rules runs nft or iptables-save.

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_options.h"

namespace kubenat::bench {

// `nft list ruleset` with what depends on the order of creation taken out:
// tables sorted, and in each its chains, sets and maps sorted by their
// first line; set and map elements one per line, sorted; counters without
// their numbers. A chain's rules keep their order (it is their meaning).
std::string normalize_nft_ruleset(std::string_view text);

// iptables-save output, every table sorted by name with its chains sorted
// (iptables-nft lists them in creation order) and each chain's rules in
// order; counters and comments dropped.
std::string normalize_iptables_rules(std::string_view text);

// The normalised rules of namespace `netns` for `backend`: nftables, the
// whole ruleset (`nft list ruleset`); iptables, every table
// (`iptables-save`, the variant `iptables` is on this host, which `kubenat
// run --iptables-mode auto` writes with). The error names the command.
[[nodiscard]] std::expected<std::string, std::string> dump_kernel_rules(const std::string& netns, BenchBackend backend);

struct RulesDifference {
  std::size_t only_in_first = 0;  // lines, counted with multiplicity
  std::size_t only_in_second = 0;
  std::vector<std::string> first_examples;  // a few of them, in order
  std::vector<std::string> second_examples;

  bool empty() const { return only_in_first == 0 && only_in_second == 0; }
};

// The lines of one normalised dump the other lacks (order aside: a rule
// moved within its chain shows as one line missing on each side), with up
// to `examples` of each.
RulesDifference compare_rules(std::string_view first, std::string_view second, std::size_t examples = 5);

}  // namespace kubenat::bench
