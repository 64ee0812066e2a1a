#include "engine/nftables/error_text.h"

#include "rules/nftables/render.h"

namespace kubenat {
namespace {

std::string with_owner(std::string text, const NftOwnerLookup& owners, std::string_view object,
                       const NftElement* element) {
  if (!owners) return text;
  const std::string owner = owners(object, element);
  if (!owner.empty()) text += " (" + owner + ")";
  return text;
}

std::string key_text(const NftElement& element) { return render_nft_values(element.key, true); }

std::string rule_text(std::string_view chain, std::size_t position, const NftRule& rule, IpFamily family) {
  return "rule " + std::to_string(position + 1) + " of chain " + std::string(chain) + " (" +
         render_nft_rule(rule, family) + ")";
}

std::string statement_text(const NftRule& rule, std::size_t statement, IpFamily family) {
  const NftRule one{{rule.statements[statement]}, {}};
  return "statement `" + render_nft_rule(one, family) + "`";
}

std::string elements_text(const NftMessageOrigin& origin, const NftOwnerLookup& owners) {
  const bool adding = origin.kind == NftMessageKind::AddElements;
  const std::string verb = adding ? "adding" : "deleting";
  const std::string set = std::string(origin.map ? "map " : "set ") + origin.object;
  if (origin.element == nullptr) return verb + " elements of " + set;
  const NftElement& element = *origin.element;
  // What an added element maps to says which chain a refused verdict names
  // (ENOENT for a missing chain is reported on the element).
  const std::string data =
      adding && !element.data.empty() ? " with data " + render_nft_values(element.data, false) : "";
  if (origin.at_fault) {
    return with_owner("element " + key_text(element) + " in " + set, owners, origin.object, &element) + data;
  }
  if (origin.elements == 1) {
    return with_owner(verb + " element " + key_text(element) + " in " + set, owners, origin.object, &element) +
           data;
  }
  return with_owner(verb + " " + std::to_string(origin.elements) + " elements in " + set + " (the first " +
                        key_text(element) + ")",
                    owners, origin.object, &element);
}

}  // namespace

std::string describe_refusal(const NftBatch& batch, std::uint32_t seq, std::optional<std::uint32_t> offset,
                             const NftOwnerLookup& owners) {
  const std::optional<NftMessageOrigin> origin = batch.origin(seq, offset);
  if (!origin) return "message " + std::to_string(seq) + " (not of this batch)";
  const std::string table = std::string(batch.family() == IpFamily::V4 ? "ip " : "ip6 ") + batch.table();
  const std::string& object = origin->object;
  switch (origin->kind) {
    case NftMessageKind::BatchBegin:
    case NftMessageKind::BatchEnd: return "the transaction on table " + table;
    case NftMessageKind::AddTable: return "adding table " + table;
    case NftMessageKind::DeleteTable: return "deleting table " + table;
    case NftMessageKind::AddChain: return with_owner("adding chain " + object, owners, object, nullptr);
    case NftMessageKind::FlushChain: return with_owner("flushing chain " + object, owners, object, nullptr);
    case NftMessageKind::DeleteChain: return with_owner("deleting chain " + object, owners, object, nullptr);
    case NftMessageKind::AddSet: return with_owner("adding set " + object, owners, object, nullptr);
    case NftMessageKind::DeleteSet: return with_owner("deleting set " + object, owners, object, nullptr);
    case NftMessageKind::AddElements:
    case NftMessageKind::DeleteElements: return elements_text(*origin, owners);
    case NftMessageKind::AddRule: {
      if (origin->rule == nullptr) return "adding a rule to chain " + object;
      std::string text = rule_text(object, origin->position, *origin->rule, batch.family());
      if (origin->statement) text = statement_text(*origin->rule, *origin->statement, batch.family()) + " of " + text;
      return with_owner(text, owners, object, nullptr);
    }
  }
  return "message " + std::to_string(seq);
}

std::string describe_inexpressible(std::string_view chain, std::size_t position, const NftRule& rule,
                                   const NftInexpressible& why, IpFamily family) {
  std::string text = rule_text(chain, position, rule, family);
  if (why.statement < rule.statements.size()) text = statement_text(rule, why.statement, family) + " of " + text;
  return text + ": " + why.reason;
}

}  // namespace kubenat
