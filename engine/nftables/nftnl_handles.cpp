#include "engine/nftables/nftnl_handles.h"

#include <new>

namespace kubenat::nftnl {
namespace {

template <class T>
T checked(T handle) {
  if (!handle) throw std::bad_alloc();
  return handle;
}

}  // namespace

Table make_table() { return checked(Table(nftnl_table_alloc())); }
Chain make_chain() { return checked(Chain(nftnl_chain_alloc())); }
Set make_set() { return checked(Set(nftnl_set_alloc())); }
SetElem make_set_elem() { return checked(SetElem(nftnl_set_elem_alloc())); }
Rule make_rule() { return checked(Rule(nftnl_rule_alloc())); }
Expr make_expr(const char* name) { return checked(Expr(nftnl_expr_alloc(name))); }
UdataBuf make_udata_buf(unsigned size) { return checked(UdataBuf(nftnl_udata_buf_alloc(size))); }

}  // namespace kubenat::nftnl
