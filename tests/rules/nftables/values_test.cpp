// NftValues: the packed key or data of a set element reads back as the
// values it was given, and compares and orders as std::vector<NftValue>
// does, so plans sorted by it come out the same.

#include "rules/nftables/values.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace kubenat {
namespace {

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }
Cidr cidr(const std::string& text) { return *Cidr::parse(text); }

const std::vector<NftValue> kEveryKind = {ip("10.96.0.1"),
                                          ip("fd00::1"),
                                          cidr("10.0.0.0/8"),
                                          cidr("fd00::/64"),
                                          Protocol::Sctp,
                                          std::uint16_t{65535},
                                          std::uint32_t{0x01020304},
                                          NftVerdict{NftVerdict::Kind::Goto, "external-cluster"},
                                          NftVerdict{NftVerdict::Kind::Drop, ""}};

TEST(NftValues, ReadsBackEveryKindOfValue) {
  const NftValues values(kEveryKind);
  EXPECT_EQ(values.size(), kEveryKind.size());
  EXPECT_EQ(std::vector<NftValue>(values), kEveryKind);
  for (std::size_t i = 0; i < kEveryKind.size(); ++i) EXPECT_EQ(values[i], kEveryKind[i]) << i;
}

TEST(NftValues, GrowsByPushBackAsAVectorWould) {
  NftValues values{ip("10.0.0.1"), Protocol::Tcp};
  values.emplace_back(std::uint32_t{7});
  EXPECT_EQ(std::vector<NftValue>(values), (std::vector<NftValue>{ip("10.0.0.1"), Protocol::Tcp, std::uint32_t{7}}));
}

TEST(NftValues, IsEmptyWithNoValues) {
  EXPECT_TRUE(NftValues().empty());
  EXPECT_EQ(NftValues().size(), 0u);
  EXPECT_FALSE(NftValues{Protocol::Udp}.empty());
}

TEST(NftValues, OrdersAsAVectorOfValuesOrders) {
  const std::vector<std::vector<NftValue>> lists = {
      {},
      {ip("10.0.0.2")},
      {ip("10.0.0.10"), Protocol::Tcp, std::uint16_t{80}},
      {ip("10.0.0.10"), Protocol::Tcp, std::uint16_t{443}},
      {ip("10.0.0.10"), Protocol::Udp, std::uint16_t{53}, std::uint32_t{0}},
      {ip("10.0.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
      {ip("fd00::1")},
      {cidr("10.0.0.0/8")},
      {cidr("10.0.0.0/16")},
      {Protocol::Tcp, std::uint16_t{30000}},
      {std::uint16_t{256}},
      {std::uint16_t{1}},
      {std::uint32_t{256}},
      {std::uint32_t{1}},
      {NftVerdict{NftVerdict::Kind::Jump, "b"}},
      {NftVerdict{NftVerdict::Kind::Jump, "ab"}},
  };
  for (const auto& a : lists) {
    for (const auto& b : lists) {
      EXPECT_EQ(NftValues(a) <=> NftValues(b), a <=> b);
      EXPECT_EQ(NftValues(a) == NftValues(b), a == b);
    }
  }
}

}  // namespace
}  // namespace kubenat
