#pragma once

// The one way to build what keeps a node's kernel in step: the service
// proxier of a proxy mode (iptables, nftables, or none) over its backend and
// kernel access, and the static-route proxier when routes are asked for.
// `kubenat run`, `kubenat apply`, `kubenat bench` and the end-to-end tests
// all build their proxiers here, so what they run is what the daemon runs.

#include <chrono>
#include <cstddef>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/clock.h"
#include "engine/daemon/proxy_mode.h"
#include "engine/iptables/runner.h"
#include "engine/proxier.h"
#include "engine/routes/proxier.h"
#include "rules/proxy_config.h"

namespace kubenat {

struct ProxyStackOptions {
  ProxyMode mode = ProxyMode::Iptables;
  // What the rules are for (family, node, table name, ...).
  ProxyConfig config;
  // The families to proxy, the node's own first. Empty: config.family
  // alone. Two: dual-stack, one service proxier per family (config.family
  // set to each) behind one DualStackProxier, as kube-proxy's metaproxier.
  std::vector<IpFamily> families;
  // iptables mode: which iptables; nullopt: what `iptables` on this host
  // is. Ignored in the other modes, which run no iptables command.
  std::optional<IptablesMode> iptables_mode;
  // iptables mode: cut iptables-restore input into calls of about this
  // size (0: one call); nullopt: recommended_payload_bytes() of the mode.
  std::optional<std::size_t> max_payload_bytes;
  // Delete the UDP conntrack entries a sync leaves stale.
  bool conntrack_cleanup = true;
  // kube-proxy's FullSyncPeriod: a full sync at least this often.
  std::chrono::milliseconds full_sync_period = std::chrono::hours(1);
  // How often a diff sync first checks that the kernel still holds what was
  // written (the iptables canary, the nftables table's handle). Zero: every
  // sync.
  std::chrono::milliseconds integrity_check_period = std::chrono::seconds(30);
  // Static pod-CIDR routes to the other nodes; nullopt: none.
  std::optional<RouteProxier::Options> routes;
  // The network namespace (an `ip netns` name) to program; empty: the
  // calling process's own.
  std::string netns;
};

class ProxyStack {
 public:
  // Builds the proxiers and opens their kernel access (netlink sockets are
  // opened inside options.netns). The error says what could not be opened.
  // `clock` must outlive the stack.
  [[nodiscard]] static std::expected<std::unique_ptr<ProxyStack>, std::string> build(
      const ProxyStackOptions& options, const Clock& clock);

  ProxyStack(const ProxyStack&) = delete;
  ProxyStack& operator=(const ProxyStack&) = delete;
  ~ProxyStack();

  // The service proxier (both families' on a dual-stack node); null in
  // ProxyMode::None.
  Proxier* service_proxier() const;
  // The families proxied, the node's own first.
  const std::vector<IpFamily>& families() const;
  // The static-route proxier; null without routes.
  Proxier* route_proxier() const;
  ProxyMode mode() const;
  // The iptables it drives in iptables mode; nullopt in the other modes.
  std::optional<IptablesMode> iptables_mode() const;

  // What runs, for the start-up line: "iptables-nft", "iptables-legacy",
  // "nftables table ip kubenat" or "no service proxying", then the families
  // when dual-stack (" for IPv4 and IPv6", "tables ip and ip6 kubenat"),
  // then ", static routes (proto 214)" with routes.
  std::string description() const;

 private:
  struct Parts;
  explicit ProxyStack(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace kubenat
