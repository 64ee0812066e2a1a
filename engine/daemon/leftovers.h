#pragma once

// What kube-proxy and kubenat leave on a node, and taking it away: kube-proxy's
// iptables chains (iptables and ip6tables, nft and legacy), nftables tables
// (kube-proxy's `kube-proxy`, kubenat's own) and kubenat's static routes.
// `kubenat cleanup` removes all of it, as `kube-proxy --cleanup` does;
// `kubenat run` removes what the modes it does not run left, as kube-proxy
// does at start-up, so a node switches modes (or from kube-proxy) without a
// manual step. Nothing else is touched.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/daemon/proxy_mode.h"
#include "engine/iptables/runner.h"
#include "engine/nftables/transport.h"
#include "engine/routes/backend.h"

namespace kubenat {

struct Leftovers {
  std::vector<IptablesMode> iptables;        // flavours whose kube-proxy chains go, in both families
  std::vector<std::string> nftables_tables;  // tables of these names go, ip and ip6
  std::optional<int> route_protocol;         // kubenat's routes of this protocol go
};

// Everything: for `kubenat cleanup`.
Leftovers all_leftovers(const std::string& nftables_table, int route_protocol);

// What the modes other than `mode` left, for `kubenat run` after its first
// sync: kube-proxy's nftables tables always (kubenat replaces kube-proxy);
// in nftables mode the iptables chains of both flavours; in iptables mode
// kubenat's nftables table and the chains of the iptables flavour not in use
// (iptables-legacy's when it drives iptables-nft, and the reverse). Routes
// are not a mode: never.
Leftovers other_modes_leftovers(ProxyMode mode, IptablesMode flavour, const std::string& nftables_table);

// The kernel as a cleanup reaches it; tests give fakes.
class LeftoverKernel {
 public:
  virtual ~LeftoverKernel() = default;
  // That flavour's iptables, or nullptr when its tools are not installed.
  virtual IptablesRunner* iptables(IptablesMode flavour) = 0;
  // The tables of that flavour and family worth reading. iptables-legacy
  // loads a table just by being asked about it, so for legacy only the
  // tables the kernel already has.
  virtual std::vector<std::string> iptables_tables(IptablesMode flavour, IpFamily family) = 0;
  [[nodiscard]] virtual std::expected<NftTransport*, std::string> nftables() = 0;
  [[nodiscard]] virtual std::expected<RouteBackend*, std::string> routes() = 0;
};

// The real kernel of the calling process's network namespace.
class KernelLeftovers final : public LeftoverKernel {
 public:
  KernelLeftovers();
  ~KernelLeftovers() override;
  IptablesRunner* iptables(IptablesMode flavour) override;
  std::vector<std::string> iptables_tables(IptablesMode flavour, IpFamily family) override;
  std::expected<NftTransport*, std::string> nftables() override;
  std::expected<RouteBackend*, std::string> routes() override;

 private:
  std::optional<ProcessIptablesRunner> nft_;
  std::optional<ProcessIptablesRunner> legacy_;
  std::optional<KernelNftTransport> transport_;
  std::unique_ptr<RouteBackend> routes_;
};

struct LeftoverReport {
  // One line each: "iptables-nft: 14 chains and 6 rules jumping to them",
  // "nftables table ip kube-proxy", "3 routes of protocol 214".
  std::vector<std::string> removed;
  std::vector<std::string> failures;  // what could not be removed, and why
};

// Removes `leftovers`, going on past failures.
LeftoverReport remove_leftovers(const Leftovers& leftovers, LeftoverKernel& kernel);

}  // namespace kubenat
