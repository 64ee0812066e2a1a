#pragma once

// The flags that shape a static-route plan printed from a snapshot, shared
// by `kubenat routes` and `kubenat plan`.

#include <expected>
#include <string>
#include <vector>

#include "rules/routes/plan.h"
#include "tools/kubenat/flags.h"

namespace kubenat {

struct RouteFlags {
  // --local-subnet: the node's directly connected subnets. A snapshot says
  // nothing about the node's interfaces and these commands run anywhere, so
  // without the flag every node is taken as directly connected (and the
  // output says so); the daemon asks its kernel instead.
  std::vector<std::string> local_subnets;

  void register_flags(FlagSet& flags);
};

// The RouteConfig for node `node`; the error names the flag and the value.
[[nodiscard]] std::expected<RouteConfig, std::string> make_route_config(const RouteFlags& flags,
                                                                        const std::string& node);

}  // namespace kubenat
