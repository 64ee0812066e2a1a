#pragma once

// Puts iptables plans into the kernel: iptables-restore --noflush with only
// the chains that changed, in bounded payloads. It owns nothing but the
// chains it names (KUBE-*): other people's chains and rules are never
// touched, built-in chains only get kubenat's jump rules.

#include <array>
#include <cstddef>
#include <expected>
#include <optional>
#include <string>

#include "engine/iptables/runner.h"
#include "rules/iptables/change.h"
#include "rules/iptables/plan.h"

namespace kubenat {

struct IptablesApplyStats {
  std::size_t bytes = 0;     // handed to iptables-restore
  std::size_t payloads = 0;  // iptables-restore calls
  std::size_t chains_written = 0;
  std::size_t chains_deleted = 0;
  // Rules deleted from or inserted into shared chains in place.
  std::size_t rules_edited = 0;
  // Rules in the chains written and rules inserted, by IptablesTable (kube-proxy's
  // sync_proxy_rules_iptables_last).
  std::array<std::size_t, 2> rules_written{};
};

struct IptablesApplyError {
  std::string message;
  // The chain being written at the refused line, when it could be told.
  std::optional<std::string> chain;
  IptablesApplyStats done;  // what was applied before the failure
  // The refused line edits a shared chain in place (`-D`, `-I`): the chain
  // does not hold what kubenat wrote into it.
  bool in_place_edit = false;
};

// The chain kubenat keeps in mangle, nat and filter to notice when someone
// flushes or deletes rules behind its back (firewalld reloads, `iptables -F`).
inline constexpr std::string_view kCanaryChain = "KUBE-PROXY-CANARY";

class IptablesBackend {
 public:
  struct Options {
    // Payloads are cut at about this size: iptables-nft-restore's userspace
    // cost grows with the square of one call's size (../shared/KERNEL_COSTS.md).
    std::size_t max_payload_bytes = 128 * 1024;
  };

  IptablesBackend(IptablesRunner& runner, IpFamily family, Options options)
      : runner_(runner), family_(family), options_(options) {}
  IptablesBackend(IptablesRunner& runner, IpFamily family) : IptablesBackend(runner, family, Options{}) {}

  // Writes the change's chains, edits its shared rules in place and deletes
  // its dead chains. On failure the
  // payloads before the refused one stay applied (each leaves the kernel
  // consistent); the caller must follow with apply_full.
  [[nodiscard]] std::expected<IptablesApplyStats, IptablesApplyError> apply(const IptablesChange& change);

  // Makes the kernel hold exactly the plan: every chain of the plan
  // rewritten, every per-service chain (KUBE-SVC/SVL/EXT/FW/SEP) the plan
  // lacks deleted, whoever left it (an earlier run, kube-proxy), the jumps
  // from the built-in chains and the canary ensured.
  [[nodiscard]] std::expected<IptablesApplyStats, IptablesApplyError> apply_full(const IptablesPlan& plan);

  // False when a canary chain or its rule is missing from mangle, nat or
  // filter: the tables were flushed or rebuilt since the last full sync.
  [[nodiscard]] std::expected<bool, std::string> canary_intact();

 private:
  static void count_rules(const IptablesChange& change, IptablesApplyStats& stats);
  std::expected<void, IptablesApplyError> restore_all(const std::vector<std::string>& payloads, IptablesApplyStats& stats);

  IptablesRunner& runner_;
  IpFamily family_;
  Options options_;
};

}  // namespace kubenat
