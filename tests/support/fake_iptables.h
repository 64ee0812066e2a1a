#pragma once

// An in-memory iptables for unit tests: the mangle, filter and nat tables of
// both families, with their built-in chains, behind the IptablesRunner
// interface the iptables backend drives.
//
// restore() follows iptables-restore --noflush closely enough to catch
// ordering bugs in what kubenat writes:
// - a payload is `*table` ... `COMMIT` sections; blank and `#` lines are
//   skipped, any line it does not know fails the restore;
// - `:CHAIN - [0:0]` creates a user chain, or flushes it when it exists;
//   `:BUILTIN POLICY [0:0]` only sets the policy (built-ins are not flushed);
// - `-A CHAIN rule` appends, `-I CHAIN [N] rule` inserts at N (1-based,
//   default 1), `-D CHAIN rule` deletes the first identical rule, `-N CHAIN`
//   creates, `-F [CHAIN]` flushes, `-X CHAIN` deletes: the chain must exist,
//   must be a user chain, must be empty, and no rule of the table may jump
//   to it;
// - at each COMMIT every rule's jump target (`-j`/`-g`) that is not a
//   standard target (ACCEPT, DROP, DNAT, ...) must be a chain of that table.
// A refused payload fails with "iptables-restore: line N failed: <why>",
// N being the 1-based payload line at fault, and changes nothing: the whole
// payload applies or none of it, as the IptablesRunner contract says.
//
// Rules are compared as text, exactly as written (kubenat writes them the
// way iptables-save prints them).

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/iptables/backend.h"
#include "engine/iptables/runner.h"
#include "rules/iptables/plan.h"

namespace kubenat::testing {

class FakeIptables final : public IptablesRunner {
 public:
  // One restore() call, in call order.
  struct Restore {
    IpFamily family = IpFamily::V4;
    std::string payload;
    std::string error;  // empty when the payload was applied
    bool ok() const { return error.empty(); }
  };

  FakeIptables();

  // iptables-restore --noflush (see above). Logged in restores().
  std::expected<void, std::string> restore(IpFamily family, const std::string& payload) override;

  // iptables-save -t <table>: built-in chains first (with policy), then user
  // chains sorted by name (with "-"), then the rules chain by chain.
  std::expected<std::string, std::string> save(IpFamily family, std::string_view table) override;

  // iptables [-w] [-t TABLE] COMMAND: -S [CHAIN], -F [CHAIN], -X [CHAIN],
  // -N CHAIN, -A/-I/-D/-C CHAIN ARGS... (arguments holding spaces are
  // quoted, as iptables-save prints them). A missing chain or rule exits 1
  // with iptables' "No chain/target/match by that name." on stderr. Unknown
  // commands are an error value. Not logged in restores().
  std::expected<ProcessResult, std::string> run(IpFamily family, const std::vector<std::string>& args) override;

  // The next restore() fails with `message` and changes nothing.
  void fail_next_restore(std::string message);
  // The next restore() whose payload has a line containing `text` fails at
  // the first such line, as if the kernel refused it, and changes nothing.
  void fail_next_restore_at_line_containing(std::string text);

  // Applies `payload` with restore() semantics, without logging it: for
  // seeding foreign chains and rules. Throws std::runtime_error if refused.
  void seed(std::string_view payload, IpFamily family = IpFamily::V4);

  const std::vector<Restore>& restores() const { return restores_; }
  void clear_restores() { restores_.clear(); }

  // Every chain of the table: built-ins in hook order, then user chains by
  // name. Empty for an unknown table.
  std::vector<std::string> chains(std::string_view table, IpFamily family = IpFamily::V4) const;
  // User-defined chains only, by name.
  std::vector<std::string> user_chains(std::string_view table, IpFamily family = IpFamily::V4) const;
  // The chain's rules (text after "-A CHAIN "), in order; empty when the
  // chain does not exist.
  std::vector<std::string> rules(std::string_view table, std::string_view chain,
                                 IpFamily family = IpFamily::V4) const;
  bool has_chain(std::string_view table, std::string_view chain, IpFamily family = IpFamily::V4) const;

 private:
  struct Rule {
    std::string text;
    std::size_t line = 0;  // payload line that added it, during one restore; 0 otherwise
  };
  struct Chain {
    std::string policy;  // "ACCEPT" for built-ins, "-" for user chains
    std::vector<Rule> rules;
  };
  struct Table {
    std::vector<std::string> builtins;
    std::map<std::string, Chain, std::less<>> chains;
  };
  using Tables = std::map<std::string, Table, std::less<>>;

  // Applies the payload to `tables` (a copy the caller commits on success).
  std::expected<void, std::string> apply(Tables& tables, std::string_view payload);

  const Table* find_table(IpFamily family, std::string_view table) const;

  std::map<IpFamily, Tables> state_;
  std::vector<Restore> restores_;
  std::optional<std::string> fail_next_;
  std::optional<std::string> fail_at_text_;
};

// How the user chains of the fake's filter and nat tables (of the plan's
// family) differ from the plan's chains: one line per missing, extra or
// different chain, none when the fake holds exactly the plan. Chains named
// in `ignored` (the canary, someone else's chains) are left out.
std::vector<std::string> differences_from_plan(const FakeIptables& iptables, const IptablesPlan& plan,
                                               const std::set<std::string, std::less<>>& ignored = {
                                                   std::string(kCanaryChain)});

}  // namespace kubenat::testing
