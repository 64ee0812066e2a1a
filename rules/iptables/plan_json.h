#pragma once

#include <nlohmann/json.hpp>

#include "rules/iptables/plan.h"

namespace kubenat {

// The plan as JSON, for tools that inspect it:
// {"family": "IPv4", "largeClusterMode": false, "totalEndpoints": N,
//  "tables": {"filter": {"chains": [{"name": ..., "rules": [...]}]}, "nat": ...},
//  "jumps": [{"table": ..., "chain": ..., "rule": ...}],
//  "servicePorts": [{"name": "ns/svc:port", "protocol": "tcp",
//                    "chains": [...], "sharedRules": [{"table", "chain", "rule"}]}]}
// Deterministic: keys and arrays in a fixed order.
nlohmann::ordered_json plan_to_json(const IptablesPlan& plan);

}  // namespace kubenat
