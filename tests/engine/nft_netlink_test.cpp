// nf_tables messages built from the IR, without a kernel: each message is
// parsed back with libnftnl (as libnftnl's own tests do) and compared with
// what nft 1.0.6 sends for the same text. The expected expressions are
// nft's `--debug=netlink` output; the expected set user data are the bytes
// nft wrote (captured from the kernel after `nft -f`, on x86-64: the u32s
// in user data are in host order). Also: batch framing and sequence numbers,
// register numbering, concatenated type ids, key packing, how elements are
// spread over messages, and how a kernel error offset is traced back to an
// element or statement.

#include "engine/nft_netlink.h"

#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "engine/nftnl_handles.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using namespace nft_netlink_detail;

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }
Cidr cidr(const std::string& text) { return *Cidr::parse(text); }

std::string hex(const void* data, std::size_t length) {
  std::string out;
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < length; ++i) {
    char buffer[4];
    std::snprintf(buffer, sizeof buffer, "%02x", bytes[i]);
    if (i != 0) out += ' ';
    out += buffer;
  }
  return out;
}

std::string hex(const std::vector<std::byte>& bytes) { return hex(bytes.data(), bytes.size()); }

const nlmsghdr* header_of(const NftBatch& batch, std::size_t index) {
  return reinterpret_cast<const nlmsghdr*>(batch.bytes().data() + batch.messages().at(index).offset);
}

// The index of the first message of `kind` at or after `from`.
std::size_t find_message(const NftBatch& batch, NftMessageKind kind, std::size_t from = 0) {
  for (std::size_t i = from; i < batch.messages().size(); ++i) {
    if (batch.messages()[i].kind == kind) return i;
  }
  ADD_FAILURE() << "no message of kind " << nft_message_kind_name(kind);
  return 0;
}

// A rule message's expressions as nft --debug=netlink prints them.
std::vector<std::string> expressions(const nlmsghdr* header) {
  auto rule = nftnl::make_rule();
  EXPECT_GE(nftnl_rule_nlmsg_parse(header, rule.get()), 0);
  std::vector<char> buffer(16384);
  nftnl_rule_snprintf(buffer.data(), buffer.size(), rule.get(), NFTNL_OUTPUT_DEFAULT, 0);
  std::vector<std::string> out;
  std::istringstream lines(buffer.data());
  std::string line;
  while (std::getline(lines, line)) {
    const auto start = line.find('[');
    if (start == std::string::npos) continue;
    std::string expression = line.substr(start);
    while (!expression.empty() && expression.back() == ' ') expression.pop_back();
    out.push_back(expression);
  }
  return out;
}

std::vector<std::string> rule_expressions(NftStatement statement, IpFamily family = IpFamily::V4,
                                          NftBatch::SetLookup sets = {}) {
  NftBatch batch(family, "kubenat", 1, std::move(sets));
  const NftRule rule{{std::move(statement)}, {}};
  auto added = batch.add_rule("c", rule, 0);
  EXPECT_TRUE(added) << added.error();
  return expressions(header_of(batch, find_message(batch, NftMessageKind::AddRule)));
}

nftnl::Set parsed_set(const nlmsghdr* header) {
  auto set = nftnl::make_set();
  EXPECT_GE(nftnl_set_nlmsg_parse(header, set.get()), 0);
  return set;
}

std::string set_userdata(const nftnl_set* set) {
  std::uint32_t length = 0;
  const void* data = nftnl_set_get_data(set, NFTNL_SET_USERDATA, &length);
  return data ? hex(data, length) : "";
}

struct ParsedElement {
  std::string key;
  std::string key_end;
  std::optional<std::uint32_t> flags;
  std::optional<std::int32_t> verdict;
  std::string chain;
  std::string data;
  std::string userdata;
};

std::vector<ParsedElement> parsed_elements(const nlmsghdr* header) {
  auto set = nftnl::make_set();
  EXPECT_GE(nftnl_set_elems_nlmsg_parse(header, set.get()), 0);
  std::vector<ParsedElement> out;
  nftnl_set_elem_foreach(
      set.get(),
      [](nftnl_set_elem* element, void* data) {
        ParsedElement parsed;
        std::uint32_t length = 0;
        const auto bytes = [&](std::uint16_t attribute) -> std::string {
          if (!nftnl_set_elem_is_set(element, attribute)) return "";
          const void* value = nftnl_set_elem_get(element, attribute, &length);
          return hex(value, length);
        };
        parsed.key = bytes(NFTNL_SET_ELEM_KEY);
        parsed.key_end = bytes(NFTNL_SET_ELEM_KEY_END);
        parsed.data = bytes(NFTNL_SET_ELEM_DATA);
        parsed.userdata = bytes(NFTNL_SET_ELEM_USERDATA);
        if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_FLAGS)) {
          parsed.flags = nftnl_set_elem_get_u32(element, NFTNL_SET_ELEM_FLAGS);
        }
        if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_VERDICT)) {
          parsed.verdict = static_cast<std::int32_t>(nftnl_set_elem_get_u32(element, NFTNL_SET_ELEM_VERDICT));
        }
        if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_CHAIN)) {
          parsed.chain = nftnl_set_elem_get_str(element, NFTNL_SET_ELEM_CHAIN);
        }
        static_cast<std::vector<ParsedElement>*>(data)->push_back(parsed);
        return 0;
      },
      &out);
  return out;
}

// Byte offset, within its message, of the `ordinal`th child of top-level
// nest `type`: what the kernel's extended ACK reports for that child.
std::uint32_t child_offset(const nlmsghdr* header, std::uint16_t type, std::size_t ordinal) {
  const auto* base = reinterpret_cast<const char*>(header);
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(header));
  const auto* attribute = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(header, sizeof(nfgenmsg)));
  for (; mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    if (mnl_attr_get_type(attribute) != type) continue;
    const auto* end = reinterpret_cast<const char*>(attribute) + attribute->nla_len;
    const auto* child = static_cast<const nlattr*>(mnl_attr_get_payload(attribute));
    for (std::size_t i = 0; mnl_attr_ok(child, static_cast<int>(end - reinterpret_cast<const char*>(child)));
         child = mnl_attr_next(child), ++i) {
      if (i == ordinal) return static_cast<std::uint32_t>(reinterpret_cast<const char*>(child) - base);
    }
  }
  ADD_FAILURE() << "no child " << ordinal << " of nest " << type;
  return 0;
}

const std::vector<NftField> kDestination = {NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport};

// --- Numbers nft computes.

TEST(NftNetlinkDetail, RegistersAre32BitAndNamedAsNftNamesThem) {
  EXPECT_EQ(register_number(0), static_cast<std::uint32_t>(NFT_REG_1));
  EXPECT_EQ(register_number(1), static_cast<std::uint32_t>(NFT_REG32_01));
  EXPECT_EQ(register_number(3), static_cast<std::uint32_t>(NFT_REG32_03));
  EXPECT_EQ(register_number(4), static_cast<std::uint32_t>(NFT_REG_2));
  EXPECT_EQ(register_number(5), static_cast<std::uint32_t>(NFT_REG32_05));
  EXPECT_EQ(register_number(12), static_cast<std::uint32_t>(NFT_REG_4));
  EXPECT_EQ(register_number(15), static_cast<std::uint32_t>(NFT_REG32_15));
}

TEST(NftNetlinkDetail, ConcatenatedTypeIdsAndKeyLengths) {
  // The ids nft 1.0.6 sent for these declarations.
  EXPECT_EQ(concat_type_id({NftType::Ipv4Addr, NftType::InetProto, NftType::InetService}, true), 0x730du);
  EXPECT_EQ(concat_type_id({NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Ipv4Addr}, true),
            0x1cc347u);
  // A numgen index (typeof) is an integer in a key.
  EXPECT_EQ(concat_type_id({NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Mark}, true),
            0x1cc344u);
  EXPECT_EQ(concat_type_id({NftType::Ipv6Addr, NftType::InetProto, NftType::InetService, NftType::Mark}, true),
            0x20c344u);
  EXPECT_EQ(concat_type_id({NftType::Ipv4Addr, NftType::InetService}, false), 0x1cdu);
  EXPECT_EQ(concat_type_id({NftType::Ipv4Addr}, true), 7u);
  EXPECT_EQ(key_length({NftType::Ipv4Addr, NftType::InetProto, NftType::InetService}), 12u);
  EXPECT_EQ(key_length({NftType::Ipv6Addr, NftType::InetProto, NftType::InetService, NftType::Ipv6Addr}), 40u);
  EXPECT_EQ(key_length({NftType::InetProto}), 1u);
  EXPECT_EQ(key_length({NftType::InetService}), 2u);
  EXPECT_EQ(key_length({NftType::Ipv6Addr}), 16u);
}

TEST(NftNetlinkDetail, ValuesPackedFieldByFieldInNetworkOrderPaddedTo4) {
  EXPECT_EQ(hex(pack_values({ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}})),
            "0a 60 00 0a 06 00 00 00 00 50 00 00");
  // A numgen index is host order (x86-64 here).
  EXPECT_EQ(hex(pack_values({ip("10.96.0.10"), Protocol::Udp, std::uint16_t{53}, std::uint32_t{1}})),
            "0a 60 00 0a 11 00 00 00 00 35 00 00 01 00 00 00");
  EXPECT_EQ(hex(pack_values({ip("10.200.1.10"), std::uint16_t{8080}})), "0a c8 01 0a 1f 90 00 00");
  // A lone field is not padded.
  EXPECT_EQ(hex(pack_values({std::uint16_t{8080}})), "1f 90");
  EXPECT_EQ(hex(pack_values({Protocol::Sctp})), "84");
  EXPECT_EQ(hex(pack_values({ip("fd00::1")})), "fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01");
}

TEST(NftNetlinkDetail, PackedValuesUnpackToThemselves) {
  using T = NftType;
  const std::vector<NftValue> key = {ip("10.2.0.9"), ip("10.96.0.10"), Protocol::Udp, std::uint16_t{53}};
  EXPECT_EQ(unpack_values({T::Ipv4Addr, T::Ipv4Addr, T::InetProto, T::InetService}, pack_values(key)), key);
  const std::vector<NftValue> lone = {ip("fd00::1")};
  EXPECT_EQ(unpack_values({T::Ipv6Addr}, pack_values(lone)), lone);
  const std::vector<NftValue> indexed = {Protocol::Sctp, std::uint16_t{30080}, std::uint32_t{7}};
  EXPECT_EQ(unpack_values({T::InetProto, T::InetService, T::Mark}, pack_values(indexed)), indexed);
}

TEST(NftNetlinkDetail, BytesOfAnotherLengthOrAnUnknownProtocolDoNotUnpack) {
  using T = NftType;
  const std::vector<std::byte> packed = pack_values({ip("10.2.0.9"), std::uint16_t{53}});
  EXPECT_FALSE(unpack_values({T::Ipv4Addr}, packed));
  EXPECT_FALSE(unpack_values({T::Ipv4Addr, T::InetService, T::InetService}, packed));
  EXPECT_FALSE(unpack_values({T::InetProto}, std::vector<std::byte>{std::byte{1}}));
}

// --- The batch.

TEST(NftBatch, FramedByBatchBeginAndEndWithConsecutiveSequenceNumbers) {
  NftBatch batch(IpFamily::V4, "kubenat", 100);
  batch.add_table();
  batch.delete_table();
  batch.create_table();
  batch.add_chain(NftChain{"c", std::nullopt, {}});
  batch.finish();
  ASSERT_EQ(batch.messages().size(), 6u);
  EXPECT_EQ(batch.first_seq(), 100u);
  EXPECT_EQ(batch.next_seq(), 106u);
  EXPECT_EQ(batch.acks_expected(), 4u);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < batch.messages().size(); ++i) {
    const NftMessageInfo& info = batch.messages()[i];
    EXPECT_EQ(info.seq, 100 + i);
    EXPECT_EQ(info.offset, offset);
    const nlmsghdr* header = header_of(batch, i);
    EXPECT_EQ(header->nlmsg_seq, info.seq);
    EXPECT_TRUE(header->nlmsg_flags & NLM_F_REQUEST);
    const bool marker = i == 0 || i + 1 == batch.messages().size();
    EXPECT_EQ((header->nlmsg_flags & NLM_F_ACK) != 0, !marker) << i;
    offset += NLMSG_ALIGN(header->nlmsg_len);
  }
  EXPECT_EQ(offset, batch.size());
  EXPECT_EQ(header_of(batch, 0)->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(header_of(batch, 5)->nlmsg_type, NFNL_MSG_BATCH_END);
  const auto* begin = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(header_of(batch, 0)));
  EXPECT_EQ(ntohs(begin->res_id), NFNL_SUBSYS_NFTABLES);
  // add (may exist), delete, add (must not exist): a fresh table.
  EXPECT_EQ(header_of(batch, 1)->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE);
  EXPECT_FALSE(header_of(batch, 1)->nlmsg_flags & NLM_F_EXCL);
  EXPECT_EQ(header_of(batch, 2)->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE);
  EXPECT_TRUE(header_of(batch, 3)->nlmsg_flags & NLM_F_EXCL);
  EXPECT_TRUE(header_of(batch, 4)->nlmsg_flags & NLM_F_EXCL);
  const auto* table = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(header_of(batch, 1)));
  EXPECT_EQ(table->nfgen_family, NFPROTO_IPV4);
}

TEST(NftBatch, BaseChainHasTypeHookPriorityAndPolicyAccept) {
  NftBatch batch(IpFamily::V6, "kubenat", 1);
  batch.add_chain(NftChain{"post", NftHook{NftHook::Type::Nat, NftHook::Point::Postrouting, 100}, {}});
  batch.add_chain(NftChain{"plain", std::nullopt, {}});
  auto chain = nftnl::make_chain();
  ASSERT_GE(nftnl_chain_nlmsg_parse(header_of(batch, 1), chain.get()), 0);
  EXPECT_STREQ(nftnl_chain_get_str(chain.get(), NFTNL_CHAIN_NAME), "post");
  EXPECT_STREQ(nftnl_chain_get_str(chain.get(), NFTNL_CHAIN_TYPE), "nat");
  EXPECT_EQ(nftnl_chain_get_u32(chain.get(), NFTNL_CHAIN_HOOKNUM), static_cast<std::uint32_t>(NF_INET_POST_ROUTING));
  EXPECT_EQ(nftnl_chain_get_s32(chain.get(), NFTNL_CHAIN_PRIO), 100);
  EXPECT_EQ(nftnl_chain_get_u32(chain.get(), NFTNL_CHAIN_POLICY), static_cast<std::uint32_t>(NF_ACCEPT));
  auto plain = nftnl::make_chain();
  ASSERT_GE(nftnl_chain_nlmsg_parse(header_of(batch, 2), plain.get()), 0);
  EXPECT_FALSE(nftnl_chain_is_set(plain.get(), NFTNL_CHAIN_HOOKNUM));
  EXPECT_EQ(static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(header_of(batch, 1)))->nfgen_family, NFPROTO_IPV6);
}

// --- Sets: attributes and user data as nft 1.0.6 sends them.

struct SetCase {
  NftSet set;
  IpFamily family;
  std::uint32_t flags;
  std::uint32_t key_type;
  std::uint32_t key_length;
  std::optional<std::uint32_t> data_type;
  std::optional<std::uint32_t> data_length;
  std::string userdata;
  std::string concat_lengths;  // NFTNL_SET_DESC_CONCAT
  std::optional<std::uint64_t> timeout_ms;
};

const std::string kTypeofEndpointsV4 =
    "00 04 00 00 00 00 01 04 00 00 00 00 03 60 00 04 0d 00 00 00 01 58 00 14 00 04 07 00 00 00 01 0c 00 04 0c 00 "
    "00 00 01 04 0c 00 00 00 01 0e 00 04 09 00 00 00 01 06 00 04 10 00 00 00 02 14 00 04 07 00 00 00 01 0c 00 04 "
    "0b 00 00 00 01 04 02 00 00 00 03 1a 00 04 17 00 00 00 01 12 00 04 01 00 00 00 01 04 01 00 00 00 02 04 00 00 "
    "00 00 04 34 00 04 0d 00 00 00 01 2c 00 14 00 04 07 00 00 00 01 0c 00 04 0c 00 00 00 01 04 0c 00 00 00 01 14 "
    "00 04 07 00 00 00 01 0c 00 04 0b 00 00 00 01 04 02 00 00 00 06 04 00 00 00 00";
const std::string kTypeofEndpointsV6 =
    "00 04 00 00 00 00 01 04 00 00 00 00 03 60 00 04 0d 00 00 00 01 58 00 14 00 04 07 00 00 00 01 0c 00 04 0d 00 "
    "00 00 01 04 09 00 00 00 01 0e 00 04 09 00 00 00 01 06 00 04 10 00 00 00 02 14 00 04 07 00 00 00 01 0c 00 04 "
    "0b 00 00 00 01 04 02 00 00 00 03 1a 00 04 17 00 00 00 01 12 00 04 01 00 00 00 01 04 01 00 00 00 02 04 00 00 "
    "00 00 04 34 00 04 0d 00 00 00 01 2c 00 14 00 04 07 00 00 00 01 0c 00 04 0d 00 00 00 01 04 09 00 00 00 01 14 "
    "00 04 07 00 00 00 01 0c 00 04 0b 00 00 00 01 04 02 00 00 00 06 04 00 00 00 00";

class NftSetMessage : public ::testing::TestWithParam<SetCase> {};

TEST_P(NftSetMessage, MatchesWhatNftSends) {
  const SetCase& c = GetParam();
  NftBatch batch(c.family, "kubenat", 1);
  batch.add_set(c.set);
  const nlmsghdr* header = header_of(batch, 1);
  EXPECT_EQ(header->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSET);
  const nftnl::Set set = parsed_set(header);
  EXPECT_STREQ(nftnl_set_get_str(set.get(), NFTNL_SET_NAME), c.set.name.c_str());
  EXPECT_STREQ(nftnl_set_get_str(set.get(), NFTNL_SET_TABLE), "kubenat");
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_FLAGS), c.flags);
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_KEY_TYPE), c.key_type);
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_KEY_LEN), c.key_length);
  ASSERT_EQ(nftnl_set_is_set(set.get(), NFTNL_SET_DATA_TYPE), c.data_type.has_value());
  if (c.data_type) {
    EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_DATA_TYPE), *c.data_type);
    EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_DATA_LEN), *c.data_length);
  }
  EXPECT_EQ(set_userdata(set.get()), c.userdata);
  ASSERT_EQ(nftnl_set_is_set(set.get(), NFTNL_SET_TIMEOUT), c.timeout_ms.has_value());
  if (c.timeout_ms) {
    EXPECT_EQ(nftnl_set_get_u64(set.get(), NFTNL_SET_TIMEOUT), *c.timeout_ms);
  }
  std::string concat;
  if (nftnl_set_is_set(set.get(), NFTNL_SET_DESC_CONCAT)) {
    std::uint32_t length = 0;
    const void* lengths = nftnl_set_get_data(set.get(), NFTNL_SET_DESC_CONCAT, &length);
    // libnftnl keeps the whole field array; the used part ends at a 0.
    const auto* bytes = static_cast<const std::uint8_t*>(lengths);
    std::size_t used = 0;
    while (used < length && bytes[used] != 0) ++used;
    concat = hex(lengths, used);
  }
  EXPECT_EQ(concat, c.concat_lengths);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, NftSetMessage,
    ::testing::Values(
        // set cluster-ips { type ipv4_addr; comment "cluster ips"; }
        SetCase{NftSet{"cluster-ips", {NftType::Ipv4Addr}, {}, false, std::nullopt, "cluster ips"}, IpFamily::V4, 0, 7,
                4, std::nullopt, std::nullopt, "00 04 02 00 00 00 07 0c 63 6c 75 73 74 65 72 20 69 70 73 00", "",
                std::nullopt},
        // set noep { type ipv4_addr . inet_proto . inet_service; comment "no endpoints"; }
        SetCase{NftSet{"noep", {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService}, {}, false, std::nullopt,
                       "no endpoints"},
                IpFamily::V4, 0, 0x730d, 12, std::nullopt, std::nullopt,
                "00 04 00 00 00 00 03 08 00 04 0d 00 00 00 01 00 07 0d 6e 6f 20 65 6e 64 70 6f 69 6e 74 73 00", "",
                std::nullopt},
        // map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
        SetCase{NftSet{"service-ips", {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService},
                       {NftType::Verdict}, false, std::nullopt, ""},
                IpFamily::V4, NFT_SET_MAP, 0x730d, 12, NFT_DATA_VERDICT, 0,
                "00 04 00 00 00 00 01 04 00 00 00 00 03 08 00 04 0d 00 00 00 01 00 06 04 00 00 00 00", "",
                std::nullopt},
        // map m4 { type inet_proto : inet_service; }
        SetCase{NftSet{"m4", {NftType::InetProto}, {NftType::InetService}, false, std::nullopt, ""}, IpFamily::V4,
                NFT_SET_MAP, 12, 1, 13, 2, "00 04 00 00 00 00 01 04 02 00 00 00 06 04 00 00 00 00", "", std::nullopt},
        // map cluster-endpoints { typeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport; }
        SetCase{NftSet{"cluster-endpoints",
                       {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Mark},
                       {NftType::Ipv4Addr, NftType::InetService},
                       false,
                       std::nullopt,
                       ""},
                IpFamily::V4, NFT_SET_MAP, 0x1cc344, 16, 0x1cd, 8, kTypeofEndpointsV4, "", std::nullopt},
        // The same in ip6.
        SetCase{NftSet{"ce",
                       {NftType::Ipv6Addr, NftType::InetProto, NftType::InetService, NftType::Mark},
                       {NftType::Ipv6Addr, NftType::InetService},
                       false,
                       std::nullopt,
                       ""},
                IpFamily::V6, NFT_SET_MAP, 0x20c344, 28, 0x20d, 20, kTypeofEndpointsV6, "", std::nullopt},
        // map m { typeof ip daddr . numgen random mod 1 : verdict; comment "x y"; }
        SetCase{NftSet{"m", {NftType::Ipv4Addr, NftType::Mark}, {NftType::Verdict}, false, std::nullopt, "x y"},
                IpFamily::V4, NFT_SET_MAP, 0x1c4, 8, NFT_DATA_VERDICT, 0,
                "00 04 00 00 00 00 01 04 00 00 00 00 03 3a 00 04 0d 00 00 00 01 32 00 14 00 04 07 00 00 00 01 0c 00 "
                "04 0c 00 00 00 01 04 0c 00 00 00 01 1a 00 04 17 00 00 00 01 12 00 04 01 00 00 00 01 04 01 00 00 00 "
                "02 04 00 00 00 00 04 08 00 04 01 00 00 00 01 00 06 04 00 00 00 00 07 04 78 20 79 00",
                "", std::nullopt},
        // map src-ranges { type ipv4_addr . inet_proto . inet_service . ipv4_addr : verdict; flags interval; }
        SetCase{NftSet{"src-ranges",
                       {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Ipv4Addr},
                       {NftType::Verdict},
                       true,
                       std::nullopt,
                       ""},
                IpFamily::V4, NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_CONCAT, 0x1cc347, 16, NFT_DATA_VERDICT, 0,
                "00 04 00 00 00 00 01 04 00 00 00 00 03 08 00 04 0d 00 00 00 01 00 06 04 00 00 00 00", "04 01 02 04",
                std::nullopt},
        // set cidrs { type ipv4_addr; flags interval; }
        SetCase{NftSet{"cidrs", {NftType::Ipv4Addr}, {}, true, std::nullopt, ""}, IpFamily::V4, NFT_SET_INTERVAL, 7, 4,
                std::nullopt, std::nullopt, "00 04 02 00 00 00", "", std::nullopt},
        // set aff { type ipv4_addr; flags dynamic,timeout; timeout 10800s; }
        SetCase{NftSet{"aff", {NftType::Ipv4Addr}, {}, false, std::uint32_t{10800}, ""}, IpFamily::V4,
                NFT_SET_TIMEOUT | NFT_SET_EVAL, 7, 4, std::nullopt, std::nullopt, "00 04 02 00 00 00", "",
                std::uint64_t{10800000}},
        // set aff2 { type ipv4_addr . ipv4_addr; flags dynamic,timeout; timeout 300s; }
        SetCase{NftSet{"aff2", {NftType::Ipv4Addr, NftType::Ipv4Addr}, {}, false, std::uint32_t{300}, ""},
                IpFamily::V4, NFT_SET_TIMEOUT | NFT_SET_EVAL, 0x1c7, 8, std::nullopt, std::nullopt,
                "00 04 00 00 00 00 03 08 00 04 0d 00 00 00 01 00", "", std::uint64_t{300000}}));

// --- Elements.

std::vector<const NftElement*> pointers(const std::vector<NftElement>& elements) {
  std::vector<const NftElement*> out;
  for (const NftElement& element : elements) out.push_back(&element);
  return out;
}

TEST(NftElements, ConcatenatedKeyVerdictAndAddressPortData) {
  const std::vector<NftElement> vmap = {
      NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}}, {NftVerdict{NftVerdict::Kind::Goto, "svc-a"}}},
      NftElement{{ip("10.96.0.11"), Protocol::Udp, std::uint16_t{53}}, {NftVerdict{NftVerdict::Kind::Accept, {}}}},
  };
  const std::vector<NftElement> endpoints = {
      NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                 {ip("10.200.1.10"), std::uint16_t{8080}}},
  };
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.add_elements("service-ips", nullptr, pointers(vmap));
  batch.add_elements("endpoints", nullptr, pointers(endpoints));
  ASSERT_EQ(batch.messages().size(), 3u);
  EXPECT_EQ(batch.messages()[1].elements, 2u);
  EXPECT_EQ(header_of(batch, 1)->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL), NLM_F_CREATE);

  const auto services = parsed_elements(header_of(batch, 1));
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0].key, "0a 60 00 0a 06 00 00 00 00 50 00 00");
  EXPECT_EQ(services[0].verdict, NFT_GOTO);
  EXPECT_EQ(services[0].chain, "svc-a");
  EXPECT_EQ(services[1].verdict, NF_ACCEPT);
  EXPECT_EQ(services[1].chain, "");

  const auto picked = parsed_elements(header_of(batch, 2));
  ASSERT_EQ(picked.size(), 1u);
  EXPECT_EQ(picked[0].key, "0a 60 00 0a 06 00 00 00 00 50 00 00 01 00 00 00");
  EXPECT_EQ(picked[0].data, "0a c8 01 0a 1f 90 00 00");
  EXPECT_FALSE(picked[0].verdict);
}

TEST(NftElements, RangesInAConcatenationCarryAKeyEnd) {
  const std::vector<NftElement> ranges = {
      NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, cidr("192.168.0.0/16")},
                 {NftVerdict{NftVerdict::Kind::Accept, {}}}},
  };
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.add_elements("src-ranges", nullptr, pointers(ranges));
  const auto parsed = parsed_elements(header_of(batch, 1));
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].key, "0a 60 00 0a 06 00 00 00 00 50 00 00 c0 a8 00 00");
  EXPECT_EQ(parsed[0].key_end, "0a 60 00 0a 06 00 00 00 00 50 00 00 c0 a8 ff ff");
  EXPECT_EQ(parsed[0].verdict, NF_ACCEPT);
}

TEST(NftElements, SingleFieldRangesAreStartAndIntervalEnd) {
  const NftSet declaration{"cidrs", {NftType::Ipv4Addr}, {}, true, std::nullopt, ""};
  const std::vector<NftElement> cidrs = {
      NftElement{{cidr("10.0.0.0/8")}, {}},
      NftElement{{ip("172.16.5.5")}, {}},      // one address of an interval set
      NftElement{{cidr("224.0.0.0/3")}, {}},  // up to the last address: open
  };
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.add_elements("cidrs", &declaration, pointers(cidrs));
  const auto parsed = parsed_elements(header_of(batch, 1));
  ASSERT_EQ(parsed.size(), 5u);
  EXPECT_EQ(parsed[0].key, "0a 00 00 00");
  EXPECT_FALSE(parsed[0].flags);
  EXPECT_EQ(parsed[1].key, "0b 00 00 00");
  EXPECT_EQ(parsed[1].flags, static_cast<std::uint32_t>(NFT_SET_ELEM_INTERVAL_END));
  EXPECT_EQ(parsed[2].key, "ac 10 05 05");
  EXPECT_EQ(parsed[3].key, "ac 10 05 06");
  EXPECT_EQ(parsed[3].flags, static_cast<std::uint32_t>(NFT_SET_ELEM_INTERVAL_END));
  EXPECT_EQ(parsed[4].key, "e0 00 00 00");
  EXPECT_FALSE(parsed[4].flags);
  EXPECT_EQ(parsed[4].userdata, "01 04 01 00 00 00");  // NFTNL_SET_ELEM_F_INTERVAL_OPEN
  EXPECT_EQ(batch.messages()[1].elements, 3u);
}

TEST(NftElements, DeletionNamesKeysOnly) {
  const std::vector<NftElement> endpoints = {
      NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                 {ip("10.200.1.10"), std::uint16_t{8080}}},
  };
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.delete_elements("endpoints", nullptr, pointers(endpoints));
  EXPECT_EQ(header_of(batch, 1)->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM);
  const auto parsed = parsed_elements(header_of(batch, 1));
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].data, "");
  EXPECT_EQ(batch.messages()[1].kind, NftMessageKind::DeleteElements);
}

TEST(NftElements, ManyElementsSpreadOverMessagesUnder64KiB) {
  std::vector<NftElement> elements;
  for (int i = 0; i < 10000; ++i) {
    elements.push_back(NftElement{
        {IpAddress::v4(10, 96, static_cast<std::uint8_t>(i / 256), static_cast<std::uint8_t>(i % 256)), Protocol::Tcp,
         std::uint16_t{80}, std::uint32_t{0}},
        {ip("10.200.1.10"), std::uint16_t{8080}}});
  }
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.add_elements("endpoints", nullptr, pointers(elements));
  batch.finish();
  std::size_t total = 0;
  for (std::size_t i = 1; i + 1 < batch.messages().size(); ++i) {
    EXPECT_LT(batch.messages()[i].length, 65536u);
    total += parsed_elements(header_of(batch, i)).size();
    EXPECT_EQ(parsed_elements(header_of(batch, i)).size(), batch.messages()[i].elements);
  }
  EXPECT_EQ(total, 10000u);
  // About 44 bytes an element: some 1,460 to a message, 7 messages.
  EXPECT_EQ(batch.messages().size(), 2u + 7u);
}

// --- Rules: the expressions nft 1.0.6 emits for each statement.

TEST(NftRules, ConcatenatedVmapUsesConsecutive32BitRegisters) {
  EXPECT_THAT(rule_expressions(nft::Vmap{kDestination, "service-ips"}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]",
                          "[ lookup reg 1 set service-ips dreg 0 ]"));
}

TEST(NftRules, DnatThroughANumgenIndexedMap) {
  EXPECT_THAT(rule_expressions(nft::DnatMap{kDestination, 3, "cluster-endpoints"}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]",
                          "[ numgen reg 11 = random mod 3 ]", "[ lookup reg 1 set cluster-endpoints dreg 1 ]",
                          "[ nat dnat ip addr_min reg 1 proto_min reg 9 ]"));
  // ip6: the address fills four registers, the port follows in NFT_REG_2.
  EXPECT_THAT(rule_expressions(nft::DnatMap{kDestination, 2, "ce"}, IpFamily::V6),
              ElementsAre("[ payload load 16b @ network header + 24 => reg 1 ]", "[ meta load l4proto => reg 2 ]",
                          "[ payload load 2b @ transport header + 2 => reg 13 ]",
                          "[ numgen reg 14 = random mod 2 ]", "[ lookup reg 1 set ce dreg 1 ]",
                          "[ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]"));
  // A map known to hold addresses only: no port register.
  const NftSet addresses{"a", {NftType::Ipv4Addr}, {NftType::Ipv4Addr}, false, std::nullopt, ""};
  EXPECT_THAT(rule_expressions(nft::DnatMap{{NftField::IpDaddr}, 0, "a"}, IpFamily::V4,
                               [&](std::string_view) { return &addresses; }),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ lookup reg 1 set a dreg 1 ]",
                          "[ nat dnat ip addr_min reg 1 ]"));
}

TEST(NftRules, FibConntrackAndMarkTests) {
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  const NftRule rule{{nft::FibLocal{false, false}, nft::CtStateNew{}, nft::CtStatusDnat{}, nft::MarkTest{0x4000, false}},
                     "hello"};
  ASSERT_TRUE(batch.add_rule("pre", rule, 0));
  const nlmsghdr* header = header_of(batch, 1);
  EXPECT_THAT(expressions(header),
              ElementsAre("[ fib daddr type => reg 1 ]", "[ cmp eq reg 1 0x00000002 ]", "[ ct load state => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ]", "[ cmp neq reg 1 0x00000000 ]",
                          "[ ct load status => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]",
                          "[ cmp neq reg 1 0x00000000 ]", "[ meta load mark => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0x00004000 ) ^ 0x00000000 ]", "[ cmp eq reg 1 0x00000000 ]"));
  auto parsed = nftnl::make_rule();
  ASSERT_GE(nftnl_rule_nlmsg_parse(header, parsed.get()), 0);
  std::uint32_t length = 0;
  const void* userdata = nftnl_rule_get_data(parsed.get(), NFTNL_RULE_USERDATA, &length);
  ASSERT_NE(userdata, nullptr);
  EXPECT_EQ(hex(userdata, length), "00 06 68 65 6c 6c 6f 00");  // comment "hello"
  EXPECT_STREQ(nftnl_rule_get_str(parsed.get(), NFTNL_RULE_CHAIN), "pre");
  EXPECT_EQ(header->nlmsg_flags & (NLM_F_CREATE | NLM_F_APPEND), NLM_F_CREATE | NLM_F_APPEND);

  EXPECT_THAT(rule_expressions(nft::FibLocal{true, true}),
              ElementsAre("[ fib saddr type => reg 1 ]", "[ cmp neq reg 1 0x00000002 ]"));
  EXPECT_THAT(rule_expressions(nft::MarkTest{0x4000, true}),
              ElementsAre("[ meta load mark => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0x00004000 ) ^ 0x00000000 ]",
                          "[ cmp neq reg 1 0x00000000 ]"));
}

TEST(NftRules, MarkSetThroughBitwise) {
  EXPECT_THAT(rule_expressions(nft::MarkOr{0x4000}),
              ElementsAre("[ meta load mark => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0xffffbfff ) ^ 0x00004000 ]",
                          "[ meta set mark with reg 1 ]"));
  EXPECT_THAT(rule_expressions(nft::MarkXor{0x4000}),
              ElementsAre("[ meta load mark => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0xffffffff ) ^ 0x00004000 ]",
                          "[ meta set mark with reg 1 ]"));
}

TEST(NftRules, MatchesAndPrefixes) {
  using F = NftField;
  EXPECT_THAT(rule_expressions(nft::Match{F::IpDaddr, false, ip("10.1.1.1")}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ cmp eq reg 1 0x0101010a ]"));
  // A prefix ending on a byte loads only its bytes; others are masked.
  EXPECT_THAT(rule_expressions(nft::Match{F::IpSaddr, true, cidr("10.0.0.0/8")}),
              ElementsAre("[ payload load 1b @ network header + 12 => reg 1 ]", "[ cmp neq reg 1 0x0000000a ]"));
  EXPECT_THAT(rule_expressions(nft::Match{F::IpDaddr, true, cidr("10.1.1.0/24")}),
              ElementsAre("[ payload load 3b @ network header + 16 => reg 1 ]", "[ cmp neq reg 1 0x0001010a ]"));
  EXPECT_THAT(rule_expressions(nft::Match{F::IpSaddr, false, cidr("10.16.0.0/12")}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0x0000f0ff ) ^ 0x00000000 ]", "[ cmp eq reg 1 0x0000100a ]"));
  EXPECT_THAT(rule_expressions(nft::Match{F::IpSaddr, false, cidr("0.0.0.0/0")}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0x00000000 ) ^ 0x00000000 ]", "[ cmp eq reg 1 0x00000000 ]"));
  EXPECT_THAT(rule_expressions(nft::Match{F::MetaL4proto, false, Protocol::Udp}),
              ElementsAre("[ meta load l4proto => reg 1 ]", "[ cmp eq reg 1 0x00000011 ]"));
  EXPECT_THAT(rule_expressions(nft::Match{F::ThDport, false, std::uint16_t{53}}),
              ElementsAre("[ payload load 2b @ transport header + 2 => reg 1 ]", "[ cmp eq reg 1 0x00003500 ]"));
  EXPECT_THAT(rule_expressions(nft::Match{F::IpSaddr, false, cidr("2001:db8::/33")}, IpFamily::V6),
              ElementsAre("[ payload load 16b @ network header + 8 => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0xffffffff 0x00000080 0x00000000 0x00000000 ) ^ 0x00000000 "
                          "0x00000000 0x00000000 0x00000000 ]",
                          "[ cmp eq reg 1 0xb80d0120 0x00000000 0x00000000 0x00000000 ]"));
  EXPECT_THAT(rule_expressions(nft::Match{F::IpDaddr, false, cidr("2001:db8::/64")}, IpFamily::V6),
              ElementsAre("[ payload load 8b @ network header + 24 => reg 1 ]",
                          "[ cmp eq reg 1 0xb80d0120 0x00000000 ]"));
}

TEST(NftRules, SetLookups) {
  EXPECT_THAT(rule_expressions(nft::InSet{kDestination, "noep", true}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]", "[ lookup reg 1 set noep 0x1 ]"));
  EXPECT_THAT(rule_expressions(nft::InSet{{NftField::IpSaddr, NftField::IpDaddr}, "aff2", false}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]",
                          "[ payload load 4b @ network header + 16 => reg 9 ]", "[ lookup reg 1 set aff2 ]"));
  EXPECT_THAT(rule_expressions(nft::UpdateSet{{NftField::IpSaddr}, "aff"}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]", "[ dynset update reg_key 1 set aff ]"));
  // nft's encoding of `update @affinity { ip saddr . ct original ip daddr .
  // meta l4proto . ct original proto-dst timeout 600s : ip daddr . th dport }`:
  // the data right after the key.
  using F = NftField;
  EXPECT_THAT(rule_expressions(nft::UpdateSet{{F::IpSaddr, F::CtOriginalDaddr, F::MetaL4proto, F::CtOriginalProtoDst},
                                              "affinity",
                                              {F::IpDaddr, F::ThDport},
                                              600}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]",
                          "[ ct load dst_ip => reg 9 , dir original ]", "[ meta load l4proto => reg 10 ]",
                          "[ ct load proto_dst => reg 11 , dir original ]",
                          "[ payload load 4b @ network header + 16 => reg 2 ]",
                          "[ payload load 2b @ transport header + 2 => reg 13 ]",
                          "[ dynset update reg_key 1 set affinity sreg_data 2 timeout 600000ms ]"));
  // A concatenation with ranges: nft's byte order conversion of meta l4proto.
  const NftSet ranges{"src-ranges",
                      {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Ipv4Addr},
                      {NftType::Verdict},
                      true,
                      std::nullopt,
                      ""};
  EXPECT_THAT(rule_expressions(nft::Vmap{{NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport, NftField::IpSaddr},
                                         "src-ranges"},
                               IpFamily::V4, [&](std::string_view) { return &ranges; }),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ byteorder reg 9 = hton(reg 9, 2, 1) ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]",
                          "[ payload load 4b @ network header + 12 => reg 11 ]",
                          "[ lookup reg 1 set src-ranges dreg 0 ]"));
}

TEST(NftRules, NatMasqueradeRejectAndVerdicts) {
  EXPECT_THAT(rule_expressions(nft::Dnat{ip("10.0.0.1"), 80}),
              ElementsAre("[ immediate reg 1 0x0100000a ]", "[ immediate reg 2 0x00005000 ]",
                          "[ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]"));
  EXPECT_THAT(rule_expressions(nft::Dnat{ip("10.0.0.1"), 0}),
              ElementsAre("[ immediate reg 1 0x0100000a ]", "[ nat dnat ip addr_min reg 1 ]"));
  EXPECT_THAT(rule_expressions(nft::Dnat{ip("fd00::1"), 80}, IpFamily::V6),
              ElementsAre("[ immediate reg 1 0x000000fd 0x00000000 0x00000000 0x01000000 ]",
                          "[ immediate reg 2 0x00005000 ]", "[ nat dnat ip6 addr_min reg 1 proto_min reg 2 flags 0x2 ]"));
  EXPECT_THAT(rule_expressions(nft::Masquerade{true}), ElementsAre("[ masq flags 0x10 ]"));
  EXPECT_THAT(rule_expressions(nft::Masquerade{false}), ElementsAre("[ masq ]"));
  EXPECT_THAT(rule_expressions(nft::Reject{}), ElementsAre("[ reject type 0 code 3 ]"));
  EXPECT_THAT(rule_expressions(nft::Reject{}, IpFamily::V6), ElementsAre("[ reject type 0 code 4 ]"));
  EXPECT_THAT(rule_expressions(NftVerdict{NftVerdict::Kind::Jump, "svc-a"}), ElementsAre("[ immediate reg 0 jump -> svc-a ]"));
  EXPECT_THAT(rule_expressions(NftVerdict{NftVerdict::Kind::Goto, "svc-a"}), ElementsAre("[ immediate reg 0 goto -> svc-a ]"));
  EXPECT_THAT(rule_expressions(NftVerdict{NftVerdict::Kind::Drop, {}}), ElementsAre("[ immediate reg 0 drop ]"));
  EXPECT_THAT(rule_expressions(NftVerdict{NftVerdict::Kind::Return, {}}), ElementsAre("[ immediate reg 0 return ]"));
  EXPECT_THAT(rule_expressions(NftVerdict{NftVerdict::Kind::Accept, {}}), ElementsAre("[ immediate reg 0 accept ]"));
}

TEST(NftRules, NumgenVmapAddsItsAnonymousMapFirst) {
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  ASSERT_TRUE(batch.add_rule("c", NftRule{{nft::NumgenVmap{{"a", "b"}}}, {}}, 0));
  ASSERT_EQ(batch.messages().size(), 4u);
  EXPECT_EQ(batch.messages()[1].kind, NftMessageKind::AddSet);
  EXPECT_EQ(batch.messages()[2].kind, NftMessageKind::AddElements);
  EXPECT_EQ(batch.messages()[3].kind, NftMessageKind::AddRule);
  const nftnl::Set set = parsed_set(header_of(batch, 1));
  EXPECT_STREQ(nftnl_set_get_str(set.get(), NFTNL_SET_NAME), "__map%d");
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_FLAGS),
            static_cast<std::uint32_t>(NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP));
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_KEY_TYPE), 4u);
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_KEY_LEN), 4u);
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_DATA_TYPE), static_cast<std::uint32_t>(NFT_DATA_VERDICT));
  EXPECT_EQ(nftnl_set_get_u32(set.get(), NFTNL_SET_DESC_SIZE), 2u);
  EXPECT_EQ(set_userdata(set.get()),
            "00 04 01 00 00 00 01 04 00 00 00 00 04 08 00 04 01 00 00 00 01 00 06 04 00 00 00 00");
  const std::uint32_t id = nftnl_set_get_u32(set.get(), NFTNL_SET_ID);

  auto elements = nftnl::make_set();
  ASSERT_GE(nftnl_set_elems_nlmsg_parse(header_of(batch, 2), elements.get()), 0);
  EXPECT_EQ(nftnl_set_get_u32(elements.get(), NFTNL_SET_ID), id);
  const auto parsed = parsed_elements(header_of(batch, 2));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].key, "00 00 00 00");
  EXPECT_EQ(parsed[1].key, "01 00 00 00");
  EXPECT_EQ(parsed[1].verdict, NFT_GOTO);
  EXPECT_EQ(parsed[1].chain, "b");

  EXPECT_THAT(expressions(header_of(batch, 3)),
              ElementsAre("[ numgen reg 1 = random mod 2 ]", "[ lookup reg 1 set __map%d dreg 0 ]"));
  auto rule = nftnl::make_rule();
  ASSERT_GE(nftnl_rule_nlmsg_parse(header_of(batch, 3), rule.get()), 0);
  auto* iterator = nftnl_expr_iter_create(rule.get());
  nftnl_expr* expression = nftnl_expr_iter_next(iterator);
  expression = nftnl_expr_iter_next(iterator);  // the lookup
  EXPECT_EQ(nftnl_expr_get_u32(expression, NFTNL_EXPR_LOOKUP_SET_ID), id);
  nftnl_expr_iter_destroy(iterator);
}

TEST(NftRules, StatementThatCannotBeExpressedAddsNothing) {
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  const NftRule rule{{nft::NumgenVmap{{"a"}}, nft::Match{NftField::IpDaddr, false, Protocol::Tcp}}, {}};
  auto added = batch.add_rule("c", rule, 4);
  ASSERT_FALSE(added);
  EXPECT_THAT(added.error(), HasSubstr("rule 5 of chain c"));
  EXPECT_THAT(added.error(), HasSubstr("an address field compared with tcp"));
  EXPECT_EQ(batch.messages().size(), 1u);  // BATCH_BEGIN only
  auto wrong_family = batch.add_rule("c", NftRule{{nft::Dnat{ip("fd00::1"), 80}}, {}}, 0);
  ASSERT_FALSE(wrong_family);
  EXPECT_THAT(wrong_family.error(), HasSubstr("fd00::1"));
}

// --- Errors traced back to objects.

TEST(NftBatchDescribe, ElementAtTheKernelsOffset) {
  const std::vector<NftElement> elements = {
      NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}}, {NftVerdict{NftVerdict::Kind::Goto, "a"}}},
      NftElement{{ip("10.96.0.11"), Protocol::Tcp, std::uint16_t{81}}, {NftVerdict{NftVerdict::Kind::Goto, "b"}}},
      NftElement{{ip("10.96.0.12"), Protocol::Tcp, std::uint16_t{82}}, {NftVerdict{NftVerdict::Kind::Goto, "c"}}},
  };
  NftBatch batch(IpFamily::V4, "kubenat", 10);
  batch.add_elements("service-ips", nullptr, pointers(elements));
  batch.finish();
  const nlmsghdr* header = header_of(batch, 1);
  // Inside the second element (a few bytes past its start, as for its key).
  const std::uint32_t offset = child_offset(header, NFTA_SET_ELEM_LIST_ELEMENTS, 1) + 8;
  const NftOwnerLookup owners = [&](std::string_view set, const NftElement* element) -> std::string {
    return set == "service-ips" && element == &elements[1] ? "service default/web:http" : "";
  };
  EXPECT_EQ(batch.describe(11, offset, owners),
            "element 10.96.0.11 . tcp . 81 in map service-ips (service default/web:http) with data goto b");
  // No offset (the set itself was refused): the message's elements.
  EXPECT_EQ(batch.describe(11, std::nullopt), "adding 3 elements in map service-ips (the first 10.96.0.10 . tcp . 80)");
  EXPECT_EQ(batch.describe(10, std::nullopt), "the transaction on table ip kubenat");
  EXPECT_EQ(batch.describe(99, std::nullopt), "message 99 (not of this batch)");
}

TEST(NftBatchDescribe, StatementAtTheKernelsOffset) {
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  const NftRule rule{{nft::Match{NftField::MetaL4proto, false, Protocol::Tcp}, nft::Vmap{kDestination, "service-ips"}},
                     "services"};
  ASSERT_TRUE(batch.add_rule("prerouting", rule, 2));
  const nlmsghdr* header = header_of(batch, 1);
  // Expressions: meta, cmp (statement 1), payload, meta, payload, lookup
  // (statement 2): the lookup is the sixth.
  const std::uint32_t offset = child_offset(header, NFTA_RULE_EXPRESSIONS, 5);
  EXPECT_EQ(batch.describe(2, offset),
            "statement `ip daddr . meta l4proto . th dport vmap @service-ips` of rule 3 of chain prerouting "
            "(meta l4proto tcp ip daddr . meta l4proto . th dport vmap @service-ips comment \"services\")");
  EXPECT_EQ(batch.describe(2, std::nullopt),
            "rule 3 of chain prerouting (meta l4proto tcp ip daddr . meta l4proto . th dport vmap @service-ips "
            "comment \"services\")");
}

TEST(NftBatchDescribe, TablesChainsAndSets) {
  NftBatch batch(IpFamily::V6, "kubenat", 1);
  batch.add_table();
  batch.add_chain(NftChain{"svc-web", std::nullopt, {}});
  batch.flush_chain("svc-web");
  batch.delete_chain("old");
  batch.add_set(NftSet{"affinity-web", {NftType::Ipv6Addr}, {}, false, std::uint32_t{10}, ""});
  batch.delete_set("old-set");
  const NftOwnerLookup owners = [](std::string_view object, const NftElement*) -> std::string {
    return object == "svc-web" ? "service default/web:http" : "";
  };
  EXPECT_EQ(batch.describe(2, std::nullopt), "adding table ip6 kubenat");
  EXPECT_EQ(batch.describe(3, std::nullopt, owners), "adding chain svc-web (service default/web:http)");
  EXPECT_EQ(batch.describe(4, std::nullopt, owners), "flushing chain svc-web (service default/web:http)");
  EXPECT_EQ(batch.describe(5, std::nullopt, owners), "deleting chain old");
  EXPECT_EQ(batch.describe(6, std::nullopt, owners), "adding set affinity-web");
  EXPECT_EQ(batch.describe(7, std::nullopt, owners), "deleting set old-set");
}

}  // namespace
}  // namespace kubenat
