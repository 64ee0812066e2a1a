#pragma once

// The iptables commands the iptables backend needs, behind one interface:
// the process-running implementation drives the real tools (iptables-nft or
// iptables-legacy, optionally inside a network namespace), and tests use an
// in-memory fake (tests/support/fake_iptables.h).

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/process.h"
#include "rules/ip.h"

namespace kubenat {

class IptablesRunner {
 public:
  virtual ~IptablesRunner() = default;

  // iptables-restore --noflush --wait (ip6tables-restore for IPv6) with
  // `payload` on its standard input. The whole payload applies or none of
  // it. The error is iptables-restore's message.
  [[nodiscard]] virtual std::expected<void, std::string> restore(IpFamily family, const std::string& payload) = 0;

  // iptables-save -t <table>: the table as text.
  [[nodiscard]] virtual std::expected<std::string, std::string> save(IpFamily family, std::string_view table) = 0;

  // iptables -w <args>. The result carries the exit status: 1 is an answer
  // for -C and -S, not a failure to run.
  [[nodiscard]] virtual std::expected<ProcessResult, std::string> run(IpFamily family,
                                                                      const std::vector<std::string>& args) = 0;
};

enum class IptablesMode { Nft, Legacy };

// Runs iptables-nft-* or iptables-legacy-* (and the ip6tables variants),
// inside `netns` (via `ip netns exec`) when one is given.
class ProcessIptablesRunner final : public IptablesRunner {
 public:
  explicit ProcessIptablesRunner(IptablesMode mode, std::optional<std::string> netns = std::nullopt)
      : mode_(mode), netns_(std::move(netns)) {}

  std::expected<void, std::string> restore(IpFamily family, const std::string& payload) override;
  std::expected<std::string, std::string> save(IpFamily family, std::string_view table) override;
  std::expected<ProcessResult, std::string> run(IpFamily family, const std::vector<std::string>& args) override;

 private:
  std::vector<std::string> command(IpFamily family, std::string_view tool) const;

  IptablesMode mode_;
  std::optional<std::string> netns_;
};

// How large one iptables-restore call should be. iptables-nft-restore's
// userspace cost grows with the square of a call's size, so large changes go
// in calls of about 128 KiB (10,000 services x 10 endpoints: 7 s in 237
// calls, against more than 850 s in one). iptables-legacy swaps the whole
// table blob on every call, so there one call is cheapest (0 = no limit).
std::size_t recommended_payload_bytes(IptablesMode mode);

// "nft" or "legacy": the flavour the `iptables` on this host uses, read from
// `iptables --version`; nft when it cannot tell.
IptablesMode detect_iptables_mode();

}  // namespace kubenat
