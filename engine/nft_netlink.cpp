#include "engine/nft_netlink.h"

// glibc's netinet headers before the kernel's linux/ ones, which then leave
// out what glibc already defined (struct in_addr and friends).
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "engine/nftnl_handles.h"
#include "rules/nft_render.h"

namespace kubenat {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

// --- nft's vocabulary (nftables include/datatype.h, include/expression.h,
// include/proto.h, include/netlink.h). Only what kubenat's IR uses.

constexpr unsigned kTypeBits = 6;  // TYPE_BITS: concatenated type ids
constexpr std::uint32_t kTypeInteger = 4;
constexpr std::uint32_t kTypeIpAddr = 7;
constexpr std::uint32_t kTypeIp6Addr = 8;
constexpr std::uint32_t kTypeInetProto = 12;
constexpr std::uint32_t kTypeInetService = 13;
constexpr std::uint32_t kTypeMark = 19;

// enum byteorder, as nft records it in a set's user data.
constexpr std::uint32_t kByteorderInvalid = 0;
constexpr std::uint32_t kByteorderHost = 1;
constexpr std::uint32_t kByteorderBig = 2;

// enum expr_types, for typeof user data.
constexpr std::uint32_t kExprVerdict = 1;
constexpr std::uint32_t kExprPayload = 7;
constexpr std::uint32_t kExprMeta = 9;
constexpr std::uint32_t kExprConcat = 13;
constexpr std::uint32_t kExprNumgen = 23;

// enum proto_desc_id and header field indexes, for typeof user data.
constexpr std::uint32_t kProtoDescTh = 11;
constexpr std::uint32_t kProtoDescIp = 12;
constexpr std::uint32_t kProtoDescIp6 = 13;
constexpr std::uint32_t kIpHdrDaddr = 12;
constexpr std::uint32_t kIp6HdrDaddr = 9;
constexpr std::uint32_t kThHdrDport = 2;

// The largest element list one message carries: the list is one netlink
// attribute, whose 16-bit length caps it at 64 KiB (nftables' src/mnl.c says
// the same). One element never takes 1 KiB, so stopping past this mark
// keeps every list under the limit.
constexpr std::size_t kElementListBytes = 63 * 1024;
// Room reserved in the buffer before a message is built in place.
constexpr std::size_t kMessageReserve = 80 * 1024;

std::uint16_t nfproto(IpFamily family) { return family == IpFamily::V4 ? NFPROTO_IPV4 : NFPROTO_IPV6; }

bool is_concat(const std::vector<NftType>& types) { return types.size() > 1; }

std::uint32_t type_id(NftType type, bool typeof_key) {
  switch (type) {
    case NftType::Ipv4Addr: return kTypeIpAddr;
    case NftType::Ipv6Addr: return kTypeIp6Addr;
    case NftType::InetProto: return kTypeInetProto;
    case NftType::InetService: return kTypeInetService;
    // In a typeof key the index is `numgen random mod 1`: an integer.
    case NftType::Mark: return typeof_key ? kTypeInteger : kTypeMark;
    case NftType::Verdict: return NFT_DATA_VERDICT;
  }
  return 0;
}

std::uint32_t type_size(NftType type) {
  switch (type) {
    case NftType::Ipv4Addr: return 4;
    case NftType::Ipv6Addr: return 16;
    case NftType::InetProto: return 1;
    case NftType::InetService: return 2;
    case NftType::Mark: return 4;
    case NftType::Verdict: return 0;
  }
  return 0;
}

std::uint32_t type_byteorder(NftType type) {
  switch (type) {
    case NftType::Ipv4Addr:
    case NftType::Ipv6Addr:
    case NftType::InetService: return kByteorderBig;
    case NftType::Mark: return kByteorderHost;
    case NftType::InetProto:  // one byte: nft records no order
    case NftType::Verdict: return kByteorderInvalid;
  }
  return kByteorderInvalid;
}

std::uint32_t round_up4(std::uint32_t n) { return (n + 3) & ~3u; }

// --- Values in the kernel's layout.

void append_value(std::vector<std::byte>& out, const NftValue& value, bool pad) {
  const std::size_t start = out.size();
  const auto append_bytes = [&](const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::byte*>(data);
    out.insert(out.end(), bytes, bytes + size);
  };
  if (const auto* address = std::get_if<IpAddress>(&value)) {
    append_bytes(address->bytes().data(), address->byte_length());
  } else if (const auto* cidr = std::get_if<Cidr>(&value)) {
    append_bytes(cidr->network().bytes().data(), cidr->network().byte_length());
  } else if (const auto* protocol = std::get_if<Protocol>(&value)) {
    const std::uint8_t number = *protocol == Protocol::Tcp ? 6 : *protocol == Protocol::Udp ? 17 : 132;
    append_bytes(&number, 1);
  } else if (const auto* port = std::get_if<std::uint16_t>(&value)) {
    const std::uint8_t bytes[2] = {static_cast<std::uint8_t>(*port >> 8), static_cast<std::uint8_t>(*port)};
    append_bytes(bytes, 2);
  } else if (const auto* number = std::get_if<std::uint32_t>(&value)) {
    // Marks and numgen results live in registers in host order.
    append_bytes(number, 4);
  }
  if (pad) out.resize(start + round_up4(static_cast<std::uint32_t>(out.size() - start)));
}

std::vector<std::byte> pack(const std::vector<NftValue>& values) {
  std::vector<std::byte> out;
  const bool pad = values.size() > 1;
  for (const NftValue& value : values) append_value(out, value, pad);
  return out;
}

// The last address of a prefix.
IpAddress last_address(const Cidr& cidr) {
  auto bytes = cidr.network().bytes();
  const int bits = static_cast<int>(cidr.network().byte_length()) * 8;
  for (int bit = cidr.prefix_length(); bit < bits; ++bit) bytes[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
  return *IpAddress::from_bytes(std::span(bytes.data(), cidr.network().byte_length()));
}

// address + 1, or nullopt past the last address.
std::optional<IpAddress> next_address(const IpAddress& address) {
  auto bytes = address.bytes();
  for (int i = static_cast<int>(address.byte_length()) - 1; i >= 0; --i) {
    if (++bytes[i] != 0) return IpAddress::from_bytes(std::span(bytes.data(), address.byte_length()));
  }
  return std::nullopt;
}

// --- Set user data, as nft 1.0.6 writes it (src/mnl.c mnl_nft_set_add and
// the expressions' build_udata): `nft list` reads byte orders, typeof
// expressions and comments back from here.

void put_typeof_expression(nftnl_udata_buf* buf, NftType type, bool in_key) {
  const auto put_expr = [&](std::uint32_t expr) { nftnl_udata_put_u32(buf, NFTNL_UDATA_SET_TYPEOF_EXPR, expr); };
  switch (type) {
    case NftType::Ipv4Addr:
    case NftType::Ipv6Addr: {
      put_expr(kExprPayload);
      nftnl_udata* data = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
      const bool v6 = type == NftType::Ipv6Addr;
      nftnl_udata_put_u32(buf, 0, v6 ? kProtoDescIp6 : kProtoDescIp);  // payload: desc
      nftnl_udata_put_u32(buf, 1, v6 ? kIp6HdrDaddr : kIpHdrDaddr);    // payload: field
      nftnl_udata_nest_end(buf, data);
      break;
    }
    case NftType::InetProto:
    case NftType::Mark:
      if (type == NftType::Mark && in_key) {
        put_expr(kExprNumgen);
        nftnl_udata* data = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
        nftnl_udata_put_u32(buf, 0, NFT_NG_RANDOM);  // numgen: type
        nftnl_udata_put_u32(buf, 1, 1);              // numgen: modulus
        nftnl_udata_put_u32(buf, 2, 0);              // numgen: offset
        nftnl_udata_nest_end(buf, data);
      } else {
        put_expr(kExprMeta);
        nftnl_udata* data = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
        nftnl_udata_put_u32(buf, 0, type == NftType::Mark ? NFT_META_MARK : NFT_META_L4PROTO);
        nftnl_udata_nest_end(buf, data);
      }
      break;
    case NftType::InetService: {
      put_expr(kExprPayload);
      nftnl_udata* data = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
      nftnl_udata_put_u32(buf, 0, kProtoDescTh);
      nftnl_udata_put_u32(buf, 1, kThHdrDport);
      nftnl_udata_nest_end(buf, data);
      break;
    }
    case NftType::Verdict: {
      put_expr(kExprVerdict);
      nftnl_udata_nest_end(buf, nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA));
      break;
    }
  }
}

// A typeof declaration (full expressions) or, for a `type` declaration of
// a concatenation, the empty concatenation nft 1.0.6 records.
void put_typeof(nftnl_udata_buf* buf, std::uint8_t attribute, const std::vector<NftType>& types, bool full,
                bool in_key) {
  nftnl_udata* outer = nftnl_udata_nest_start(buf, attribute);
  if (full && types.size() == 1) {
    put_typeof_expression(buf, types[0], in_key);
  } else {
    nftnl_udata_put_u32(buf, NFTNL_UDATA_SET_TYPEOF_EXPR, kExprConcat);
    nftnl_udata* list = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
    if (full) {
      for (std::size_t i = 0; i < types.size(); ++i) {
        nftnl_udata* item = nftnl_udata_nest_start(buf, static_cast<std::uint8_t>(i));
        put_typeof_expression(buf, types[i], in_key);
        nftnl_udata_nest_end(buf, item);
      }
    }
    nftnl_udata_nest_end(buf, list);
  }
  nftnl_udata_nest_end(buf, outer);
}

nftnl::UdataBuf set_userdata(const NftSet& set) {
  auto buf = nftnl::make_udata_buf(NFT_USERDATA_MAXLEN);
  const bool full = nft_set_uses_typeof(set);
  const bool map = !set.data.empty();
  nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_KEYBYTEORDER,
                      is_concat(set.key) ? kByteorderInvalid
                      : full             ? kByteorderHost  // numgen's integer
                                         : type_byteorder(set.key[0]));
  if (map) {
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATABYTEORDER,
                        is_concat(set.data) ? kByteorderInvalid : type_byteorder(set.data[0]));
  }
  if (full || is_concat(set.key)) put_typeof(buf.get(), NFTNL_UDATA_SET_KEY_TYPEOF, set.key, full, true);
  if (map && (full || is_concat(set.data))) {
    put_typeof(buf.get(), NFTNL_UDATA_SET_DATA_TYPEOF, set.data, full, false);
  }
  if (map) nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATA_INTERVAL, 0);
  if (!set.comment.empty()) {
    nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_SET_COMMENT, nft_comment(set.comment).c_str());
  }
  return buf;
}

// --- Elements: one IR element is one nftnl element, or two for a range in
// a single-field interval set (rbtree: start, then interval end).

std::uint32_t verdict_code(NftVerdict::Kind kind) {
  switch (kind) {
    case NftVerdict::Kind::Accept: return NF_ACCEPT;
    case NftVerdict::Kind::Drop: return NF_DROP;
    case NftVerdict::Kind::Return: return static_cast<std::uint32_t>(NFT_RETURN);
    case NftVerdict::Kind::Jump: return static_cast<std::uint32_t>(NFT_JUMP);
    case NftVerdict::Kind::Goto: return static_cast<std::uint32_t>(NFT_GOTO);
  }
  return NF_ACCEPT;
}

void set_element_data(nftnl_set_elem* element, const std::vector<NftValue>& data) {
  if (data.empty()) return;
  if (const auto* verdict = std::get_if<NftVerdict>(&data[0]); verdict && data.size() == 1) {
    nftnl_set_elem_set_u32(element, NFTNL_SET_ELEM_VERDICT, verdict_code(verdict->kind));
    if (!verdict->chain.empty()) nftnl_set_elem_set_str(element, NFTNL_SET_ELEM_CHAIN, verdict->chain.c_str());
    return;
  }
  const std::vector<std::byte> bytes = pack(data);
  nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, bytes.data(), static_cast<std::uint32_t>(bytes.size()));
}

// The nftnl elements for one IR element (with data only when adding).
std::vector<nftnl::SetElem> expand_element(const NftElement& element, const NftSet* declaration, bool with_data) {
  std::vector<nftnl::SetElem> out;
  const bool has_prefix = std::any_of(element.key.begin(), element.key.end(),
                                      [](const NftValue& v) { return std::holds_alternative<Cidr>(v); });
  const bool interval = has_prefix || (declaration && declaration->interval);
  auto first = nftnl::make_set_elem();
  const std::vector<std::byte> key = pack(element.key);
  nftnl_set_elem_set(first.get(), NFTNL_SET_ELEM_KEY, key.data(), static_cast<std::uint32_t>(key.size()));
  if (with_data) set_element_data(first.get(), element.data);
  if (!interval) {
    out.push_back(std::move(first));
    return out;
  }
  if (element.key.size() > 1) {
    // A concatenation with ranges (pipapo): the key end holds each range's
    // last address, the other fields as they are.
    std::vector<NftValue> end = element.key;
    for (NftValue& value : end) {
      if (const auto* cidr = std::get_if<Cidr>(&value)) value = last_address(*cidr);
    }
    const std::vector<std::byte> end_bytes = pack(end);
    nftnl_set_elem_set(first.get(), NFTNL_SET_ELEM_KEY_END, end_bytes.data(),
                       static_cast<std::uint32_t>(end_bytes.size()));
    out.push_back(std::move(first));
    return out;
  }
  // One field (rbtree): the range is [start, end) with end flagged as an
  // interval end; a range up to the last address has no end element, and
  // nft marks its start "open" in the element's user data.
  std::optional<IpAddress> end;
  if (const auto* cidr = std::get_if<Cidr>(&element.key[0])) {
    end = next_address(last_address(*cidr));
  } else if (const auto* address = std::get_if<IpAddress>(&element.key[0])) {
    end = next_address(*address);
  } else {
    out.push_back(std::move(first));  // not an address: nothing to widen
    return out;
  }
  if (!end) {
    auto buf = nftnl::make_udata_buf(16);
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_ELEM_FLAGS, NFTNL_SET_ELEM_F_INTERVAL_OPEN);
    nftnl_set_elem_set(first.get(), NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(buf.get()),
                       nftnl_udata_buf_len(buf.get()));
    out.push_back(std::move(first));
    return out;
  }
  out.push_back(std::move(first));
  auto last = nftnl::make_set_elem();
  const std::vector<std::byte> end_bytes = pack({*end});
  nftnl_set_elem_set(last.get(), NFTNL_SET_ELEM_KEY, end_bytes.data(), static_cast<std::uint32_t>(end_bytes.size()));
  nftnl_set_elem_set_u32(last.get(), NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
  out.push_back(std::move(last));
  return out;
}

// --- Rules: statements to expressions, as nft's netlink_linearize.c emits
// them.

struct FieldSpec {
  enum class Source : std::uint8_t { Payload, Meta, Ct };
  Source source = Source::Payload;
  std::uint32_t base = 0;  // payload base
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  std::uint32_t key = 0;   // meta or ct key
};

FieldSpec field_spec(NftField field, IpFamily family) {
  using S = FieldSpec::Source;
  const bool v4 = family == IpFamily::V4;
  switch (field) {
    case NftField::IpSaddr: return {S::Payload, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 12u : 8u, v4 ? 4u : 16u, 0};
    case NftField::IpDaddr: return {S::Payload, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16u : 24u, v4 ? 4u : 16u, 0};
    case NftField::MetaL4proto: return {S::Meta, 0, 0, 1, NFT_META_L4PROTO};
    case NftField::ThDport: return {S::Payload, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, 0};
    case NftField::CtOriginalDaddr: return {S::Ct, 0, 0, v4 ? 4u : 16u, v4 ? NFT_CT_DST_IP : NFT_CT_DST_IP6};
    case NftField::CtOriginalProtoDst: return {S::Ct, 0, 0, 2, NFT_CT_PROTO_DST};
  }
  return {};
}

class RuleBuilder {
 public:
  // Adds the anonymous map a NumgenVmap looks up; returns its set id.
  using AnonymousMap = std::function<std::uint32_t(const nft::NumgenVmap&)>;

  RuleBuilder(nftnl_rule* rule, IpFamily family, const NftBatch::SetLookup& sets, AnonymousMap anonymous_map)
      : rule_(rule), family_(family), sets_(sets), anonymous_map_(std::move(anonymous_map)) {}

  std::size_t expressions() const { return expressions_; }

  std::expected<void, std::string> statement(const NftStatement& statement) {
    return std::visit([&](const auto& s) { return emit(s); }, statement);
  }

 private:
  void add(nftnl::Expr expression) {
    nftnl_rule_add_expr(rule_, expression.release());
    ++expressions_;
  }

  // Loads one field into the register at 32-bit index `index`; returns the
  // number of 32-bit registers it fills.
  unsigned load(NftField field, unsigned index) {
    const FieldSpec spec = field_spec(field, family_);
    switch (spec.source) {
      case FieldSpec::Source::Meta: {
        auto e = nftnl::make_expr("meta");
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, spec.key);
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, nft_netlink_detail::register_number(index));
        add(std::move(e));
        break;
      }
      case FieldSpec::Source::Ct: {
        auto e = nftnl::make_expr("ct");
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, spec.key);
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, nft_netlink_detail::register_number(index));
        nftnl_expr_set_u8(e.get(), NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
        add(std::move(e));
        break;
      }
      case FieldSpec::Source::Payload: payload(spec.base, spec.offset, spec.length, index); break;
    }
    return (spec.length + 3) / 4;
  }

  void payload(std::uint32_t base, std::uint32_t offset, std::uint32_t length, unsigned index) {
    auto e = nftnl::make_expr("payload");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, nft_netlink_detail::register_number(index));
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, length);
    add(std::move(e));
  }

  // Loads fields one after the other from NFT_REG32_00, as nft does for a
  // concatenation; returns the registers filled. For a concatenation with
  // ranges (`set`, when the set is known to be one) nft turns host-order
  // fields to network order first; for the one such field kubenat loads,
  // meta l4proto (one byte), that is a no-op the kernel still carries, and
  // it is emitted all the same so that both ways leave the same rule.
  std::expected<unsigned, std::string> load_all(const std::vector<NftField>& fields, const std::string& set,
                                                unsigned index = 0) {
    const NftSet* target = sets_ ? sets_(set) : nullptr;
    const bool ranges = target && target->interval && target->key.size() > 1;
    for (const NftField field : fields) {
      const unsigned width = (field_spec(field, family_).length + 3) / 4;
      if (index + width > NFT_REG32_COUNT) return std::unexpected("the concatenation is longer than 64 bytes");
      load(field, index);
      if (ranges && field == NftField::MetaL4proto) {
        auto e = nftnl::make_expr("byteorder");
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_SREG, nft_netlink_detail::register_number(index));
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_DREG, nft_netlink_detail::register_number(index));
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_LEN, 1);
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_SIZE, 2);
        add(std::move(e));
      }
      index += width;
    }
    return index;
  }

  void cmp(std::uint32_t op, const void* data, std::uint32_t length) {
    auto e = nftnl::make_expr("cmp");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data, length);
    add(std::move(e));
  }

  void bitwise(const void* mask, const void* xor_value, std::uint32_t length) {
    auto e = nftnl::make_expr("bitwise");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, length);
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, mask, length);
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, xor_value, length);
    add(std::move(e));
  }

  // A 32-bit host-order value through a mask, compared with zero:
  // ct state, ct status, meta mark tests.
  void masked_nonzero(std::uint32_t mask, bool nonzero) {
    const std::uint32_t zero = 0;
    bitwise(&mask, &zero, 4);
    cmp(nonzero ? NFT_CMP_NEQ : NFT_CMP_EQ, &zero, 4);
  }

  void meta_load(std::uint32_t key) {
    auto e = nftnl::make_expr("meta");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, NFT_REG_1);
    add(std::move(e));
  }

  void ct_load(std::uint32_t key) {
    auto e = nftnl::make_expr("ct");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, NFT_REG_1);
    add(std::move(e));
  }

  void lookup(const std::string& set, std::optional<std::uint32_t> dreg, bool invert,
              std::optional<std::uint32_t> set_id = std::nullopt) {
    auto e = nftnl::make_expr("lookup");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (set_id) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SET_ID, *set_id);
    if (dreg) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, *dreg);
    if (invert) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    add(std::move(e));
  }

  void immediate_data(std::uint32_t dreg, const void* data, std::uint32_t length) {
    auto e = nftnl::make_expr("immediate");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, dreg);
    nftnl_expr_set(e.get(), NFTNL_EXPR_IMM_DATA, data, length);
    add(std::move(e));
  }

  void nat(std::uint32_t addr_reg, std::optional<std::uint32_t> proto_reg, std::uint32_t flags) {
    auto e = nftnl::make_expr("nat");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_FAMILY, nfproto(family_));
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_ADDR_MIN, addr_reg);
    if (proto_reg) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_PROTO_MIN, *proto_reg);
    if (flags != 0) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_FLAGS, flags);
    add(std::move(e));
  }

  std::expected<void, std::string> check_address(const IpAddress& address) const {
    if (address.family() != family_) {
      return std::unexpected("address " + address.to_string() + " does not belong in a table of this family");
    }
    return {};
  }

  std::expected<void, std::string> emit(const nft::Match& s) {
    const std::uint32_t op = s.negate ? NFT_CMP_NEQ : NFT_CMP_EQ;
    const FieldSpec spec = field_spec(s.field, family_);
    switch (s.field) {
      case NftField::IpSaddr:
      case NftField::IpDaddr: {
        std::optional<Cidr> prefix;
        if (const auto* address = std::get_if<IpAddress>(&s.value)) {
          if (auto ok = check_address(*address); !ok) return ok;
          prefix = Cidr(*address, static_cast<int>(spec.length * 8));
        } else if (const auto* cidr = std::get_if<Cidr>(&s.value)) {
          if (auto ok = check_address(cidr->network()); !ok) return ok;
          prefix = *cidr;
        } else {
          return std::unexpected("an address field compared with " + render_nft_value(s.value));
        }
        const auto& bytes = prefix->network().bytes();
        const auto plen = static_cast<std::uint32_t>(prefix->prefix_length());
        if (plen == spec.length * 8) {
          payload(spec.base, spec.offset, spec.length, 0);
          cmp(op, bytes.data(), spec.length);
        } else if (plen != 0 && plen % 8 == 0) {
          // nft loads only the prefix's bytes when it ends on a byte.
          payload(spec.base, spec.offset, plen / 8, 0);
          cmp(op, bytes.data(), plen / 8);
        } else {
          std::array<std::uint8_t, 16> mask{};
          for (std::uint32_t bit = 0; bit < plen; ++bit) mask[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
          const std::array<std::uint8_t, 16> zero{};
          payload(spec.base, spec.offset, spec.length, 0);
          bitwise(mask.data(), zero.data(), spec.length);
          cmp(op, bytes.data(), spec.length);
        }
        return {};
      }
      case NftField::MetaL4proto: {
        const auto* protocol = std::get_if<Protocol>(&s.value);
        if (!protocol) return std::unexpected("meta l4proto compared with " + render_nft_value(s.value));
        load(s.field, 0);
        const std::vector<std::byte> bytes = pack({*protocol});
        cmp(op, bytes.data(), 1);
        return {};
      }
      case NftField::ThDport: {
        const auto* port = std::get_if<std::uint16_t>(&s.value);
        if (!port) return std::unexpected("th dport compared with " + render_nft_value(s.value));
        load(s.field, 0);
        const std::vector<std::byte> bytes = pack({*port});
        cmp(op, bytes.data(), 2);
        return {};
      }
      case NftField::CtOriginalDaddr:
      case NftField::CtOriginalProtoDst:
        // Only used as keys and data: kubenat never compares them alone.
        return std::unexpected(nft_field_text(s.field, family_) + " compared with a value");
    }
    return {};
  }

  std::expected<void, std::string> emit(const nft::InSet& s) {
    if (auto loaded = load_all(s.fields, s.set); !loaded) return std::unexpected(loaded.error());
    lookup(s.set, std::nullopt, s.negate);
    return {};
  }

  std::expected<void, std::string> emit(const nft::FibLocal& s) {
    auto e = nftnl::make_expr("fib");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_FLAGS, s.source ? NFTA_FIB_F_SADDR : NFTA_FIB_F_DADDR);
    add(std::move(e));
    const std::uint32_t local = RTN_LOCAL;
    cmp(s.negate ? NFT_CMP_NEQ : NFT_CMP_EQ, &local, 4);
    return {};
  }

  std::expected<void, std::string> emit(const nft::CtStateNew&) {
    ct_load(NFT_CT_STATE);
    masked_nonzero(NF_CT_STATE_BIT(IP_CT_NEW), true);
    return {};
  }

  std::expected<void, std::string> emit(const nft::CtStatusDnat&) {
    ct_load(NFT_CT_STATUS);
    masked_nonzero(IPS_DST_NAT, true);
    return {};
  }

  std::expected<void, std::string> emit(const nft::MarkTest& s) {
    meta_load(NFT_META_MARK);
    masked_nonzero(s.mask, s.negate);
    return {};
  }

  void mark_set(std::uint32_t mask, std::uint32_t xor_value) {
    meta_load(NFT_META_MARK);
    bitwise(&mask, &xor_value, 4);
    auto e = nftnl::make_expr("meta");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, NFT_META_MARK);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_SREG, NFT_REG_1);
    add(std::move(e));
  }

  // meta mark | bits is (mark & ~bits) ^ bits for nft's bitwise.
  std::expected<void, std::string> emit(const nft::MarkOr& s) {
    mark_set(~s.bits, s.bits);
    return {};
  }

  std::expected<void, std::string> emit(const nft::MarkXor& s) {
    mark_set(0xffffffffu, s.bits);
    return {};
  }

  std::expected<void, std::string> emit(const nft::Vmap& s) {
    if (auto loaded = load_all(s.fields, s.map); !loaded) return std::unexpected(loaded.error());
    lookup(s.map, NFT_REG_VERDICT, false);
    return {};
  }

  std::expected<void, std::string> emit(const nft::DnatMap& s) {
    auto loaded = load_all(s.fields, s.map);
    if (!loaded) return std::unexpected(loaded.error());
    if (s.modulus != 0) {
      if (*loaded + 1 > NFT_REG32_COUNT) return std::unexpected("the concatenation is longer than 64 bytes");
      auto e = nftnl::make_expr("numgen");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_DREG, nft_netlink_detail::register_number(*loaded));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_MODULUS, s.modulus);
      add(std::move(e));
    }
    lookup(s.map, NFT_REG_1, false);
    // The map's data is address . port (the IR's contract); a map declared
    // with an address alone maps the address only.
    const NftSet* map = sets_ ? sets_(s.map) : nullptr;
    const bool with_port = !map || map->data.size() > 1;
    const unsigned address_registers = family_ == IpFamily::V4 ? 1 : 4;
    nat(nft_netlink_detail::register_number(0),
        with_port ? std::optional(nft_netlink_detail::register_number(address_registers)) : std::nullopt, 0);
    return {};
  }

  std::expected<void, std::string> emit(const nft::Dnat& s) {
    if (auto ok = check_address(s.address); !ok) return ok;
    immediate_data(NFT_REG_1, s.address.bytes().data(), static_cast<std::uint32_t>(s.address.byte_length()));
    if (s.port == 0) {
      nat(NFT_REG_1, std::nullopt, 0);
      return {};
    }
    const std::vector<std::byte> port = pack({s.port});
    immediate_data(NFT_REG_2, port.data(), 2);
    nat(NFT_REG_1, NFT_REG_2, NF_NAT_RANGE_PROTO_SPECIFIED);
    return {};
  }

  // The key from NFT_REG32_00 on, the data right after it, as nft
  // allocates them.
  std::expected<void, std::string> emit(const nft::UpdateSet& s) {
    auto loaded = load_all(s.fields, s.set);
    if (!loaded) return std::unexpected(loaded.error());
    std::optional<unsigned> data_index;
    if (!s.data.empty()) {
      data_index = *loaded;
      if (auto data = load_all(s.data, s.set, *data_index); !data) return std::unexpected(data.error());
    }
    auto e = nftnl::make_expr("dynset");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
    if (data_index) {
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DYNSET_SREG_DATA, nft_netlink_detail::register_number(*data_index));
    }
    if (s.timeout_seconds) {
      nftnl_expr_set_u64(e.get(), NFTNL_EXPR_DYNSET_TIMEOUT, std::uint64_t{*s.timeout_seconds} * 1000);
    }
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_DYNSET_SET_NAME, s.set.c_str());
    add(std::move(e));
    return {};
  }

  std::expected<void, std::string> emit(const nft::Masquerade& s) {
    auto e = nftnl::make_expr("masq");
    if (s.fully_random) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
    add(std::move(e));
    return {};
  }

  // nft's plain `reject` in an ip or ip6 table: ICMP (not ICMPX) port
  // unreachable, so that the listing reads `reject` either way.
  std::expected<void, std::string> emit(const nft::Reject&) {
    auto e = nftnl::make_expr("reject");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
    nftnl_expr_set_u8(e.get(), NFTNL_EXPR_REJECT_CODE,
                      family_ == IpFamily::V4 ? ICMP_PORT_UNREACH : ICMP6_DST_UNREACH_NOPORT);
    add(std::move(e));
    return {};
  }

  std::expected<void, std::string> emit(const nft::NumgenVmap& s) {
    if (s.chains.empty()) return std::unexpected("numgen vmap without chains");
    const std::uint32_t set_id = anonymous_map_(s);
    auto e = nftnl::make_expr("numgen");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_MODULUS, static_cast<std::uint32_t>(s.chains.size()));
    add(std::move(e));
    lookup("__map%d", NFT_REG_VERDICT, false, set_id);
    return {};
  }

  std::expected<void, std::string> emit(const NftVerdict& s) {
    auto e = nftnl::make_expr("immediate");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, verdict_code(s.kind));
    if (!s.chain.empty()) nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, s.chain.c_str());
    add(std::move(e));
    return {};
  }

  nftnl_rule* rule_;
  IpFamily family_;
  const NftBatch::SetLookup& sets_;
  AnonymousMap anonymous_map_;
  std::size_t expressions_ = 0;
};

// The ordinal of the child of nest `nest_type` (a top-level attribute of the
// message) that holds byte `offset` of the message, if any.
std::optional<std::size_t> nest_child_at(const nlmsghdr* header, std::uint16_t nest_type, std::uint32_t offset) {
  const auto* base = reinterpret_cast<const char*>(header);
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(header));
  const auto* attribute = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(header, sizeof(nfgenmsg)));
  for (; mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    if (mnl_attr_get_type(attribute) != nest_type) continue;
    const auto* end = reinterpret_cast<const char*>(attribute) + attribute->nla_len;
    const auto* child = static_cast<const nlattr*>(mnl_attr_get_payload(attribute));
    for (std::size_t ordinal = 0; mnl_attr_ok(child, static_cast<int>(end - reinterpret_cast<const char*>(child)));
         child = mnl_attr_next(child), ++ordinal) {
      const auto start = static_cast<std::uint32_t>(reinterpret_cast<const char*>(child) - base);
      if (offset >= start && offset < start + child->nla_len) return ordinal;
    }
  }
  return std::nullopt;
}

std::string with_owner(std::string text, const NftOwnerLookup& owners, std::string_view object,
                       const NftElement* element) {
  if (!owners) return text;
  const std::string owner = owners(object, element);
  if (!owner.empty()) text += " (" + owner + ")";
  return text;
}

std::string key_text(const NftElement& element) { return render_nft_values(element.key, true); }

}  // namespace

// --- nft_netlink_detail

namespace nft_netlink_detail {

std::uint32_t register_number(unsigned index32) {
  constexpr unsigned per_register = NFT_REG_SIZE / NFT_REG32_SIZE;
  return index32 % per_register == 0 ? NFT_REG_1 + index32 / per_register : NFT_REG32_00 + index32;
}

std::uint32_t concat_type_id(const std::vector<NftType>& types, bool key) {
  const bool typeof_key = key && std::find(types.begin(), types.end(), NftType::Mark) != types.end();
  std::uint32_t id = 0;
  for (const NftType type : types) id = (id << kTypeBits) | type_id(type, typeof_key);
  return id;
}

std::uint32_t key_length(const std::vector<NftType>& types) {
  if (types.size() == 1) return type_size(types[0]);
  std::uint32_t length = 0;
  for (const NftType type : types) length += round_up4(type_size(type));
  return length;
}

std::vector<std::byte> pack_values(const std::vector<NftValue>& values) { return pack(values); }

std::optional<std::vector<NftValue>> unpack_values(const std::vector<NftType>& types, std::span<const std::byte> bytes) {
  std::vector<NftValue> out;
  const bool pad = types.size() > 1;
  std::size_t at = 0;
  for (const NftType type : types) {
    const std::uint32_t size = type_size(type);
    if (size == 0 || at + size > bytes.size()) return std::nullopt;
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data() + at);
    switch (type) {
      case NftType::Ipv4Addr:
      case NftType::Ipv6Addr: out.emplace_back(*IpAddress::from_bytes(std::span(data, size))); break;
      case NftType::InetProto:
        if (data[0] == 6) {
          out.emplace_back(Protocol::Tcp);
        } else if (data[0] == 17) {
          out.emplace_back(Protocol::Udp);
        } else if (data[0] == 132) {
          out.emplace_back(Protocol::Sctp);
        } else {
          return std::nullopt;
        }
        break;
      case NftType::InetService: out.emplace_back(static_cast<std::uint16_t>(data[0] << 8 | data[1])); break;
      case NftType::Mark: {
        std::uint32_t number = 0;
        std::memcpy(&number, data, 4);
        out.emplace_back(number);
        break;
      }
      case NftType::Verdict: return std::nullopt;
    }
    at += pad ? round_up4(size) : size;
  }
  if (at != bytes.size()) return std::nullopt;
  return out;
}

}  // namespace nft_netlink_detail

// --- NetlinkSocket

void NetlinkSocket::Closer::operator()(mnl_socket* socket) const { mnl_socket_close(socket); }

std::expected<NetlinkSocket, std::string> NetlinkSocket::open(int bus) {
  mnl_socket* socket = mnl_socket_open(bus);
  if (!socket) return std::unexpected("socket(AF_NETLINK, " + std::to_string(bus) + "): " + errno_text(errno));
  NetlinkSocket handle(socket);
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::unexpected("bind(AF_NETLINK): " + errno_text(errno));
  }
  // Extended ACKs say which attribute the kernel refused; capped ACKs do not
  // echo the refused message (up to 64 KiB) back.
  int one = 1;
  if (mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &one, sizeof one) < 0) {
    return std::unexpected("setsockopt(NETLINK_EXT_ACK): " + errno_text(errno));
  }
  if (mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &one, sizeof one) < 0) {
    return std::unexpected("setsockopt(NETLINK_CAP_ACK): " + errno_text(errno));
  }
  return handle;
}

int NetlinkSocket::fd() const { return mnl_socket_get_fd(socket_.get()); }
std::uint32_t NetlinkSocket::port_id() const { return mnl_socket_get_portid(socket_.get()); }

// --- NftBatch

std::string_view nft_message_kind_name(NftMessageKind kind) {
  switch (kind) {
    case NftMessageKind::BatchBegin: return "batch begin";
    case NftMessageKind::BatchEnd: return "batch end";
    case NftMessageKind::AddTable: return "add table";
    case NftMessageKind::DeleteTable: return "delete table";
    case NftMessageKind::AddChain: return "add chain";
    case NftMessageKind::FlushChain: return "flush chain";
    case NftMessageKind::DeleteChain: return "delete chain";
    case NftMessageKind::AddSet: return "add set";
    case NftMessageKind::DeleteSet: return "delete set";
    case NftMessageKind::AddElements: return "add elements";
    case NftMessageKind::DeleteElements: return "delete elements";
    case NftMessageKind::AddRule: return "add rule";
  }
  return "";
}

struct NftBatch::ElementMessage {
  bool map = false;
  std::vector<const NftElement*> nests;  // the IR element of each nest, in order
  std::vector<NftElement> owned;         // elements the batch made (anonymous maps)
};

struct NftBatch::RuleMessage {
  const NftRule* rule = nullptr;
  std::size_t position = 0;
  std::vector<std::size_t> statement_of_expression;
};

NftBatch::NftBatch(IpFamily family, std::string table, std::uint32_t first_seq, SetLookup sets)
    : family_(family), table_(std::move(table)), first_seq_(first_seq), next_seq_(first_seq), sets_(std::move(sets)) {
  reserve(kMessageReserve);
  nlmsghdr* header = nftnl_batch_begin(reinterpret_cast<char*>(buffer_.data() + used_), next_seq_);
  end_message(header, NftMessageKind::BatchBegin, {});
}

NftBatch::NftBatch(NftBatch&&) noexcept = default;
NftBatch& NftBatch::operator=(NftBatch&&) noexcept = default;
NftBatch::~NftBatch() = default;

void NftBatch::reserve(std::size_t bytes) {
  if (buffer_.size() >= used_ + bytes) return;
  buffer_.resize(std::max(buffer_.size() * 2, used_ + bytes));
}

nlmsghdr* NftBatch::start_message(std::uint16_t type, std::uint16_t flags) {
  reserve(kMessageReserve);
  return nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer_.data() + used_), type, nfproto(family_),
                               flags | NLM_F_ACK, next_seq_);
}

void NftBatch::end_message(nlmsghdr* header, NftMessageKind kind, std::string object, std::size_t elements) {
  NftMessageInfo info;
  info.seq = next_seq_++;
  info.kind = kind;
  info.object = std::move(object);
  info.offset = used_;
  info.length = header->nlmsg_len;
  info.elements = elements;
  used_ += NLMSG_ALIGN(header->nlmsg_len);
  messages_.push_back(std::move(info));
}

const NftSet* NftBatch::find_set(std::string_view name) const { return sets_ ? sets_(name) : nullptr; }

std::size_t NftBatch::acks_expected() const {
  return std::count_if(messages_.begin(), messages_.end(), [](const NftMessageInfo& m) {
    return m.kind != NftMessageKind::BatchBegin && m.kind != NftMessageKind::BatchEnd;
  });
}

void NftBatch::add_table() {
  auto table = nftnl::make_table();
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, table_.c_str());
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FLAGS, 0);
  nlmsghdr* header = start_message(NFT_MSG_NEWTABLE, NLM_F_CREATE);
  nftnl_table_nlmsg_build_payload(header, table.get());
  end_message(header, NftMessageKind::AddTable, {});
}

void NftBatch::create_table() {
  auto table = nftnl::make_table();
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, table_.c_str());
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FLAGS, 0);
  nlmsghdr* header = start_message(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
  nftnl_table_nlmsg_build_payload(header, table.get());
  end_message(header, NftMessageKind::AddTable, {});
}

void NftBatch::delete_table() {
  auto table = nftnl::make_table();
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, table_.c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELTABLE, 0);
  nftnl_table_nlmsg_build_payload(header, table.get());
  end_message(header, NftMessageKind::DeleteTable, {});
}

void NftBatch::add_chain(const NftChain& chain) {
  auto c = nftnl::make_chain();
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table_.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  if (chain.hook) {
    static constexpr std::uint32_t kHooks[] = {NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD,
                                               NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING};
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, kHooks[static_cast<std::size_t>(chain.hook->hook)]);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.hook->priority);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.hook->type == NftHook::Type::Nat ? "nat" : "filter");
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  nlmsghdr* header = start_message(NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
  nftnl_chain_nlmsg_build_payload(header, c.get());
  end_message(header, NftMessageKind::AddChain, chain.name);
}

void NftBatch::flush_chain(std::string_view name) {
  auto rule = nftnl::make_rule();
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table_.c_str());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, std::string(name).c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELRULE, 0);
  nftnl_rule_nlmsg_build_payload(header, rule.get());
  end_message(header, NftMessageKind::FlushChain, std::string(name));
}

void NftBatch::delete_chain(std::string_view name) {
  auto c = nftnl::make_chain();
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table_.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, std::string(name).c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELCHAIN, 0);
  nftnl_chain_nlmsg_build_payload(header, c.get());
  end_message(header, NftMessageKind::DeleteChain, std::string(name));
}

void NftBatch::add_set(const NftSet& set) {
  auto s = nftnl::make_set();
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, next_set_id_++);
  std::uint32_t flags = 0;
  if (!set.data.empty()) flags |= NFT_SET_MAP;
  if (set.interval) flags |= NFT_SET_INTERVAL;
  // Ranges in a concatenation need the pipapo set type, which the kernel
  // picks for NFT_SET_CONCAT with the field lengths below.
  if (set.interval && is_concat(set.key)) flags |= NFT_SET_CONCAT;
  // `update @set` from the packet path needs an evaluable set with
  // timeouts (nft's `flags dynamic,timeout`).
  if (set.timeout_seconds) flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, nft_netlink_detail::concat_type_id(set.key, true));
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, nft_netlink_detail::key_length(set.key));
  if (!set.data.empty()) {
    const bool verdict = set.data.size() == 1 && set.data[0] == NftType::Verdict;
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE,
                      verdict ? NFT_DATA_VERDICT : nft_netlink_detail::concat_type_id(set.data, false));
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, verdict ? 0 : nft_netlink_detail::key_length(set.data));
  }
  if (set.timeout_seconds) nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, std::uint64_t{*set.timeout_seconds} * 1000);
  if (set.size) nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, *set.size);
  if (set.interval && is_concat(set.key)) {
    std::vector<std::uint8_t> lengths;
    for (const NftType type : set.key) lengths.push_back(static_cast<std::uint8_t>(type_size(type)));
    nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, lengths.data(), static_cast<std::uint32_t>(lengths.size()));
  }
  const nftnl::UdataBuf userdata = set_userdata(set);
  nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(userdata.get()),
                     nftnl_udata_buf_len(userdata.get()));
  nlmsghdr* header = start_message(NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
  nftnl_set_nlmsg_build_payload(header, s.get());
  end_message(header, NftMessageKind::AddSet, set.name);
}

void NftBatch::delete_set(std::string_view name) {
  auto s = nftnl::make_set();
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, std::string(name).c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELSET, 0);
  nftnl_set_nlmsg_build_payload(header, s.get());
  end_message(header, NftMessageKind::DeleteSet, std::string(name));
}

void NftBatch::add_elements(std::string_view set, const NftSet* declaration,
                            std::span<const NftElement* const> elements) {
  put_elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, NftMessageKind::AddElements, set, std::nullopt,
               declaration ? declaration : find_set(set), elements);
}

void NftBatch::delete_elements(std::string_view set, const NftSet* declaration,
                               std::span<const NftElement* const> elements) {
  put_elements(NFT_MSG_DELSETELEM, 0, NftMessageKind::DeleteElements, set, std::nullopt,
               declaration ? declaration : find_set(set), elements);
}

void NftBatch::add_timed_elements(std::string_view set, const NftSet* declaration,
                                  std::span<const NftTimedElement> elements) {
  std::vector<const NftElement*> plain;
  for (const NftTimedElement& element : elements) plain.push_back(&element.element);
  put_elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, NftMessageKind::AddElements, set, std::nullopt,
               declaration ? declaration : find_set(set), plain, elements);
}

void NftBatch::put_elements(std::uint16_t type, std::uint16_t flags, NftMessageKind kind, std::string_view set,
                            std::optional<std::uint32_t> set_id, const NftSet* declaration,
                            std::span<const NftElement* const> elements, std::span<const NftTimedElement> times) {
  const bool adding = kind == NftMessageKind::AddElements;
  const std::string set_name(set);
  std::size_t next = 0;
  while (next < elements.size()) {
    nlmsghdr* header = start_message(type, flags);
    auto target = nftnl::make_set();
    nftnl_set_set_str(target.get(), NFTNL_SET_TABLE, table_.c_str());
    nftnl_set_set_str(target.get(), NFTNL_SET_NAME, set_name.c_str());
    if (set_id) nftnl_set_set_u32(target.get(), NFTNL_SET_ID, *set_id);
    nftnl_set_elems_nlmsg_build_payload(header, target.get());  // table, set, no elements
    nlattr* list = mnl_attr_nest_start(header, NFTA_SET_ELEM_LIST_ELEMENTS);
    const auto list_start = reinterpret_cast<const char*>(list);
    auto message = std::make_unique<ElementMessage>();
    message->map = declaration ? !declaration->data.empty() : !elements[next]->data.empty();
    std::size_t count = 0;
    while (next < elements.size() &&
           static_cast<std::size_t>(reinterpret_cast<const char*>(mnl_nlmsg_get_payload_tail(header)) - list_start) <
               kElementListBytes) {
      for (const nftnl::SetElem& element : expand_element(*elements[next], declaration, adding)) {
        if (!times.empty()) {
          nftnl_set_elem_set_u64(element.get(), NFTNL_SET_ELEM_TIMEOUT, times[next].timeout_ms);
          nftnl_set_elem_set_u64(element.get(), NFTNL_SET_ELEM_EXPIRATION, times[next].expires_ms);
        }
        // nft numbers the nests 1, 2, 3...; the kernel ignores the type, and
        // NFTA_LIST_ELEM throughout is what the kernel sends and libnftnl
        // parses.
        nftnl_set_elem_nlmsg_build(header, element.get(), NFTA_LIST_ELEM);
        message->nests.push_back(elements[next]);
      }
      ++next;
      ++count;
    }
    mnl_attr_nest_end(header, list);
    end_message(header, kind, set_name, count);
    element_messages_.resize(messages_.size());
    element_messages_.back() = std::move(message);
  }
}

std::expected<void, std::string> NftBatch::add_rule(std::string_view chain, const NftRule& rule,
                                                    std::size_t position) {
  const std::string chain_name(chain);
  auto r = nftnl::make_rule();
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table_.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain_name.c_str());
  // Anonymous maps are built aside and only emitted once the whole rule is
  // known to be expressible, so that a refused rule adds nothing.
  struct PendingMap {
    std::uint32_t id;
    std::vector<NftElement> elements;
  };
  std::vector<PendingMap> pending;
  RuleBuilder builder(r.get(), family_, sets_, [&](const nft::NumgenVmap& vmap) {
    PendingMap map{next_set_id_++, {}};
    for (std::size_t i = 0; i < vmap.chains.size(); ++i) {
      map.elements.push_back(NftElement{{static_cast<std::uint32_t>(i)},
                                        {NftVerdict{NftVerdict::Kind::Goto, vmap.chains[i]}}});
    }
    pending.push_back(std::move(map));
    return pending.back().id;
  });
  auto info = std::make_unique<RuleMessage>();
  info->rule = &rule;
  info->position = position;
  for (std::size_t i = 0; i < rule.statements.size(); ++i) {
    const std::size_t before = builder.expressions();
    if (auto ok = builder.statement(rule.statements[i]); !ok) {
      return std::unexpected("rule " + std::to_string(position + 1) + " of chain " + chain_name + " (" +
                             render_nft_rule(rule, family_) + "): " + ok.error());
    }
    info->statement_of_expression.insert(info->statement_of_expression.end(), builder.expressions() - before, i);
  }
  if (!rule.comment.empty()) {
    auto buf = nftnl::make_udata_buf(NFT_USERDATA_MAXLEN);
    nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_RULE_COMMENT, nft_comment(rule.comment).c_str());
    nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(buf.get()), nftnl_udata_buf_len(buf.get()));
  }
  for (PendingMap& map : pending) {
    // numgen random mod N vmap { 0 : goto a, ... }: an anonymous constant
    // map keyed by numgen's integer, as nft makes it.
    auto s = nftnl::make_set();
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, "__map%d");
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, map.id);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, kTypeInteger);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, 4);
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, 0);
    nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, static_cast<std::uint32_t>(map.elements.size()));
    auto buf = nftnl::make_udata_buf(NFT_USERDATA_MAXLEN);
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderHost);
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATABYTEORDER, kByteorderInvalid);
    put_typeof(buf.get(), NFTNL_UDATA_SET_DATA_TYPEOF, {NftType::Verdict}, true, false);
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATA_INTERVAL, 0);
    nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(buf.get()), nftnl_udata_buf_len(buf.get()));
    nlmsghdr* header = start_message(NFT_MSG_NEWSET, NLM_F_CREATE);
    nftnl_set_nlmsg_build_payload(header, s.get());
    end_message(header, NftMessageKind::AddSet, "__map%d (numgen vmap of rule " + std::to_string(position + 1) +
                                                    " of chain " + chain_name + ")");
    std::vector<const NftElement*> pointers;
    for (const NftElement& element : map.elements) pointers.push_back(&element);
    const std::size_t first_message = messages_.size();
    put_elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, NftMessageKind::AddElements, "__map%d", map.id, nullptr, pointers);
    // The element messages keep the elements they name.
    element_messages_[first_message]->owned = std::move(map.elements);
    element_messages_[first_message]->nests.clear();
    for (const NftElement& element : element_messages_[first_message]->owned) {
      element_messages_[first_message]->nests.push_back(&element);
    }
  }
  nlmsghdr* header = start_message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
  nftnl_rule_nlmsg_build_payload(header, r.get());
  end_message(header, NftMessageKind::AddRule, chain_name);
  rule_messages_.resize(messages_.size());
  rule_messages_.back() = std::move(info);
  return {};
}

void NftBatch::finish() {
  if (finished_) return;
  reserve(kMessageReserve);
  nlmsghdr* header = nftnl_batch_end(reinterpret_cast<char*>(buffer_.data() + used_), next_seq_);
  end_message(header, NftMessageKind::BatchEnd, {});
  finished_ = true;
}

std::string NftBatch::describe(std::uint32_t seq, std::optional<std::uint32_t> offset,
                               const NftOwnerLookup& owners) const {
  if (seq < first_seq_ || seq - first_seq_ >= messages_.size()) {
    return "message " + std::to_string(seq) + " (not of this batch)";
  }
  const std::size_t index = seq - first_seq_;
  const NftMessageInfo& message = messages_[index];
  const auto* header = reinterpret_cast<const nlmsghdr*>(buffer_.data() + message.offset);
  const std::string table = std::string(family_ == IpFamily::V4 ? "ip " : "ip6 ") + table_;
  switch (message.kind) {
    case NftMessageKind::BatchBegin:
    case NftMessageKind::BatchEnd: return "the transaction on table " + table;
    case NftMessageKind::AddTable: return "adding table " + table;
    case NftMessageKind::DeleteTable: return "deleting table " + table;
    case NftMessageKind::AddChain: return with_owner("adding chain " + message.object, owners, message.object, nullptr);
    case NftMessageKind::FlushChain:
      return with_owner("flushing chain " + message.object, owners, message.object, nullptr);
    case NftMessageKind::DeleteChain:
      return with_owner("deleting chain " + message.object, owners, message.object, nullptr);
    case NftMessageKind::AddSet: return with_owner("adding set " + message.object, owners, message.object, nullptr);
    case NftMessageKind::DeleteSet:
      return with_owner("deleting set " + message.object, owners, message.object, nullptr);
    case NftMessageKind::AddElements:
    case NftMessageKind::DeleteElements: {
      const ElementMessage* elements = index < element_messages_.size() ? element_messages_[index].get() : nullptr;
      const std::string verb = message.kind == NftMessageKind::AddElements ? "adding" : "deleting";
      const std::string set = std::string(elements && elements->map ? "map " : "set ") + message.object;
      if (!elements || elements->nests.empty()) return verb + " elements of " + set;
      // What an added element maps to says which chain a refused verdict
      // names (ENOENT for a missing chain is reported on the element).
      const auto data = [&](const NftElement& element) -> std::string {
        if (message.kind != NftMessageKind::AddElements || element.data.empty()) return "";
        return " with data " + render_nft_values(element.data, false);
      };
      if (offset) {
        if (auto nest = nest_child_at(header, NFTA_SET_ELEM_LIST_ELEMENTS, *offset);
            nest && *nest < elements->nests.size()) {
          const NftElement* element = elements->nests[*nest];
          return with_owner("element " + key_text(*element) + " in " + set, owners, message.object, element) +
                 data(*element);
        }
      }
      const NftElement* first = elements->nests.front();
      if (message.elements == 1) {
        return with_owner(verb + " element " + key_text(*first) + " in " + set, owners, message.object, first) +
               data(*first);
      }
      return with_owner(verb + " " + std::to_string(message.elements) + " elements in " + set + " (the first " +
                            key_text(*first) + ")",
                        owners, message.object, first);
    }
    case NftMessageKind::AddRule: {
      const RuleMessage* rule = index < rule_messages_.size() ? rule_messages_[index].get() : nullptr;
      if (!rule) return "adding a rule to chain " + message.object;
      std::string text = "rule " + std::to_string(rule->position + 1) + " of chain " + message.object + " (" +
                         render_nft_rule(*rule->rule, family_) + ")";
      if (offset) {
        if (auto expression = nest_child_at(header, NFTA_RULE_EXPRESSIONS, *offset);
            expression && *expression < rule->statement_of_expression.size()) {
          const std::size_t statement = rule->statement_of_expression[*expression];
          NftRule one{{rule->rule->statements[statement]}, {}};
          text = "statement `" + render_nft_rule(one, family_) + "` of " + text;
        }
      }
      return with_owner(text, owners, message.object, nullptr);
    }
  }
  return "message " + std::to_string(seq);
}

// --- KernelNftTransport

namespace {

constexpr std::size_t kReceiveBufferBytes = 64 * 1024 + 4096;  // one capped ack or reply, with room
// The kernel queues one acknowledgement per message; nft budgets 1 KiB of
// receive buffer for each (an ACK skb's true size).
constexpr std::size_t kReceiveBytesPerAck = 1024;

struct Collected {
  std::vector<NftAck>* acks;
  std::vector<std::vector<std::byte>>* replies;
};

int attribute_cb(const nlattr* attribute, void* data) {
  auto** table = static_cast<const nlattr**>(data);
  if (mnl_attr_type_valid(attribute, NLMSGERR_ATTR_MAX) < 0) return MNL_CB_OK;
  table[mnl_attr_get_type(attribute)] = attribute;
  return MNL_CB_OK;
}

NftAck parse_error(const nlmsghdr* header) {
  NftAck ack;
  ack.seq = header->nlmsg_seq;
  if (header->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
    ack.error = EBADMSG;
    return ack;
  }
  const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
  ack.error = error->error < 0 ? -error->error : error->error;
  if (header->nlmsg_flags & NLM_F_ACK_TLVS) {
    unsigned offset = sizeof(nlmsgerr);
    if (!(header->nlmsg_flags & NLM_F_CAPPED)) offset += mnl_nlmsg_get_payload_len(&error->msg);
    const nlattr* table[NLMSGERR_ATTR_MAX + 1] = {};
    if (mnl_attr_parse(header, offset, attribute_cb, table) >= 0) {
      if (table[NLMSGERR_ATTR_MSG]) ack.message = mnl_attr_get_str(table[NLMSGERR_ATTR_MSG]);
      if (table[NLMSGERR_ATTR_OFFS] && mnl_attr_get_payload_len(table[NLMSGERR_ATTR_OFFS]) >= 4) {
        ack.offset = mnl_attr_get_u32(table[NLMSGERR_ATTR_OFFS]);
      }
    }
  }
  return ack;
}

void collect(const std::byte* data, std::size_t length, Collected& out) {
  const auto* header = reinterpret_cast<const nlmsghdr*>(data);
  int remaining = static_cast<int>(length);
  while (mnl_nlmsg_ok(header, remaining)) {
    if (header->nlmsg_type == NLMSG_ERROR) {
      out.acks->push_back(parse_error(header));
    } else if (header->nlmsg_type >= NLMSG_MIN_TYPE && out.replies) {
      const auto* begin = reinterpret_cast<const std::byte*>(header);
      out.replies->emplace_back(begin, begin + header->nlmsg_len);
    }
    header = mnl_nlmsg_next(header, &remaining);
  }
}

}  // namespace

std::expected<KernelNftTransport, std::string> KernelNftTransport::open() {
  auto socket = NetlinkSocket::open(NETLINK_NETFILTER);
  if (!socket) return std::unexpected(socket.error());
  return KernelNftTransport(std::move(*socket));
}

std::expected<void, std::string> KernelNftTransport::ensure_buffers(std::size_t send_bytes, std::size_t acks) {
  // SO_SNDBUF caps a datagram: netlink refuses a message longer than the
  // send buffer (EMSGSIZE), and a batch must be one datagram. The kernel
  // doubles the value it is given.
  const auto raise = [&](int force_option, int option, std::size_t wanted, std::size_t& current,
                         const char* name) -> std::expected<void, std::string> {
    if (wanted <= current) return {};
    const int value = static_cast<int>(std::min<std::size_t>(wanted, INT_MAX / 2));
    if (setsockopt(socket_.fd(), SOL_SOCKET, force_option, &value, sizeof value) < 0 &&
        setsockopt(socket_.fd(), SOL_SOCKET, option, &value, sizeof value) < 0) {
      return std::unexpected(std::string("setsockopt(") + name + "): " + errno_text(errno));
    }
    current = wanted;
    return {};
  };
  if (auto ok = raise(SO_SNDBUFFORCE, SO_SNDBUF, send_bytes + 64 * 1024, send_buffer_, "SO_SNDBUF"); !ok) return ok;
  return raise(SO_RCVBUFFORCE, SO_RCVBUF, std::max<std::size_t>(acks * kReceiveBytesPerAck, 256 * 1024),
               receive_buffer_, "SO_RCVBUF");
}

void KernelNftTransport::drain() {
  std::vector<std::byte> buffer(kReceiveBufferBytes);
  while (recv(socket_.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT) > 0) {
  }
}

std::expected<std::vector<NftAck>, std::string> KernelNftTransport::read_answers(
    std::vector<std::vector<std::byte>>* replies) {
  std::vector<NftAck> acks;
  Collected out{&acks, replies};
  std::vector<std::byte> buffer(kReceiveBufferBytes);
  bool overrun = false;
  for (;;) {
    const ssize_t received = recv(socket_.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {  // answers were dropped; keep reading the rest
        overrun = true;
        continue;
      }
      return std::unexpected("recv(NETLINK_NETFILTER): " + errno_text(errno));
    }
    if (received == 0) break;
    collect(buffer.data(), static_cast<std::size_t>(received), out);
  }
  if (overrun) {
    return std::unexpected("recv(NETLINK_NETFILTER): the kernel's answers overran the receive buffer (ENOBUFS)");
  }
  return acks;
}

std::expected<std::vector<NftAck>, std::string> KernelNftTransport::send(const NftBatch& batch) {
  if (!batch.finished()) return std::unexpected(std::string("the nftables batch was sent without BATCH_END"));
  if (auto ok = ensure_buffers(batch.size(), batch.acks_expected()); !ok) return std::unexpected(ok.error());
  drain();
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  iovec vector{const_cast<std::byte*>(batch.bytes().data()), batch.size()};
  msghdr message{};
  message.msg_name = &kernel;
  message.msg_namelen = sizeof kernel;
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  for (;;) {
    if (sendmsg(socket_.fd(), &message, 0) >= 0) break;
    if (errno == EINTR) continue;
    return std::unexpected("sendmsg(NETLINK_NETFILTER, " + std::to_string(batch.size()) + " bytes): " +
                           errno_text(errno));
  }
  return read_answers(nullptr);
}

namespace {

int collect_raw_elements(const nlmsghdr* message, void* data) {
  auto* out = static_cast<std::vector<NftRawElement>*>(data);
  auto set = nftnl::make_set();
  if (nftnl_set_elems_nlmsg_parse(message, set.get()) < 0) return MNL_CB_ERROR;
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
    out->push_back(std::move(raw));
  }
  nftnl_set_elems_iter_destroy(it);
  return MNL_CB_OK;
}

}  // namespace

std::expected<void, std::string> KernelNftTransport::send_request(const nlmsghdr* header, std::string_view what) {
  for (;;) {
    if (mnl_socket_sendto(socket_.get(), header, header->nlmsg_len) >= 0) return {};
    if (errno == EINTR) continue;
    return std::unexpected("sendto(NETLINK_NETFILTER, " + std::string(what) + "): " + errno_text(errno));
  }
}

std::expected<std::vector<NftRawElement>, std::string> KernelNftTransport::dump_elements(IpFamily family,
                                                                                        const std::string& table,
                                                                                        const std::string& set) {
  drain();
  std::vector<std::byte> request(1024);
  const std::uint32_t seq = next_seq_++;
  nlmsghdr* header = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(request.data()), NFT_MSG_GETSETELEM,
                                           nfproto(family), NLM_F_DUMP, seq);
  auto query = nftnl::make_set();
  nftnl_set_set_str(query.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(query.get(), NFTNL_SET_NAME, set.c_str());
  nftnl_set_elems_nlmsg_build_payload(header, query.get());
  const std::string what = "GETSETELEM " + table + " " + set;
  if (auto sent = send_request(header, what); !sent) return std::unexpected(sent.error());
  // A dump comes in as many reads as it takes, ended by NLMSG_DONE; an
  // error (no such set) comes as NLMSG_ERROR instead.
  std::vector<NftRawElement> out;
  std::vector<std::byte> buffer(kReceiveBufferBytes);
  for (;;) {
    const ssize_t received = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
    if (received < 0) {
      if (errno == EINTR) continue;
      return std::unexpected("recv(NETLINK_NETFILTER, " + what + "): " + errno_text(errno));
    }
    const int result = mnl_cb_run(buffer.data(), static_cast<std::size_t>(received), seq, socket_.port_id(),
                                  collect_raw_elements, &out);
    if (result == MNL_CB_STOP) return out;
    if (result < 0) return std::unexpected(what + ": " + errno_text(errno));
  }
}

std::expected<std::optional<std::uint64_t>, std::string> KernelNftTransport::table_handle(IpFamily family,
                                                                                          const std::string& name) {
  drain();
  std::vector<std::byte> request(1024);
  const std::uint32_t seq = next_seq_++;
  nlmsghdr* header = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(request.data()), NFT_MSG_GETTABLE,
                                           nfproto(family), NLM_F_ACK, seq);
  mnl_attr_put_strz(header, NFTA_TABLE_NAME, name.c_str());
  if (auto sent = send_request(header, "GETTABLE"); !sent) return std::unexpected(sent.error());
  // The kernel answers within sendto; wait a little all the same rather
  // than miss an answer that is late.
  std::vector<std::vector<std::byte>> replies;
  std::vector<NftAck> acks;
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto answers = read_answers(&replies);
    if (!answers) return std::unexpected(answers.error());
    acks.insert(acks.end(), answers->begin(), answers->end());
    if (std::any_of(acks.begin(), acks.end(), [&](const NftAck& a) { return a.seq == seq; })) break;
    pollfd readable{socket_.fd(), POLLIN, 0};
    (void)poll(&readable, 1, 100);
  }
  std::optional<std::uint64_t> handle;
  for (const auto& reply : replies) {
    const auto* message = reinterpret_cast<const nlmsghdr*>(reply.data());
    if (message->nlmsg_seq != seq || (message->nlmsg_type & 0xff) != NFT_MSG_NEWTABLE) continue;
    auto table = nftnl::make_table();
    if (nftnl_table_nlmsg_parse(message, table.get()) < 0) {
      return std::unexpected("GETTABLE " + name + ": unreadable answer");
    }
    handle = nftnl_table_get_u64(table.get(), NFTNL_TABLE_HANDLE);
  }
  for (const NftAck& ack : acks) {
    if (ack.seq != seq || ack.error == 0) continue;
    if (ack.error == ENOENT) return std::optional<std::uint64_t>();
    return std::unexpected("GETTABLE " + name + ": " + errno_text(ack.error));
  }
  if (!handle) return std::unexpected("GETTABLE " + name + ": no answer from the kernel");
  return handle;
}

}  // namespace kubenat
