#include "bench/kube_proxy_baseline.h"

#include <algorithm>

#include "engine/process.h"
#include "rules/iptables/render.h"

namespace kubenat::bench {

IptablesChange kube_proxy_partial_change(const IptablesPlan& after, const IptablesChange& minimal) {
  IptablesChange change = minimal;
  for (const SharedChain& shared : after.shared_chains) {
    const bool present = std::any_of(change.writes.begin(), change.writes.end(), [&](const ChainWrite& w) {
      return w.table == shared.table && w.chain.name == shared.name;
    });
    if (!present) change.writes.push_back(ChainWrite{shared.table, after.assemble(shared)});
  }
  return change;
}

std::string kube_proxy_partial_payload(const IptablesPlan& after, const IptablesChange& minimal) {
  std::vector<std::string> payloads = render_iptables_change(kube_proxy_partial_change(after, minimal), 0);
  return payloads.empty() ? std::string() : std::move(payloads.front());
}

std::string kube_proxy_full_payload(const IptablesPlan& plan) {
  return render_iptables_restore(plan, IptablesRenderOptions{.include_jumps = false});
}

std::expected<std::optional<double>, std::string> restore_in_one_call(const std::string& netns,
                                                                      const std::string& payload,
                                                                      std::chrono::milliseconds timeout) {
  const std::vector<std::string> argv = {"ip", "netns", "exec", netns, "iptables-nft-restore", "--noflush", "--wait"};
  const auto start = std::chrono::steady_clock::now();
  auto result = run_process(argv, ProcessOptions{.input = payload, .timeout = timeout});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (!result) {
    // run_process kills the program at the timeout and says so in its
    // error; the elapsed time tells that case apart from a failure to run.
    if (elapsed >= timeout) return std::nullopt;
    return std::unexpected(result.error());
  }
  if (!result->ok()) {
    std::string message = result->err.empty() ? result->out : result->err;
    if (message.size() > 500) message.resize(500);
    return std::unexpected("iptables-nft-restore exited with status " + std::to_string(result->exit_status) + ": " +
                           message);
  }
  return std::chrono::duration<double, std::milli>(elapsed).count();
}

}  // namespace kubenat::bench
