// kubenat apply: make this node's kernel hold the rules for a snapshot, once,
// with the proxy stack `kubenat run` uses for the same mode.

#include <chrono>
#include <iostream>

#include "engine/daemon/proxy_stack.h"
#include "tools/kubenat/commands.h"
#include "tools/kubenat/flags.h"
#include "tools/kubenat/proxy_flags.h"
#include "tools/kubenat/snapshot_file.h"

namespace kubenat {

int apply_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string snapshot_path;
  std::string proxy_mode = "iptables";
  std::string iptables_mode = "auto";
  int max_payload_kib = -1;
  bool conntrack = true;
  ProxyFlags proxy;
  FlagSet flags("kubenat apply");
  flags.add_string("snapshot", &snapshot_path,
                   "cluster objects as `kubectl get services,endpointslices,nodes -A -o json|yaml` prints them");
  proxy.register_flags(flags);
  flags.add_string("proxy-mode", &proxy_mode, "iptables (default) or nftables: the backend that holds the rules");
  flags.add_string("iptables-mode", &iptables_mode, "nft, legacy, or auto (what `iptables` on this host is)");
  flags.add_int("max-payload-kib", &max_payload_kib,
                "cut iptables-restore input into calls of about this size; 0: one call (default: 128 for nft, 0 for legacy)");
  flags.add_bool("conntrack-cleanup", &conntrack, "delete stale UDP conntrack entries after applying (default true)");
  bool help = false;
  flags.add_bool("help", &help, "show this help");

  auto positional = parse_command_line(
      flags, args, help,
      "usage: kubenat apply --snapshot FILE --node NAME [--proxy-mode iptables|nftables] [flags]\n\n"
      "Makes this node's kernel hold exactly the rules `kubenat plan` prints for FILE.\n"
      "iptables: kubenat's chains rewritten, stale KUBE-SVC/SEP/... chains (from an earlier run\n"
      "or kube-proxy) removed, the jumps from the built-in chains ensured. nftables: kubenat's\n"
      "table (--nftables-table) replaced. Nothing else is touched.\n\n",
      out, err);
  if (!positional) return positional.error();
  if (!positional->empty() || snapshot_path.empty()) {
    err << "kubenat apply: --snapshot FILE is required (and nothing else positional)\n";
    return 2;
  }
  const std::optional<ProxyMode> mode = parse_proxy_mode(proxy_mode);
  if (!mode || *mode == ProxyMode::None) {
    err << "kubenat apply: --proxy-mode: expects iptables or nftables, got \"" << proxy_mode << "\"\n";
    return 2;
  }
  ProxyStackOptions options;
  options.mode = *mode;
  options.conntrack_cleanup = conntrack;
  if (iptables_mode == "nft") {
    options.iptables_mode = IptablesMode::Nft;
  } else if (iptables_mode == "legacy") {
    options.iptables_mode = IptablesMode::Legacy;
  } else if (iptables_mode != "auto") {
    err << "kubenat apply: --iptables-mode: expects nft, legacy or auto, got \"" << iptables_mode << "\"\n";
    return 2;
  }
  if (max_payload_kib >= 0) options.max_payload_bytes = static_cast<std::size_t>(max_payload_kib) * 1024;

  auto snapshot = load_snapshot_file(snapshot_path);
  if (!snapshot) {
    err << "kubenat apply: " << snapshot.error() << "\n";
    return 1;
  }
  auto config = make_proxy_config(proxy, snapshot->state);
  if (!config) {
    err << "kubenat apply: " << config.error() << "\n";
    return 2;
  }
  for (const Diagnostic& d : snapshot->diagnostics) err << "kubenat apply: warning: " << d.to_string() << "\n";
  options.config = *config;
  SteadyClock clock;
  auto stack = ProxyStack::build(options, clock);
  if (!stack) {
    err << "kubenat apply: " << stack.error() << "\n";
    return 1;
  }

  const auto start = std::chrono::steady_clock::now();
  SyncResult result = (*stack)->service_proxier()->sync(snapshot->state, nullptr);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& warning : result.warnings) err << "kubenat apply: warning: " << warning << "\n";
  if (!result.ok) {
    err << "kubenat apply: " << result.error << "\n";
    return 1;
  }
  out << "kubenat apply: " << (*stack)->description() << ": " << result.summary;
  if (result.conntrack && result.conntrack->filters > 0) {
    out << ", stale UDP flows cleared from conntrack (" << result.conntrack->filters
        << (result.conntrack->filters == 1 ? " filter)" : " filters)");
  }
  out << ", " << seconds << " s\n";
  return 0;
}

}  // namespace kubenat
