#pragma once

// What the nftables backend tells people when the kernel refuses a batch or
// a rule cannot be expressed: the plan object in nft's own words (through
// the text renderer, rules/nftables/render.h), and the service port that
// owns it. The batch (engine/nftables/batch.h) says which object it was;
// this file only words it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/nftables/batch.h"

namespace kubenat {

// Names the owner of an object an error is about ("service ns/name:port"),
// or "" when unknown. Given the set or chain name and, for elements, the
// element.
using NftOwnerLookup = std::function<std::string(std::string_view object, const NftElement* element)>;

// What the kernel refused, in words: message `seq` of `batch` and, when the
// kernel gave the offset of the attribute at fault, the element or
// statement there. For example `element 10.96.0.10 . tcp . 80 in map
// service-ips (service default/web:http)`. `owners` may be empty.
std::string describe_refusal(const NftBatch& batch, std::uint32_t seq, std::optional<std::uint32_t> offset,
                             const NftOwnerLookup& owners = {});

// A rule that has no nf_tables form: "statement `...` of rule 3 of chain
// x (...): <reason>".
std::string describe_inexpressible(std::string_view chain, std::size_t position, const NftRule& rule,
                                   const NftInexpressible& why, IpFamily family);

}  // namespace kubenat
