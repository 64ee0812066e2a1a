#pragma once

// Owning handles for libnftnl objects: each frees its object with the
// matching nftnl_*_free when it goes away. For engine/nftables/ and for
// tests that parse messages back with libnftnl (which must link libnftnl).

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <memory>

namespace kubenat::nftnl {

struct Deleter {
  void operator()(nftnl_table* p) const { nftnl_table_free(p); }
  void operator()(nftnl_chain* p) const { nftnl_chain_free(p); }
  void operator()(nftnl_set* p) const { nftnl_set_free(p); }
  void operator()(nftnl_set_elem* p) const { nftnl_set_elem_free(p); }
  void operator()(nftnl_rule* p) const { nftnl_rule_free(p); }
  void operator()(nftnl_expr* p) const { nftnl_expr_free(p); }
  void operator()(nftnl_udata_buf* p) const { nftnl_udata_buf_free(p); }
};

using Table = std::unique_ptr<nftnl_table, Deleter>;
using Chain = std::unique_ptr<nftnl_chain, Deleter>;
using Set = std::unique_ptr<nftnl_set, Deleter>;
using SetElem = std::unique_ptr<nftnl_set_elem, Deleter>;
using Rule = std::unique_ptr<nftnl_rule, Deleter>;
using Expr = std::unique_ptr<nftnl_expr, Deleter>;
using UdataBuf = std::unique_ptr<nftnl_udata_buf, Deleter>;

// The allocators throw std::bad_alloc instead of returning null, like new.
Table make_table();
Chain make_chain();
Set make_set();
SetElem make_set_elem();
Rule make_rule();
Expr make_expr(const char* name);
UdataBuf make_udata_buf(unsigned size);

}  // namespace kubenat::nftnl
