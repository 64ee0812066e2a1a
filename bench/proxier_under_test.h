#pragma once

// kubenat's iptables or nftables backend as the daemon runs it (the proxy
// stack of engine/daemon/proxy_stack.h, minus the watch), writing into one
// network namespace: what the bench times.

#include <expected>
#include <memory>
#include <string>

#include "bench/bench_options.h"
#include "engine/proxier.h"
#include "rules/proxy_config.h"

namespace kubenat::bench {

class ProxierUnderTest {
 public:
  virtual ~ProxierUnderTest() = default;
  // The first apply() is a full sync, every later one a diff: the periodic
  // full sync and the integrity checks (canary, table handle) are an hour
  // away, so that a sample times the apply alone. No conntrack cleanup.
  virtual Proxier& proxier() = 0;
};

// BenchBackend::Iptables: iptables-nft in payloads of
// recommended_payload_bytes(IptablesMode::Nft). BenchBackend::Nftables: the
// nftables backend over a netlink socket opened in `netns`. The namespace
// must outlive the result. The error says what could not be opened; the
// baselines and the floor have no proxier and are an error.
[[nodiscard]] std::expected<std::unique_ptr<ProxierUnderTest>, std::string> open_proxier(BenchBackend backend,
                                                                                        const std::string& netns,
                                                                                        const ProxyConfig& config);

}  // namespace kubenat::bench
