#include "tools/kubenat/route_flags.h"

namespace kubenat {

void RouteFlags::register_flags(FlagSet& flags) {
  flags.add_list("local-subnet", &local_subnets,
                 "a subnet the node reaches directly (repeatable, comma-separated); other nodes are skipped. "
                 "Default: every node is taken as directly connected");
}

std::expected<RouteConfig, std::string> make_route_config(const RouteFlags& flags, const std::string& node) {
  RouteConfig config;
  config.node_name = node;
  config.assume_directly_connected = flags.local_subnets.empty();
  for (const std::string& text : flags.local_subnets) {
    auto subnet = Cidr::parse_sloppy(text);
    if (!subnet) return std::unexpected("--local-subnet: invalid CIDR \"" + text + "\"");
    config.local_subnets.push_back(*subnet);
  }
  return config;
}

}  // namespace kubenat
