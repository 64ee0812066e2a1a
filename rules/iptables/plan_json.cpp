#include "rules/iptables/plan_json.h"

namespace kubenat {

nlohmann::ordered_json plan_to_json(const IptablesPlan& plan) {
  using json = nlohmann::ordered_json;
  json out;
  out["family"] = std::string(ip_family_name(plan.family));
  out["largeClusterMode"] = plan.large_cluster_mode;
  out["totalEndpoints"] = plan.total_endpoints;

  json tables = json::object();
  for (IptablesTable table : {IptablesTable::Filter, IptablesTable::Nat}) {
    json chains = json::array();
    for (const IptablesChain& chain : plan.chains(table)) {
      chains.push_back(json{{"name", chain.name.str()}, {"rules", chain.rules()}});
    }
    tables[std::string(table_name(table))] = json{{"chains", std::move(chains)}};
  }
  out["tables"] = std::move(tables);

  json jumps = json::array();
  for (const JumpRule& jump : plan.jumps) {
    jumps.push_back(json{{"table", table_name(jump.table)}, {"chain", jump.chain}, {"rule", jump.rule}});
  }
  out["jumps"] = std::move(jumps);

  json ports = json::array();
  for (const auto& [name, fragment] : plan.service_ports) {
    json chains = json::array();
    for (const OwnedChain& chain : fragment->chains) chains.push_back(chain.name.str());
    json shared = json::array();
    for (const SharedRule& rule : fragment->shared_rules) {
      shared.push_back(json{{"table", table_name(rule.table)}, {"chain", rule.chain}, {"rule", rule.rule}});
    }
    ports.push_back(json{{"name", name.to_string()},
                         {"protocol", protocol_lower(name.protocol)},
                         {"chains", std::move(chains)},
                         {"sharedRules", std::move(shared)}});
  }
  out["servicePorts"] = std::move(ports);
  return out;
}

}  // namespace kubenat
