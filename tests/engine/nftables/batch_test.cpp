// nf_tables batches built from the IR, without a kernel: each message is
// parsed back with libnftnl (as libnftnl's own tests do) and compared with
// what nft 1.0.6 sends for the same text. The expected set user data are the
// bytes nft wrote (captured from the kernel after `nft -f`, on x86-64: the
// u32s in user data are in host order). Also: batch framing and sequence
// numbers, how elements are spread over messages, and how the origin of a
// kernel error offset is found.

#include "engine/nftables/batch.h"

#include <arpa/inet.h>

#include <algorithm>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/nftables/nftnl_handles.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/nft_messages.h"

namespace kubenat {
namespace {

using namespace nft_messages;

using testing::cidr;
using testing::ip;

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

TEST(NftElements, AddressPairsAreTheBytesOfTheirElements) {
  const std::vector<IpAddress> addresses = {ip("10.0.1.5"), ip("10.0.1.6"), ip("10.0.2.7")};
  std::vector<NftElement> elements;
  NftAddressRefs refs;
  for (const IpAddress& address : addresses) {
    elements.push_back(NftElement{{address, address}, {}});
    refs.set(address, 1);
  }
  NftBatch as_elements(IpFamily::V4, "kubenat", 1);
  as_elements.add_elements("hairpin", nullptr, pointers(elements));
  as_elements.finish();
  NftBatch as_pairs(IpFamily::V4, "kubenat", 1);
  as_pairs.add_address_pairs("hairpin", nullptr, refs.begin(), refs.size());
  as_pairs.finish();
  EXPECT_TRUE(std::ranges::equal(as_pairs.bytes(), as_elements.bytes()));
  ASSERT_EQ(as_pairs.messages().size(), 3u);
  EXPECT_EQ(as_pairs.messages()[1].kind, NftMessageKind::AddElements);
  EXPECT_EQ(as_pairs.messages()[1].elements, 3u);
}

// --- Rules.

TEST(NftBatch, RuleThatCannotBeExpressedAddsNothing) {
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  const NftRule rule{{nft::Masquerade{}, nft::Match{NftField::IpDaddr, false, Protocol::Tcp}}, {}};
  auto added = batch.add_rule("c", rule, 4);
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().statement, 1u);
  EXPECT_EQ(batch.messages().size(), 1u);  // BATCH_BEGIN only
}

// --- Origins: what the kernel's (sequence number, offset) points at.

TEST(NftBatchOrigin, TheElementAtTheKernelsOffset) {
  const ServiceIpsBatch fixture;
  const std::vector<NftElement>& elements = fixture.elements;
  const NftBatch& batch = fixture.batch;
  const nlmsghdr* header = fixture.message();
  for (std::size_t i = 0; i < elements.size(); ++i) {
    // At the element's nest and a few bytes into it, as for its key.
    for (std::uint32_t into : {0u, 8u}) {
      auto origin = batch.origin(11, child_offset(header, NFTA_SET_ELEM_LIST_ELEMENTS, i) + into);
      ASSERT_TRUE(origin);
      EXPECT_EQ(origin->kind, NftMessageKind::AddElements);
      EXPECT_EQ(origin->object, "service-ips");
      EXPECT_TRUE(origin->map);
      EXPECT_EQ(origin->elements, 3u);
      EXPECT_EQ(origin->element, &elements[i]) << "element " << i << " + " << into;
      EXPECT_TRUE(origin->at_fault);
    }
  }
}

TEST(NftBatchOrigin, AnOffsetOutsideTheElementsNamesTheMessagesFirst) {
  const std::vector<NftElement> elements = {NftElement{{ip("10.96.0.10")}, {}}, NftElement{{ip("10.96.0.11")}, {}}};
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.add_elements("cluster-ips", nullptr, pointers(elements));
  for (std::optional<std::uint32_t> offset : {std::optional<std::uint32_t>(), std::optional<std::uint32_t>(20)}) {
    auto origin = batch.origin(2, offset);
    ASSERT_TRUE(origin);
    EXPECT_FALSE(origin->map);
    EXPECT_EQ(origin->element, &elements[0]);
    EXPECT_FALSE(origin->at_fault);
  }
}

TEST(NftBatchOrigin, AnAddressPairIsNamedAsItsElement) {
  const std::vector<IpAddress> addresses = {ip("10.0.1.5"), ip("10.0.1.6")};
  NftAddressRefs refs;
  for (const IpAddress& address : addresses) refs.set(address, 2);
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.add_address_pairs("hairpin", nullptr, refs.begin(), refs.size());
  const nlmsghdr* header = header_of(batch, 1);
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    auto origin = batch.origin(2, child_offset(header, NFTA_SET_ELEM_LIST_ELEMENTS, i) + 8);
    ASSERT_TRUE(origin);
    EXPECT_EQ(origin->object, "hairpin");
    EXPECT_FALSE(origin->map);
    ASSERT_NE(origin->element, nullptr);
    EXPECT_EQ(*origin->element, (NftElement{{addresses[i], addresses[i]}, {}})) << "element " << i;
    EXPECT_TRUE(origin->at_fault);
  }
  auto whole = batch.origin(2, std::nullopt);
  ASSERT_TRUE(whole);
  ASSERT_NE(whole->element, nullptr);
  EXPECT_EQ(*whole->element, (NftElement{{addresses[0], addresses[0]}, {}}));
  EXPECT_FALSE(whole->at_fault);
}

TEST(NftBatchOrigin, AnIpv6AddressPairIsReadBackFromItsMessage) {
  NftAddressRefs refs;
  refs.set(ip("fd00::1:5"), 1);
  refs.set(ip("fd00::1:6"), 1);
  NftBatch batch(IpFamily::V6, "kubenat", 1);
  batch.add_address_pairs("hairpin", nullptr, refs.begin(), refs.size());
  auto origin = batch.origin(2, child_offset(header_of(batch, 1), NFTA_SET_ELEM_LIST_ELEMENTS, 1) + 8);
  ASSERT_TRUE(origin);
  ASSERT_NE(origin->element, nullptr);
  EXPECT_EQ(*origin->element, (NftElement{{ip("fd00::1:6"), ip("fd00::1:6")}, {}}));
  EXPECT_TRUE(origin->at_fault);
}

TEST(NftElements, AddressPairsRunFromTheirFirstAddressForTheirCount) {
  NftAddressRefs refs;
  for (const char* address : {"10.0.1.5", "10.0.1.6", "10.0.2.7", "10.0.2.8"}) refs.set(ip(address), 1);
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  batch.add_address_pairs("hairpin", nullptr, std::next(refs.begin()), 2);
  const std::vector<NftElement> expected = {NftElement{{ip("10.0.1.6"), ip("10.0.1.6")}, {}},
                                            NftElement{{ip("10.0.2.7"), ip("10.0.2.7")}, {}}};
  NftBatch as_elements(IpFamily::V4, "kubenat", 1);
  as_elements.add_elements("hairpin", nullptr, pointers(expected));
  EXPECT_TRUE(std::ranges::equal(batch.bytes(), as_elements.bytes()));
}

TEST(NftBatchOrigin, TheStatementOfTheExpressionAtTheKernelsOffset) {
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  const NftRule rule{{nft::Match{NftField::MetaL4proto, false, Protocol::Tcp}, nft::Vmap{kDestination, "service-ips"}},
                     "services"};
  ASSERT_TRUE(batch.add_rule("prerouting", rule, 2));
  const nlmsghdr* header = header_of(batch, 1);
  // Expressions: meta, cmp (statement 0), payload, meta, payload, lookup
  // (statement 1).
  const std::size_t statement_of[] = {0, 0, 1, 1, 1, 1};
  for (std::size_t i = 0; i < 6; ++i) {
    auto origin = batch.origin(2, child_offset(header, NFTA_RULE_EXPRESSIONS, i) + 4);
    ASSERT_TRUE(origin);
    EXPECT_EQ(origin->kind, NftMessageKind::AddRule);
    EXPECT_EQ(origin->object, "prerouting");
    EXPECT_EQ(origin->rule, &rule);
    EXPECT_EQ(origin->position, 2u);
    EXPECT_EQ(origin->statement, statement_of[i]) << "expression " << i;
  }
  auto whole = batch.origin(2, std::nullopt);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->rule, &rule);
  EXPECT_FALSE(whole->statement);
}

TEST(NftBatchOrigin, NumbersOfOtherBatchesHaveNone) {
  NftBatch batch(IpFamily::V4, "kubenat", 5);
  batch.add_table();
  batch.finish();
  EXPECT_FALSE(batch.origin(4, std::nullopt));
  EXPECT_FALSE(batch.origin(8, std::nullopt));
  ASSERT_TRUE(batch.origin(6, std::nullopt));
  EXPECT_EQ(batch.origin(6, std::nullopt)->kind, NftMessageKind::AddTable);
}

}  // namespace
}  // namespace kubenat
