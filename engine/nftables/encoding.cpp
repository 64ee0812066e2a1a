#include "engine/nftables/encoding.h"

// glibc's netinet headers before the kernel's linux/ ones, which then leave
// out what glibc already defined (struct in_addr and friends).
#include <netinet/in.h>

#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>

namespace kubenat::nft_encoding {
namespace {

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


}  // namespace

std::uint16_t nfproto(IpFamily family) { return family == IpFamily::V4 ? NFPROTO_IPV4 : NFPROTO_IPV6; }

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

std::vector<std::byte> pack_values(const std::vector<NftValue>& values) {
  std::vector<std::byte> out;
  const bool pad = values.size() > 1;
  for (const NftValue& value : values) append_value(out, value, pad);
  return out;
}

namespace {

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

}  // namespace

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

namespace {

void set_element_data(nftnl_set_elem* element, const std::vector<NftValue>& data) {
  if (data.empty()) return;
  if (const auto* verdict = std::get_if<NftVerdict>(&data[0]); verdict && data.size() == 1) {
    nftnl_set_elem_set_u32(element, NFTNL_SET_ELEM_VERDICT, verdict_code(verdict->kind));
    if (!verdict->chain.empty()) nftnl_set_elem_set_str(element, NFTNL_SET_ELEM_CHAIN, verdict->chain.c_str());
    return;
  }
  const std::vector<std::byte> bytes = pack_values(data);
  nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, bytes.data(), static_cast<std::uint32_t>(bytes.size()));
}

}  // namespace

std::vector<nftnl::SetElem> expand_element(const NftElement& element, const NftSet* declaration, bool with_data) {
  std::vector<nftnl::SetElem> out;
  const bool has_prefix = std::any_of(element.key.begin(), element.key.end(),
                                      [](const NftValue& v) { return std::holds_alternative<Cidr>(v); });
  const bool interval = has_prefix || (declaration && declaration->interval);
  auto first = nftnl::make_set_elem();
  const std::vector<std::byte> key = pack_values(element.key);
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
    const std::vector<std::byte> end_bytes = pack_values(end);
    nftnl_set_elem_set(first.get(), NFTNL_SET_ELEM_KEY_END, end_bytes.data(),
                       static_cast<std::uint32_t>(end_bytes.size()));
    out.push_back(std::move(first));
    return out;
  }
  // One field (rbtree): the range is [start, end) with end flagged as an
  // interval end; a range up to the last address has no end element, and
  // nft marks its start "open" in the element's user data.
  std::optional<IpAddress> end;
  const NftValue first_key = element.key[0];
  if (const auto* cidr = std::get_if<Cidr>(&first_key)) {
    end = next_address(last_address(*cidr));
  } else if (const auto* address = std::get_if<IpAddress>(&first_key)) {
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
  const std::vector<std::byte> end_bytes = pack_values({*end});
  nftnl_set_elem_set(last.get(), NFTNL_SET_ELEM_KEY, end_bytes.data(), static_cast<std::uint32_t>(end_bytes.size()));
  nftnl_set_elem_set_u32(last.get(), NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
  out.push_back(std::move(last));
  return out;
}

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


}  // namespace kubenat::nft_encoding
