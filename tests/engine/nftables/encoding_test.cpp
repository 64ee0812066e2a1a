// nf_tables' encoding of the IR's values, as nft 1.0.6 computes it:
// register numbering, concatenated type ids, key lengths, key packing.

#include "engine/nftables/encoding.h"

#include <arpa/inet.h>

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

using testing::ip;

using namespace nft_encoding;
// --- Numbers nft computes.

TEST(NftEncoding, RegistersAre32BitAndNamedAsNftNamesThem) {
  EXPECT_EQ(register_number(0), static_cast<std::uint32_t>(NFT_REG_1));
  EXPECT_EQ(register_number(1), static_cast<std::uint32_t>(NFT_REG32_01));
  EXPECT_EQ(register_number(3), static_cast<std::uint32_t>(NFT_REG32_03));
  EXPECT_EQ(register_number(4), static_cast<std::uint32_t>(NFT_REG_2));
  EXPECT_EQ(register_number(5), static_cast<std::uint32_t>(NFT_REG32_05));
  EXPECT_EQ(register_number(12), static_cast<std::uint32_t>(NFT_REG_4));
  EXPECT_EQ(register_number(15), static_cast<std::uint32_t>(NFT_REG32_15));
}

TEST(NftEncoding, ConcatenatedTypeIdsAndKeyLengths) {
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

TEST(NftEncoding, ValuesPackedFieldByFieldInNetworkOrderPaddedTo4) {
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

TEST(NftEncoding, PackedValuesUnpackToThemselves) {
  using T = NftType;
  const std::vector<NftValue> key = {ip("10.2.0.9"), ip("10.96.0.10"), Protocol::Udp, std::uint16_t{53}};
  EXPECT_EQ(unpack_values({T::Ipv4Addr, T::Ipv4Addr, T::InetProto, T::InetService}, pack_values(key)), key);
  const std::vector<NftValue> lone = {ip("fd00::1")};
  EXPECT_EQ(unpack_values({T::Ipv6Addr}, pack_values(lone)), lone);
  const std::vector<NftValue> indexed = {Protocol::Sctp, std::uint16_t{30080}, std::uint32_t{7}};
  EXPECT_EQ(unpack_values({T::InetProto, T::InetService, T::Mark}, pack_values(indexed)), indexed);
}

TEST(NftEncoding, BytesOfAnotherLengthOrAnUnknownProtocolDoNotUnpack) {
  using T = NftType;
  const std::vector<std::byte> packed = pack_values({ip("10.2.0.9"), std::uint16_t{53}});
  EXPECT_FALSE(unpack_values({T::Ipv4Addr}, packed));
  EXPECT_FALSE(unpack_values({T::Ipv4Addr, T::InetService, T::InetService}, packed));
  EXPECT_FALSE(unpack_values({T::InetProto}, std::vector<std::byte>{std::byte{1}}));
}

}  // namespace
}  // namespace kubenat
