#pragma once

// The proxy under test, as the end-to-end traffic tests see it: something
// that makes a node namespace's kernel hold the rules for a cluster state.
// One kind per backend and mode, so that one parametrized suite proves them
// all with the same packets.

#include <expected>
#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/daemon/proxy_stack.h"
#include "engine/iptables/runner.h"
#include "engine/sync_loop.h"
#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat::e2e {

// kubenat programming network namespace `netns` with one backend, driven
// one of two ways:
// - Through::SyncLoop: the daemon's proxy stack (engine/daemon/
//   proxy_stack.h) in this process, driven as `kubenat run` drives it: each
//   sync() hands the sync loop the objects that changed since the last one,
//   as the watch would, and the loop recompiles those Services alone and
//   applies the diff. The first sync is full.
// - Through::ApplyCommand: the `kubenat apply` program with the state as its
//   snapshot, run inside the namespace: every sync is a full sync by a new
//   process, which adopts what the last one left.
class ProxyDriver {
 public:
  enum class Backend { IptablesNft, IptablesLegacy, Nftables };
  enum class Through { SyncLoop, ApplyCommand };

  ProxyDriver(Backend backend, Through through, std::string netns, ProxyConfig config);

  // Brings the node's kernel to `state` through the sync loop.
  [[nodiscard]] std::expected<SyncResult, std::string> sync(const ClusterState& state);
  // The next sync() is full, as the hourly resync is.
  void force_full_sync();
  // What someone else does behind kubenat's back: flush the NAT rules (or
  // the nftables ruleset).
  [[nodiscard]] std::expected<void, std::string> external_flush();
  // Rules written by some other program (kube-proxy, docker): an
  // iptables-restore --noflush payload, or `nft -f` input, applied as it is.
  [[nodiscard]] std::expected<void, std::string> write_foreign_rules(const std::string& payload);
  // The kernel's rules in a normalized text form, comparable between two
  // namespaces that should hold the same rules.
  [[nodiscard]] std::expected<std::string, std::string> normalized_rules();

 private:
  IptablesMode iptables_mode() const {
    return backend_ == Backend::IptablesLegacy ? IptablesMode::Legacy : IptablesMode::Nft;
  }
  std::expected<SyncResult, std::string> apply_command(const ClusterState& state);

  Backend backend_;
  Through through_;
  std::string netns_;
  ProxyConfig config_;
  SteadyClock clock_;
  std::unique_ptr<ProxyStack> stack_;
  std::string open_error_;
  std::unique_ptr<SyncLoop> loop_;
  ClusterState fed_;  // what the loop has been told
};

// Tells `listener` what changed from `before` to `after`, object by object,
// as the watch reports it.
void report_changes(ClusterListener& listener, const ClusterState& before, const ClusterState& after);

// `nft list table` output with what differs between equal tables removed:
// elements sorted within each set (hash sets list in no fixed order).
std::string normalize_nft_listing(const std::string& text);

// A named way to make a driver, for parametrized suites.
struct DriverKind {
  std::string name;  // "iptables_nft", "iptables_legacy", "nftables"; "apply_..." through the command
  ProxyDriver::Backend backend;
  ProxyDriver::Through through = ProxyDriver::Through::SyncLoop;
  std::unique_ptr<ProxyDriver> make(const std::string& netns, const ProxyConfig& config) const {
    return std::make_unique<ProxyDriver>(backend, through, netns, config);
  }
};
// Every backend through the sync loop, then through `kubenat apply`.
std::vector<DriverKind> all_driver_kinds();
// Every backend through the sync loop only (for tests of diff syncs).
std::vector<DriverKind> sync_loop_driver_kinds();
// For GoogleTest's names and messages.
inline void PrintTo(const DriverKind& kind, std::ostream* out) { *out << kind.name; }

// iptables-save output with what differs between equal rule sets removed:
// comments and counters dropped, chains sorted by name, each chain's rules
// kept in order.
std::string normalize_iptables_save(const std::string& text);

}  // namespace kubenat::e2e
