#include "engine/nftables/expressions.h"

// glibc's netinet headers before the kernel's linux/ ones, which then leave
// out what glibc already defined (struct in_addr and friends).
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include <array>
#include <variant>

#include "engine/nftables/encoding.h"

namespace kubenat {
namespace {

using namespace nft_encoding;

// What a value is, for a statement that cannot take it.
std::string value_kind(const NftValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, IpAddress>) return "an address";
        if constexpr (std::is_same_v<T, Cidr>) return "a prefix";
        if constexpr (std::is_same_v<T, Protocol>) return "a protocol";
        if constexpr (std::is_same_v<T, std::uint16_t>) return "a port";
        if constexpr (std::is_same_v<T, std::uint32_t>) return "a number";
        return "a verdict";
      },
      value);
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
  RuleBuilder(IpFamily family, const NftSetLookup& sets) : family_(family), sets_(sets) {}

  // Appends the statement's expressions; the error says why it has none.
  std::expected<void, std::string> statement(const NftStatement& statement, std::size_t index) {
    statement_ = index;
    return std::visit([&](const auto& s) { return emit(s); }, statement);
  }

  std::vector<NftExpression> take() { return std::move(expressions_); }

 private:
  void add(nftnl::Expr expression) { expressions_.push_back(NftExpression{std::move(expression), statement_}); }

  // Loads one field into the register at 32-bit index `index`; returns the
  // number of 32-bit registers it fills.
  unsigned load(NftField field, unsigned index) {
    const FieldSpec spec = field_spec(field, family_);
    switch (spec.source) {
      case FieldSpec::Source::Meta: {
        auto e = nftnl::make_expr("meta");
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, spec.key);
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, register_number(index));
        add(std::move(e));
        break;
      }
      case FieldSpec::Source::Ct: {
        auto e = nftnl::make_expr("ct");
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, spec.key);
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, register_number(index));
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
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, register_number(index));
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
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_SREG, register_number(index));
        nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_DREG, register_number(index));
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

  void lookup(const std::string& set, std::optional<std::uint32_t> dreg, bool invert) {
    auto e = nftnl::make_expr("lookup");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, set.c_str());
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
          return std::unexpected("an address field compared with " + value_kind(s.value));
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
        if (!protocol) return std::unexpected("the layer 4 protocol compared with " + value_kind(s.value));
        load(s.field, 0);
        const std::vector<std::byte> bytes = pack_values({*protocol});
        cmp(op, bytes.data(), 1);
        return {};
      }
      case NftField::ThDport: {
        const auto* port = std::get_if<std::uint16_t>(&s.value);
        if (!port) return std::unexpected("the destination port compared with " + value_kind(s.value));
        load(s.field, 0);
        const std::vector<std::byte> bytes = pack_values({*port});
        cmp(op, bytes.data(), 2);
        return {};
      }
      case NftField::CtOriginalDaddr:
      case NftField::CtOriginalProtoDst:
        // Only used as keys and data: kubenat never compares them alone.
        return std::unexpected(std::string("a connection-tracking field compared with a value"));
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

  // As nft emits it: the whole name NUL-padded to IFNAMSIZ for an exact
  // match, only the prefix's bytes for a wildcard.
  std::expected<void, std::string> emit(const nft::IifName& s) {
    std::array<char, IFNAMSIZ> name{};
    if (s.name.empty() || s.name.size() >= name.size()) {
      return std::unexpected("interface name \"" + s.name + "\" is empty or longer than 15 bytes");
    }
    s.name.copy(name.data(), s.name.size());
    meta_load(NFT_META_IIFNAME);
    cmp(s.negate ? NFT_CMP_NEQ : NFT_CMP_EQ, name.data(),
        s.prefix ? static_cast<std::uint32_t>(s.name.size()) : static_cast<std::uint32_t>(name.size()));
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
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_DREG, register_number(*loaded));
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
    nat(register_number(0),
        with_port ? std::optional(register_number(address_registers)) : std::nullopt, 0);
    return {};
  }

  std::expected<void, std::string> emit(const nft::Dnat& s) {
    if (auto ok = check_address(s.address); !ok) return ok;
    immediate_data(NFT_REG_1, s.address.bytes().data(), static_cast<std::uint32_t>(s.address.byte_length()));
    if (s.port == 0) {
      nat(NFT_REG_1, std::nullopt, 0);
      return {};
    }
    const std::vector<std::byte> port = pack_values({s.port});
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
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DYNSET_SREG_DATA, register_number(*data_index));
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

  std::expected<void, std::string> emit(const NftVerdict& s) {
    auto e = nftnl::make_expr("immediate");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, verdict_code(s.kind));
    if (!s.chain.empty()) nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, s.chain.c_str());
    add(std::move(e));
    return {};
  }

  IpFamily family_;
  const NftSetLookup& sets_;
  std::size_t statement_ = 0;
  std::vector<NftExpression> expressions_;
};

}  // namespace

std::expected<std::vector<NftExpression>, NftInexpressible> rule_expressions(const NftRule& rule, IpFamily family,
                                                                            const NftSetLookup& sets) {
  RuleBuilder builder(family, sets);
  for (std::size_t i = 0; i < rule.statements.size(); ++i) {
    if (auto ok = builder.statement(rule.statements[i], i); !ok) return std::unexpected(NftInexpressible{i, ok.error()});
  }
  return builder.take();
}

}  // namespace kubenat
