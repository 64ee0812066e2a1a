#include "engine/nftables/transport.h"

// glibc's netinet headers before the kernel's linux/ ones.
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <endian.h>

#include <array>
#include <cerrno>

#include "engine/nftables/encoding.h"
#include "engine/nftables/nftnl_handles.h"

namespace kubenat {
namespace {

// Room for a request message: a table and a set name at the most.
constexpr std::size_t kRequestBytes = 1024;

// The answers are read with libmnl rather than libnftnl: libnftnl's parsers
// exit the process on an attribute of a size they do not expect ("nf_tables
// kernel ABI is broken") and read past a message too short for its header,
// and a proxy must not die of what it reads. Only what kubenat uses is read.

// One nesting level's attributes (or a message's, after its nfgenmsg) by
// type, as far as the types read here go; of a type given twice, the last.
constexpr std::uint16_t kMaxAttributeType = 15;
static_assert(NFTA_SET_ELEM_LIST_ELEMENTS <= kMaxAttributeType && NFTA_SET_ELEM_DATA <= kMaxAttributeType &&
              NFTA_SET_ELEM_EXPIRATION <= kMaxAttributeType && NFTA_TABLE_HANDLE <= kMaxAttributeType);
using AttributeTable = std::array<const nlattr*, kMaxAttributeType + 1>;

int collect_attribute(const nlattr* attribute, void* data) {
  const std::uint16_t type = mnl_attr_get_type(attribute);
  if (type <= kMaxAttributeType) (*static_cast<AttributeTable*>(data))[type] = attribute;
  return MNL_CB_OK;
}

AttributeTable message_attributes(const nlmsghdr& message) {
  AttributeTable table{};
  (void)mnl_attr_parse(&message, sizeof(nfgenmsg), collect_attribute, &table);
  return table;
}

// The bytes of a key's or data's value (NFTA_DATA_VALUE in the nest `data`),
// none for a verdict; false for a malformed one.
bool read_data_value(const nlattr* data, std::vector<std::byte>& out) {
  if (mnl_attr_validate(data, MNL_TYPE_NESTED) < 0) return false;
  AttributeTable table{};
  (void)mnl_attr_parse_nested(data, collect_attribute, &table);
  const nlattr* value = table[NFTA_DATA_VALUE];
  if (value == nullptr) return true;
  const std::uint16_t length = mnl_attr_get_payload_len(value);
  if (length == 0 || length > NFT_DATA_VALUE_MAXLEN) return false;
  const auto* bytes = static_cast<const std::byte*>(mnl_attr_get_payload(value));
  out.assign(bytes, bytes + length);
  return true;
}

// A 64-bit big-endian attribute; false when it is not 8 bytes.
bool read_u64(const nlattr* attribute, std::optional<std::uint64_t>& out) {
  if (mnl_attr_get_payload_len(attribute) != sizeof(std::uint64_t)) return false;
  out = be64toh(mnl_attr_get_u64(attribute));
  return true;
}

std::expected<NftRawElement, std::string> parse_element(const nlattr* element) {
  const auto unreadable = [] { return std::unexpected(std::string("unreadable element")); };
  if (mnl_attr_get_type(element) != NFTA_LIST_ELEM || mnl_attr_validate(element, MNL_TYPE_NESTED) < 0) {
    return unreadable();
  }
  AttributeTable table{};
  (void)mnl_attr_parse_nested(element, collect_attribute, &table);
  NftRawElement raw;
  if (table[NFTA_SET_ELEM_KEY] != nullptr && !read_data_value(table[NFTA_SET_ELEM_KEY], raw.key)) return unreadable();
  if (table[NFTA_SET_ELEM_DATA] != nullptr && !read_data_value(table[NFTA_SET_ELEM_DATA], raw.data)) {
    return unreadable();
  }
  if (table[NFTA_SET_ELEM_TIMEOUT] != nullptr && !read_u64(table[NFTA_SET_ELEM_TIMEOUT], raw.timeout_ms)) {
    return unreadable();
  }
  if (table[NFTA_SET_ELEM_EXPIRATION] != nullptr && !read_u64(table[NFTA_SET_ELEM_EXPIRATION], raw.expires_ms)) {
    return unreadable();
  }
  return raw;
}

}  // namespace

std::expected<std::vector<NftRawElement>, std::string> parse_set_element_message(const nlmsghdr& message) {
  if (message.nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return std::unexpected(std::string("unreadable element"));
  const nlattr* list = message_attributes(message)[NFTA_SET_ELEM_LIST_ELEMENTS];
  std::vector<NftRawElement> out;
  if (list == nullptr) return out;
  if (mnl_attr_validate(list, MNL_TYPE_NESTED) < 0) return std::unexpected(std::string("unreadable element"));
  const char* end = static_cast<const char*>(mnl_attr_get_payload(list)) + mnl_attr_get_payload_len(list);
  for (auto* element = static_cast<const nlattr*>(mnl_attr_get_payload(list));
       mnl_attr_ok(element, static_cast<int>(end - reinterpret_cast<const char*>(element)));
       element = mnl_attr_next(element)) {
    auto raw = parse_element(element);
    if (!raw) return std::unexpected(raw.error());
    out.push_back(std::move(*raw));
  }
  return out;
}

std::optional<std::uint64_t> parse_table_handle_message(const nlmsghdr& message) {
  if (message.nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return std::nullopt;
  const nlattr* attribute = message_attributes(message)[NFTA_TABLE_HANDLE];
  std::optional<std::uint64_t> handle = 0;
  if (attribute != nullptr && !read_u64(attribute, handle)) return std::nullopt;
  return handle;
}

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
    auto elements = parse_set_element_message(message);
    if (!elements) {
      unreadable = elements.error();
      return;
    }
    out.insert(out.end(), std::make_move_iterator(elements->begin()), std::make_move_iterator(elements->end()));
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
    std::optional<std::uint64_t> parsed = parse_table_handle_message(message);
    if (!parsed) {
      unreadable = true;
      return;
    }
    handle = parsed;
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
