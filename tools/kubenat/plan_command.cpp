// kubenat plan: print the rules a node would hold for a cluster snapshot.

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "rules/iptables/change.h"
#include "rules/iptables/compiler.h"
#include "rules/nftables/compiler.h"
#include "rules/nftables/diff.h"
#include "rules/nftables/render.h"
#include "rules/iptables/render.h"
#include "rules/iptables/plan_json.h"
#include "rules/routes/plan.h"
#include "rules/snapshot.h"
#include "tools/kubenat/commands.h"
#include "tools/kubenat/flags.h"
#include "tools/kubenat/proxy_flags.h"
#include "tools/kubenat/route_flags.h"
#include "tools/kubenat/snapshot_file.h"

namespace kubenat {

namespace {

void print_diagnostics(std::ostream& err, const Diagnostics& diagnostics) {
  for (const Diagnostic& d : diagnostics) err << "kubenat plan: warning: " << d.to_string() << "\n";
}

}  // namespace

int plan_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string snapshot_path;
  std::string format = "iptables";
  bool diff = false;
  ProxyFlags proxy;
  FlagSet flags("kubenat plan");
  flags.add_string("snapshot", &snapshot_path,
                   "cluster objects as `kubectl get services,endpointslices,nodes -A -o json|yaml` prints them");
  flags.add_bool("diff", &diff, "with two snapshot files OLD NEW: print only the change from OLD to NEW");
  flags.add_string("format", &format, "iptables (iptables-restore input), nft (nft -f input: the nftables backend's table) or json");
  proxy.register_flags(flags);
  RouteFlags route_flags;
  route_flags.register_flags(flags);
  bool help = false;
  flags.add_bool("help", &help, "show this help");

  auto positional = parse_command_line(
      flags, args, help,
      "usage: kubenat plan --snapshot FILE --node NAME [flags]\n"
      "       kubenat plan --diff OLD NEW --node NAME [flags]\n\n"
      "Prints the rules kubenat would apply on node NAME for the cluster in FILE, or\n"
      "with --diff the iptables-restore --noflush input that turns OLD's rules into NEW's.\n"
      "The static pod-CIDR routes of `kubenat routes` follow as comment lines.\n\n",
      out, err);
  if (!positional) return positional.error();
  if (format != "iptables" && format != "json" && format != "nft") {
    err << "kubenat plan: --format: expects iptables, nft or json, got \"" << format << "\"\n";
    return 2;
  }
  if (diff) {
    if (positional->size() != 2 || !snapshot_path.empty()) {
      err << "kubenat plan: --diff takes two snapshot files, OLD and NEW\n";
      return 2;
    }
    if (format == "json") {
      err << "kubenat plan: --diff prints iptables-restore or nft input, not json\n";
      return 2;
    }
  } else if (!positional->empty()) {
    err << "kubenat plan: unexpected argument \"" << positional->front() << "\"\n";
    return 2;
  } else if (snapshot_path.empty()) {
    err << "kubenat plan: --snapshot is required\n";
    return 2;
  }

  auto route_config = make_route_config(route_flags, proxy.node);
  if (!route_config) {
    err << "kubenat plan: " << route_config.error() << "\n";
    return 2;
  }

  std::vector<std::string> paths = diff ? *positional : std::vector<std::string>{snapshot_path};
  std::vector<IptablesPlan> plans;
  std::vector<NftPlan> nft_plans;
  std::string route_comments;
  for (const std::string& path : paths) {
    auto snapshot = load_snapshot_file(path);
    if (!snapshot) {
      err << "kubenat plan: " << snapshot.error() << "\n";
      return 1;
    }
    auto config = make_proxy_config(proxy, snapshot->state);
    if (!config) {
      err << "kubenat plan: " << config.error() << "\n";
      return 2;
    }
    print_diagnostics(err, snapshot->diagnostics);
    if (format == "nft") {
      NftCompileResult result = compile_nft(snapshot->state, *config);
      print_diagnostics(err, result.diagnostics);
      nft_plans.push_back(std::move(result.plan));
    } else {
      IptablesCompileResult result = compile_iptables(snapshot->state, *config);
      print_diagnostics(err, result.diagnostics);
      plans.push_back(std::move(result.plan));
    }
    // Comments only, so that the text stays iptables-restore input.
    route_comments = render_route_plan_comments(plan_routes(snapshot->state.nodes, *route_config),
                                                snapshot->state.nodes, *route_config);
  }

  if (format == "nft") {
    // `#` comments are nft comments too.
    out << (diff ? render_nft_change(diff_nft(nft_plans[0], nft_plans[1])) : render_nft(nft_plans[0]) + route_comments);
  } else if (diff) {
    for (const std::string& payload : render_iptables_change(diff_iptables(plans[0], plans[1]))) out << payload;
  } else if (format == "json") {
    out << plan_to_json(plans[0]).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    out << render_iptables_restore(plans[0]) << route_comments;
  }
  out.flush();
  return out ? 0 : 1;
}

}  // namespace kubenat
