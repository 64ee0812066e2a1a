// kubenat cleanup: remove from this node everything kube-proxy or kubenat
// left there, in any mode and family, as `kube-proxy --cleanup` does
// (engine/daemon/leftovers.h), then exit.

#include <iostream>

#include "engine/daemon/leftovers.h"
#include "tools/kubenat/commands.h"
#include "tools/kubenat/flags.h"

namespace kubenat {

int cleanup_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string nftables_table = "kubenat";
  int route_protocol = kDefaultRouteProtocol;
  bool help = false;
  FlagSet flags("kubenat cleanup");
  flags.add_string("nftables-table", &nftables_table,
                   "the name of kubenat's nftables table, as given to run (default kubenat)");
  flags.add_int("route-protocol", &route_protocol,
                "the protocol number of kubenat's static routes, as given to run (default " +
                    std::to_string(kDefaultRouteProtocol) + ")");
  flags.add_bool("help", &help, "show this help");
  auto positional = parse_command_line(
      flags, args, help,
      "usage: kubenat cleanup [--nftables-table NAME] [--route-protocol N]\n\n"
      "Removes from this node what kube-proxy and kubenat leave, in every mode and IP family:\n"
      "kube-proxy's KUBE-* chains and the rules jumping to them in iptables and ip6tables (nft and\n"
      "legacy; the kubelet's KUBE-FIREWALL, KUBE-MARK-DROP and canaries stay), the nftables tables\n"
      "ip/ip6 kube-proxy and ip/ip6 NAME, and the routes of protocol N. Nothing else. Stop the\n"
      "daemon first: a running one puts its rules back.\n\n",
      out, err);
  if (!positional) return positional.error();
  if (!positional->empty()) {
    err << "kubenat cleanup: unexpected argument \"" << positional->front() << "\"\n";
    return 2;
  }
  if (route_protocol <= kMaxReservedRouteProtocol || route_protocol > 255) {
    err << "kubenat cleanup: --route-protocol: must be within " << kMaxReservedRouteProtocol + 1 << "..255\n";
    return 2;
  }
  KernelLeftovers kernel;
  const LeftoverReport report = remove_leftovers(all_leftovers(nftables_table, route_protocol), kernel);
  for (const std::string& removed : report.removed) out << "removed " << removed << "\n";
  for (const std::string& failure : report.failures) err << "kubenat cleanup: " << failure << "\n";
  if (report.removed.empty() && report.failures.empty()) out << "nothing of kube-proxy's or kubenat's here\n";
  return report.failures.empty() ? 0 : 1;
}

}  // namespace kubenat
