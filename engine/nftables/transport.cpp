#include "engine/nftables/transport.h"

// glibc's netinet headers before the kernel's linux/ ones.
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>

#include "engine/nftables/encoding.h"
#include "engine/nftables/nftnl_handles.h"

namespace kubenat {
namespace {

// Room for a request message: a table and a set name at the most.
constexpr std::size_t kRequestBytes = 1024;

// The elements of one NEWSETELEM message of a dump.
std::expected<void, std::string> collect_raw_elements(const nlmsghdr& message, std::vector<NftRawElement>& out) {
  auto set = nftnl::make_set();
  if (nftnl_set_elems_nlmsg_parse(&message, set.get()) < 0) return std::unexpected(std::string("unreadable element"));
  nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(set.get());
  if (it == nullptr) throw std::bad_alloc();
  for (nftnl_set_elem* element = nftnl_set_elems_iter_next(it); element != nullptr;
       element = nftnl_set_elems_iter_next(it)) {
    NftRawElement raw;
    for (auto [attribute, bytes] : {std::pair{NFTNL_SET_ELEM_KEY, &raw.key}, std::pair{NFTNL_SET_ELEM_DATA, &raw.data}}) {
      std::uint32_t length = 0;
      const auto* value = static_cast<const std::byte*>(nftnl_set_elem_get(element, attribute, &length));
      if (value != nullptr) bytes->assign(value, value + length);
    }
    if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_TIMEOUT)) {
      raw.timeout_ms = nftnl_set_elem_get_u64(element, NFTNL_SET_ELEM_TIMEOUT);
    }
    if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_EXPIRATION)) {
      raw.expires_ms = nftnl_set_elem_get_u64(element, NFTNL_SET_ELEM_EXPIRATION);
    }
    out.push_back(std::move(raw));
  }
  nftnl_set_elems_iter_destroy(it);
  return {};
}

}  // namespace

std::expected<KernelNftTransport, std::string> KernelNftTransport::open() {
  auto socket = NetlinkSocket::open(NETLINK_NETFILTER);
  if (!socket) return std::unexpected(socket.error().message);
  return KernelNftTransport(std::move(*socket));
}

std::expected<std::vector<NftAck>, std::string> KernelNftTransport::send(const NftBatch& batch) {
  if (!batch.finished()) return std::unexpected(std::string("the nftables batch was sent without BATCH_END"));
  auto acks = socket_.send_batch(batch.bytes(), batch.acks_expected());
  if (!acks) return std::unexpected("NETLINK_NETFILTER: " + acks.error().message);
  return std::move(*acks);
}

std::expected<std::vector<NftRawElement>, std::string> KernelNftTransport::dump_elements(IpFamily family,
                                                                                        const std::string& table,
                                                                                        const std::string& set) {
  std::vector<std::byte> request(kRequestBytes);
  const std::uint32_t seq = socket_.next_sequence();
  nlmsghdr* header = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(request.data()), NFT_MSG_GETSETELEM,
                                           nft_encoding::nfproto(family), NLM_F_DUMP, seq);
  auto query = nftnl::make_set();
  nftnl_set_set_str(query.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(query.get(), NFTNL_SET_NAME, set.c_str());
  nftnl_set_elems_nlmsg_build_payload(header, query.get());
  const std::string what = "GETSETELEM " + table + " " + set;
  // A dump comes in as many reads as it takes, ended by NLMSG_DONE; an
  // error (no such set) comes as NLMSG_ERROR instead.
  std::vector<NftRawElement> out;
  std::string unreadable;
  auto done = socket_.exchange(std::span(request.data(), header->nlmsg_len), seq, [&](const nlmsghdr& message) {
    if ((message.nlmsg_type & 0xff) != NFT_MSG_NEWSETELEM) return;
    if (auto ok = collect_raw_elements(message, out); !ok) unreadable = ok.error();
  });
  if (!done) return std::unexpected(what + ": " + done.error().message);
  if (!unreadable.empty()) return std::unexpected(what + ": " + unreadable);
  return out;
}

std::expected<std::optional<std::uint64_t>, std::string> KernelNftTransport::table_handle(IpFamily family,
                                                                                          const std::string& name) {
  std::vector<std::byte> request(kRequestBytes);
  const std::uint32_t seq = socket_.next_sequence();
  nlmsghdr* header = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(request.data()), NFT_MSG_GETTABLE,
                                           nft_encoding::nfproto(family), NLM_F_ACK, seq);
  mnl_attr_put_strz(header, NFTA_TABLE_NAME, name.c_str());
  std::optional<std::uint64_t> handle;
  bool unreadable = false;
  auto done = socket_.exchange(std::span(request.data(), header->nlmsg_len), seq, [&](const nlmsghdr& message) {
    if ((message.nlmsg_type & 0xff) != NFT_MSG_NEWTABLE) return;
    auto table = nftnl::make_table();
    if (nftnl_table_nlmsg_parse(&message, table.get()) < 0) {
      unreadable = true;
      return;
    }
    handle = nftnl_table_get_u64(table.get(), NFTNL_TABLE_HANDLE);
  });
  if (!done) {
    if (done.error().code == ENOENT) return std::optional<std::uint64_t>();
    return std::unexpected("GETTABLE " + name + ": " + done.error().message);
  }
  if (unreadable) return std::unexpected("GETTABLE " + name + ": unreadable answer");
  if (!handle) return std::unexpected("GETTABLE " + name + ": no answer from the kernel");
  return handle;
}

}  // namespace kubenat
