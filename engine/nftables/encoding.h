#pragma once

// nf_tables' encoding of the IR's values (rules/nftables/plan.h), as nft
// 1.0.6 encodes the same text, so that `nft list` prints kubenat's table as
// if nft had made it: data type ids, byte orders, keys and data in the
// kernel's layout, register numbers, a set's user data (typeof, comments),
// and set elements as libnftnl objects. Builds values; sends nothing.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/nftables/nftnl_handles.h"
#include "rules/ip.h"
#include "rules/nftables/plan.h"

namespace kubenat::nft_encoding {

// NFPROTO_IPV4 or NFPROTO_IPV6: the table family.
std::uint16_t nfproto(IpFamily family);

// A concatenated key or data: its fields padded to 4 bytes each.
inline bool is_concat(const std::vector<NftType>& types) { return types.size() > 1; }
// The bytes of one field of the type (0 for a verdict).
std::uint32_t type_size(NftType type);
// A concatenated type id: (t1 << 6 | t2) << 6 | t3 ... (nft's TYPE_BITS = 6).
// In a typeof key, the Mark field is numgen's integer.
std::uint32_t concat_type_id(const std::vector<NftType>& types, bool key);
// The key's length: a lone field's own size, or every field padded to 4.
std::uint32_t key_length(const std::vector<NftType>& types);

// nft's register encoding: the 32-bit register index i (0 = NFT_REG32_00)
// as a 128-bit register number when it starts one, else as NFT_REG32_<i>.
std::uint32_t register_number(unsigned index32);

// A key or data value in the kernel's layout: addresses and ports in
// network order, numbers (marks, numgen indexes) in host order, the fields
// of a concatenation padded to 4 bytes.
std::vector<std::byte> pack_values(const std::vector<NftValue>& values);
// The inverse of pack_values for a key or data of `types`; nullopt when the
// bytes are not such a value.
std::optional<std::vector<NftValue>> unpack_values(const std::vector<NftType>& types,
                                                   std::span<const std::byte> bytes);

// NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_JUMP, NFT_GOTO.
std::uint32_t verdict_code(NftVerdict::Kind kind);

// The set's user data as nft writes it: key and data byte orders, typeof
// expressions, the comment.
nftnl::UdataBuf set_userdata(const NftSet& set);

// The nftnl elements for one IR element (with its data only when adding):
// one, or for a range in a single-field interval set a start element and an
// interval-end element, as nft sends them; a prefix in a concatenation
// becomes a key and key end. `declaration` (may be null) tells whether a
// plain address in a single-field interval set means that one address.
std::vector<nftnl::SetElem> expand_element(const NftElement& element, const NftSet* declaration, bool with_data);

}  // namespace kubenat::nft_encoding
