#pragma once

// nftables plans as `nft -f` text: the whole table (`kubenat plan --format
// nft`, and the reference the netlink backend's kernel tests compare with)
// and a change as an `nft -f` script (`kubenat plan --diff --format nft`,
// debugging). Pure: no I/O.
//
// The text is what nft 1.0.6 accepts and, as far as nft allows, what
// `nft list table` prints back, so that a rendering and a listing can be
// compared. Two places where the IR's words and nft's differ:
// - A set whose key holds an NftType::Mark field (the numgen endpoint index
//   of the DNAT maps) is declared with `typeof`: nft types `numgen random mod
//   N` as a plain integer and refuses to look it up in a map whose key says
//   `mark`, and a bare integer cannot be named in a `type` declaration. The
//   typeof expressions are `ip daddr`/`ip6 daddr`, `meta l4proto`, `th dport`
//   and `numgen random mod 1`; the kernel sees the same key (integer, 4
//   bytes, host order). Such key numbers print in decimal, as nft lists them.
// - Comments go through nft_comment(): nft has no escapes in quoted strings
//   and allows 128 bytes.

#include <string>
#include <string_view>
#include <vector>

#include "rules/nftables/change.h"
#include "rules/nftables/plan.h"

namespace kubenat {

// The table as `nft -f` input: `table <family> <name> { ... }` with every set
// and map of the plan, each with the elements the service ports put in it,
// sorted, then every chain, in the plan's order (which the netlink backend
// creates them in too, so that both ways list the same). Deterministic: the
// same plan gives the same bytes.
[[nodiscard]] std::string render_nft(const NftPlan& plan);

// The change as an `nft -f` script of `add`/`flush`/`delete` commands, in
// the order the change must be applied (see rules/nftables/change.h). Elements of
// one set that follow each other share one `add element`/`delete element`.
[[nodiscard]] std::string render_nft_change(const NftChange& change);

// --- Pieces, shared with the netlink backend's error messages.

// "ipv4_addr", "inet_proto", ... (nft's type names).
[[nodiscard]] std::string_view nft_type_name(NftType type);
// "ip daddr", "meta l4proto", "th dport" (ip6 for V6).
[[nodiscard]] std::string nft_field_text(NftField field, IpFamily family);
// One value as nft prints it. Numbers print in decimal in keys (the numgen
// index) and as 0x%08x elsewhere (marks).
[[nodiscard]] std::string render_nft_value(const NftValue& value, bool in_key = false);
// Values joined with " . ", as in a key or map data.
[[nodiscard]] std::string render_nft_values(const std::vector<NftValue>& values, bool in_key);
// "10.96.0.10 . tcp . 80 : goto svc-x".
[[nodiscard]] std::string render_nft_element(const NftElement& element);
// The statements and comment of a rule, as in a chain body.
[[nodiscard]] std::string render_nft_rule(const NftRule& rule, IpFamily family);
// "accept", "jump <chain>", ...
[[nodiscard]] std::string render_nft_verdict(const NftVerdict& verdict);

}  // namespace kubenat
