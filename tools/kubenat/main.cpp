// kubenat: a kube-proxy replacement. This file only dispatches to the
// subcommands in tools/kubenat/*_command.cpp.

#include <iostream>
#include <string>
#include <vector>

#include "tools/kubenat/commands.h"

namespace {

void usage(std::ostream& out) {
  out << "usage: kubenat <command> [flags]\n\n"
         "commands:\n"
         "  plan    print the rules for a cluster snapshot (iptables-restore input, nft -f input or JSON),\n"
         "          or with --diff OLD NEW the change between two snapshots\n"
         "  apply   make this node's iptables hold the rules for a snapshot\n"
         "  run     the daemon: watch the API server and keep this node's rules in sync\n"
         "  routes  print the static pod-CIDR routes a node would hold for a cluster snapshot\n"
         "  cleanup remove what kube-proxy and kubenat left on this node (every mode and family), then exit\n"
         "  bench   measure the backends and a kube-proxy baseline on synthetic clusters of this node\n\n"
         "Run `kubenat <command> --help` for the flags of a command, `kubenat --version` for the version.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "plan") return kubenat::plan_command(args, std::cout, std::cerr);
  if (command == "apply") return kubenat::apply_command(args, std::cout, std::cerr);
  if (command == "run") return kubenat::run_command(args, std::cout, std::cerr);
  if (command == "routes") return kubenat::routes_command(args, std::cout, std::cerr);
  if (command == "cleanup") return kubenat::cleanup_command(args, std::cout, std::cerr);
  if (command == "bench") return kubenat::bench_command(args, std::cout, std::cerr);
  if (command == "--version" || command == "version") {
    // KUBENAT_VERSION is the project(VERSION) of the top CMakeLists.txt; tools/image/build labels the image with it.
    std::cout << "kubenat " << KUBENAT_VERSION << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    usage(std::cout);
    return 0;
  }
  std::cerr << "kubenat: unknown command \"" << command << "\"\n";
  usage(std::cerr);
  return 2;
}
