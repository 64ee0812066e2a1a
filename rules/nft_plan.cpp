#include "rules/nft_plan.h"

#include <algorithm>

namespace kubenat {

bool NftPlan::operator==(const NftPlan& other) const {
  if (family != other.family || table != other.table || sets != other.sets || chains != other.chains ||
      fixed_elements != other.fixed_elements ||
      count_set_refs != other.count_set_refs || hairpin_refs != other.hairpin_refs ||
      affinity_timeout_refs != other.affinity_timeout_refs ||
      total_endpoints != other.total_endpoints || service_ports.size() != other.service_ports.size()) {
    return false;
  }
  auto a = service_ports.begin();
  for (auto b = other.service_ports.begin(); b != other.service_ports.end(); ++a, ++b) {
    if (a->first != b->first) return false;
    if (a->second != b->second && *a->second != *b->second) return false;
  }
  return true;
}

std::vector<NftSet> plan_sets(const NftPlan& plan) {
  std::vector<NftSet> out = plan.sets;
  for (const auto& [name, fragment] : plan.service_ports) {
    out.insert(out.end(), fragment->sets.begin(), fragment->sets.end());
  }
  return out;
}

std::vector<NftChain> plan_chains(const NftPlan& plan) {
  std::vector<NftChain> out = plan.chains;
  for (const auto& [name, fragment] : plan.service_ports) {
    out.insert(out.end(), fragment->chains.begin(), fragment->chains.end());
  }
  return out;
}

std::vector<std::pair<std::string, NftElement>> plan_elements(const NftPlan& plan) {
  std::vector<std::pair<std::string, NftElement>> out = plan.fixed_elements;
  for (const auto& [name, fragment] : plan.service_ports) {
    out.insert(out.end(), fragment->elements.begin(), fragment->elements.end());
  }
  for (const auto& [ip, refs] : plan.hairpin_refs) {
    if (refs > 0) out.emplace_back(kNftHairpinSet, NftElement{{ip, ip}, {}});
  }
  return out;
}

}  // namespace kubenat
