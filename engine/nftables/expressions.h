#pragma once

// Rule statements (rules/nftables/plan.h) as nf_tables expressions, the way
// nft 1.0.6's netlink_linearize.c emits them for the same text: the same
// registers, loads, comparisons and lookups, so that `nft list` prints the
// rule kubenat sent as nft would have written it. Builds libnftnl objects;
// sends nothing.

#include <cstddef>
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/nftables/nftnl_handles.h"
#include "rules/ip.h"
#include "rules/nftables/plan.h"

namespace kubenat {

// The declarations of the sets rules refer to, by name; nullptr when
// unknown (a lookup is then built from the statement alone).
using NftSetLookup = std::function<const NftSet*(std::string_view name)>;

// One expression and the statement (index into NftRule::statements) it
// comes from: what lets a kernel error on an expression name the statement.
struct NftExpression {
  nftnl::Expr expression;
  std::size_t statement = 0;
};

// Why a statement has no nf_tables form: a value that does not fit its
// field, a concatenation over 64 bytes. A plan from the compiler never has
// one; the text says what is wrong without rendering the statement (the
// caller names it).
struct NftInexpressible {
  std::size_t statement = 0;
  std::string reason;
};

// The expressions of `rule` in order, for a table of `family`. `sets` tells
// how a set a statement names is declared (interval concatenations need a
// byte-order conversion; a DNAT map's data says whether it holds ports).
[[nodiscard]] std::expected<std::vector<NftExpression>, NftInexpressible> rule_expressions(
    const NftRule& rule, IpFamily family, const NftSetLookup& sets);

}  // namespace kubenat
