#pragma once

// The proxy under test, as the end-to-end traffic tests see it: something
// that makes a node namespace's kernel hold the rules for a cluster state.
// One implementation per backend and mode, so that one parametrized suite
// proves them all with the same packets.

#include <expected>
#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/conntrack.h"
#include "engine/iptables_backend.h"
#include "engine/iptables_runner.h"
#include "engine/iptables_syncer.h"
#include "engine/nft_backend.h"
#include "engine/nft_proxier.h"
#include "rules/iptables_compiler.h"
#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat::e2e {

class ProxyDriver {
 public:
  virtual ~ProxyDriver() = default;
  // Compiles the state and syncs the node's kernel to it: a full sync the
  // first time and after a detected flush, a diff otherwise.
  [[nodiscard]] virtual std::expected<SyncResult, std::string> sync(const ClusterState& state) = 0;
  // The next sync() is full, as the hourly resync is.
  virtual void force_full_sync() = 0;
  // What someone else does behind kubenat's back: flush the NAT rules.
  [[nodiscard]] virtual std::expected<void, std::string> external_flush() = 0;
  // Rules written by some other program (kube-proxy, docker): an
  // iptables-restore --noflush payload applied as it is.
  [[nodiscard]] virtual std::expected<void, std::string> write_foreign_rules(const std::string& payload) = 0;
  // The kernel's rules in a normalized text form, comparable between two
  // namespaces that should hold the same rules.
  [[nodiscard]] virtual std::expected<std::string, std::string> normalized_rules() = 0;
};

// The iptables backend in `mode`, applying into network namespace `netns`.
class IptablesDriver final : public ProxyDriver {
 public:
  IptablesDriver(IptablesMode mode, std::string netns, ProxyConfig config);
  std::expected<SyncResult, std::string> sync(const ClusterState& state) override;
  void force_full_sync() override;
  std::expected<void, std::string> external_flush() override;
  std::expected<void, std::string> write_foreign_rules(const std::string& payload) override;
  std::expected<std::string, std::string> normalized_rules() override;

 private:
  IptablesMode mode_;
  std::string netns_;
  ProxyConfig config_;
  ProcessIptablesRunner runner_;
  IptablesBackend backend_;
  ProcessConntrackCleaner conntrack_;
  SteadyClock clock_;
  IptablesSyncer syncer_;
};

// The nftables backend over netlink, in network namespace `netns`.
class NftDriver final : public ProxyDriver {
 public:
  NftDriver(std::string netns, ProxyConfig config);
  std::expected<SyncResult, std::string> sync(const ClusterState& state) override;
  void force_full_sync() override;
  std::expected<void, std::string> external_flush() override;
  std::expected<void, std::string> write_foreign_rules(const std::string& payload) override;
  std::expected<std::string, std::string> normalized_rules() override;

 private:
  std::string netns_;
  ProxyConfig config_;
  std::unique_ptr<NftTransport> transport_;
  std::string open_error_;
  std::unique_ptr<NftBackend> backend_;
  ProcessConntrackCleaner conntrack_;
  SteadyClock clock_;
  std::unique_ptr<NftProxier> proxier_;
};

// `nft list table` output with what differs between equal tables removed:
// elements sorted within each set (hash sets list in no fixed order).
std::string normalize_nft_listing(const std::string& text);

// A named way to make a driver, for parametrized suites.
struct DriverKind {
  std::string name;  // "iptables_nft", "iptables_legacy"
  std::function<std::unique_ptr<ProxyDriver>(const std::string& netns, const ProxyConfig& config)> make;
};
std::vector<DriverKind> all_driver_kinds();
// For GoogleTest's names and messages.
inline void PrintTo(const DriverKind& kind, std::ostream* out) { *out << kind.name; }

// iptables-save output with what differs between equal rule sets removed:
// comments and counters dropped, chains sorted by name, each chain's rules
// kept in order.
std::string normalize_iptables_save(const std::string& text);

}  // namespace kubenat::e2e
