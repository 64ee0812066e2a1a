// kubenat plan: print the rules a node would hold for a cluster snapshot.

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "rules/iptables_compiler.h"
#include "rules/iptables_render.h"
#include "rules/plan_json.h"
#include "rules/snapshot.h"
#include "tools/kubenat/commands.h"
#include "tools/kubenat/flags.h"
#include "tools/kubenat/proxy_flags.h"
#include "tools/kubenat/snapshot_file.h"

namespace kubenat {

int plan_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string snapshot_path;
  std::string format = "iptables";
  ProxyFlags proxy;
  FlagSet flags("kubenat plan");
  flags.add_string("snapshot", &snapshot_path,
                   "cluster objects as `kubectl get services,endpointslices,nodes -A -o json|yaml` prints them");
  flags.add_string("format", &format, "iptables (iptables-restore input) or json");
  proxy.register_flags(flags);
  bool help = false;
  flags.add_bool("help", &help, "show this help");

  auto positional = flags.parse(args);
  if (!positional) {
    err << positional.error() << "\n";
    return 2;
  }
  if (help) {
    out << "usage: kubenat plan --snapshot FILE --node NAME [flags]\n\n"
           "Prints the rules kubenat would apply on node NAME for the cluster in FILE.\n\n"
        << flags.usage();
    return 0;
  }
  if (!positional->empty()) {
    err << "kubenat plan: unexpected argument \"" << positional->front() << "\"\n";
    return 2;
  }
  if (snapshot_path.empty()) {
    err << "kubenat plan: --snapshot is required\n";
    return 2;
  }
  if (format != "iptables" && format != "json") {
    err << "kubenat plan: --format: expects iptables or json, got \"" << format << "\"\n";
    return 2;
  }

  auto snapshot = load_snapshot_file(snapshot_path);
  if (!snapshot) {
    err << "kubenat plan: " << snapshot.error() << "\n";
    return 1;
  }
  auto config = make_proxy_config(proxy, snapshot->state);
  if (!config) {
    err << "kubenat plan: " << config.error() << "\n";
    return 2;
  }

  IptablesCompileResult result = compile_iptables(snapshot->state, *config);
  for (const Diagnostic& d : snapshot->diagnostics) err << "kubenat plan: warning: " << d.to_string() << "\n";
  for (const Diagnostic& d : result.diagnostics) err << "kubenat plan: warning: " << d.to_string() << "\n";

  if (format == "json") {
    out << plan_to_json(result.plan).dump(2) << "\n";
  } else {
    out << render_iptables_restore(result.plan);
  }
  out.flush();
  return out ? 0 : 1;
}

}  // namespace kubenat
