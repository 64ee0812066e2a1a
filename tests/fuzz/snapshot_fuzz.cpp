// Fuzzes what `kubenat plan` reads: a cluster snapshot in JSON or YAML, every
// object kind (Service, EndpointSlice v1 and v1beta1, Endpoints, Node, lists),
// and then what the compilers make of whatever decoded, for both backends,
// both families and the routes: an object the decoder lets through must not
// crash a compiler either. The same text also goes through both JSON
// readers, which must agree: what the informers parse as a JsonTree must be
// what parse_json makes of it, or its error word for word.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rules/iptables/compiler.h"
#include "rules/json_or_yaml.h"
#include "rules/json_tree.h"
#include "rules/iptables/render.h"
#include "rules/nftables/compiler.h"
#include "rules/nftables/render.h"
#include "rules/routes/plan.h"
#include "rules/snapshot.h"

namespace kubenat {
namespace {

ProxyConfig fuzz_config(IpFamily family, const ClusterState& state) {
  ProxyConfig config;
  config.node_name = "node-1";
  config.family = family;
  if (family == IpFamily::V4) {
    config.cluster_cidrs = {*Cidr::parse("10.244.0.0/16")};
    config.node_ips = {*IpAddress::parse("192.168.0.10")};
  } else {
    config.cluster_cidrs = {*Cidr::parse("fd00:244::/64")};
    config.node_ips = {*IpAddress::parse("fd00:168::10")};
  }
  config.local_addresses = config.node_ips;
  // A threshold the fuzzer's small inputs cross, so both comment styles run.
  config.large_cluster_endpoints_threshold = 4;
  return with_node_ips_from_state(config, state);
}

}  // namespace
}  // namespace kubenat

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kubenat;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto document = parse_json(text);
  const auto tree = parse_json_tree(text);
  if (document.has_value() != tree.has_value() ||
      (document ? document.value() != tree->root().to_json() : document.error() != tree.error())) {
    std::abort();
  }
  auto snapshot = read_snapshot(text);
  if (!snapshot) return 0;
  for (const IpFamily family : {IpFamily::V4, IpFamily::V6}) {
    const ProxyConfig config = fuzz_config(family, snapshot->state);
    (void)render_iptables_restore(compile_iptables(snapshot->state, config).plan);
    (void)render_nft(compile_nft(snapshot->state, config).plan);
  }
  RouteConfig routes;
  routes.node_name = "node-1";
  routes.assume_directly_connected = true;
  (void)render_route_plan(plan_routes(snapshot->state.nodes, routes));
  return 0;
}
