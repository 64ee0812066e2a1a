// kubenat routes: print the static pod-CIDR routes a node would hold for a
// cluster snapshot (what `kubenat run --routes` programs).

#include <iostream>

#include "rules/routes/plan.h"
#include "tools/kubenat/commands.h"
#include "tools/kubenat/flags.h"
#include "tools/kubenat/route_flags.h"
#include "tools/kubenat/snapshot_file.h"

namespace kubenat {

int routes_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string snapshot_path;
  std::string node;
  RouteFlags route_flags;
  bool help = false;
  FlagSet flags("kubenat routes");
  flags.add_string("snapshot", &snapshot_path,
                   "cluster objects as `kubectl get nodes -o json|yaml` (or plan's snapshot) prints them");
  flags.add_string("node", &node, "this node's name: no route to its own pods (required)");
  flags.add_alias("hostname-override", "node");
  route_flags.register_flags(flags);
  flags.add_bool("help", &help, "show this help");

  auto positional = parse_command_line(
      flags, args, help,
      "usage: kubenat routes --snapshot FILE --node NAME [--local-subnet CIDR ...]\n\n"
      "Prints the routes node NAME would hold in static-route mode (kubenat run --routes): for\n"
      "every other Node, each of its pod CIDRs via its InternalIP, one `ip route` line each.\n"
      "Nodes that get no route are named on stderr.\n\n",
      out, err);
  if (!positional) return positional.error();
  if (!positional->empty()) {
    err << "kubenat routes: unexpected argument \"" << positional->front() << "\"\n";
    return 2;
  }
  if (snapshot_path.empty() || node.empty()) {
    err << "kubenat routes: --snapshot and --node are required\n";
    return 2;
  }
  auto config = make_route_config(route_flags, node);
  if (!config) {
    err << "kubenat routes: " << config.error() << "\n";
    return 2;
  }
  auto snapshot = load_snapshot_file(snapshot_path);
  if (!snapshot) {
    err << "kubenat routes: " << snapshot.error() << "\n";
    return 1;
  }
  for (const Diagnostic& d : snapshot->diagnostics) err << "kubenat routes: warning: " << d.to_string() << "\n";
  if (!snapshot->state.nodes.contains(node)) {
    err << "kubenat routes: warning: node " << node << " is not in the snapshot; routes to every node follow\n";
  }
  if (config->assume_directly_connected) {
    err << "kubenat routes: note: no --local-subnet given; every node is taken as directly connected\n";
  }
  const RoutePlan plan = plan_routes(snapshot->state.nodes, *config);
  for (const Diagnostic& d : plan.diagnostics) err << "kubenat routes: warning: " << d.to_string() << "\n";
  out << render_route_plan(plan);
  out.flush();
  return out ? 0 : 1;
}

}  // namespace kubenat
