#pragma once

// The baseline `kubenat bench` compares against: what upstream kube-proxy's
// iptables mode hands to iptables-restore for the same plan (the rules are
// kubenat's, which are kube-proxy's rule for rule).
//
// - Full sync: the whole ruleset in one iptables-restore --noflush call,
//   filter and nat, as upstream's syncProxyRules writes it.
// - Partial sync (a Service or its endpoints changed): every chain of the
//   filter table and nat's KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING and
//   KUBE-MARK-MASQ rewritten whole, plus the changed service ports' chains,
//   again in one call.

#include <chrono>
#include <expected>
#include <optional>
#include <string>

#include "rules/iptables/change.h"
#include "rules/iptables/plan.h"

namespace kubenat::bench {

// The change upstream's partial sync writes: `minimal` (kubenat's diff to
// `after`) plus every shared chain of `after` it does not write already.
IptablesChange kube_proxy_partial_change(const IptablesPlan& after, const IptablesChange& minimal);

// kube_proxy_partial_change as one iptables-restore --noflush input.
std::string kube_proxy_partial_payload(const IptablesPlan& after, const IptablesChange& minimal);

// The whole plan as one iptables-restore --noflush input, without the jumps
// from the built-in chains (upstream ensures those one by one beforehand).
std::string kube_proxy_full_payload(const IptablesPlan& plan);

// Runs iptables-nft-restore --noflush with `payload` in network namespace
// `netns`, as one call. Returns its wall time in milliseconds, or nullopt
// when it was still running after `timeout` and was killed (nothing is
// applied then: a restore is one transaction). The error is for a restore
// that could not run or failed, with its message.
[[nodiscard]] std::expected<std::optional<double>, std::string> restore_in_one_call(const std::string& netns,
                                                                                    const std::string& payload,
                                                                                    std::chrono::milliseconds timeout);

}  // namespace kubenat::bench
