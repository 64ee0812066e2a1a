#include "rules/nftables/plan.h"

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

std::vector<NftSetElement> plan_elements(const NftPlan& plan) {
  std::vector<NftSetElement> out = plan.fixed_elements;
  for (const auto& [name, fragment] : plan.service_ports) {
    out.insert(out.end(), fragment->elements.begin(), fragment->elements.end());
  }
  for (const auto& [ip, refs] : plan.hairpin_refs) {
    if (refs > 0) out.emplace_back(kNftHairpinSet, NftElement{{ip, ip}, {}});
  }
  return out;
}

bool nft_set_uses_typeof(const NftSet& set) {
  return std::find(set.key.begin(), set.key.end(), NftType::Mark) != set.key.end();
}

std::string nft_comment(std::string_view comment) {
  constexpr std::size_t kMaxBytes = 128;  // NFTNL_UDATA_COMMENT_MAXLEN
  std::string out;
  out.reserve(std::min(comment.size(), kMaxBytes));
  for (const char c : comment) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"') out += '\'';
    else if (byte < 0x20 || byte == 0x7f) out += ' ';
    else out += c;
  }
  if (out.size() > kMaxBytes) {
    std::size_t cut = kMaxBytes;
    // Back up over UTF-8 continuation bytes so no character is split.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

}  // namespace kubenat
