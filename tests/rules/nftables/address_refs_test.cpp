// NftAddressRefs: the references to each endpoint address, in address
// order, read back as a std::map of them would, whatever the order the
// addresses come and go in.

#include "rules/nftables/address_refs.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace kubenat {
namespace {

IpAddress address(std::uint32_t n) {
  return IpAddress::v4(10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                       static_cast<std::uint8_t>(n));
}

// Odd n: an IPv6 address (fd00::<n>), even n: an IPv4 one.
IpAddress either_family(std::uint32_t n) {
  if (n % 2 == 0) return address(n);
  std::array<std::uint8_t, 16> bytes{0xfd};
  bytes[13] = static_cast<std::uint8_t>(n >> 16);
  bytes[14] = static_cast<std::uint8_t>(n >> 8);
  bytes[15] = static_cast<std::uint8_t>(n);
  return *IpAddress::from_bytes(bytes);
}

std::vector<NftAddressRefs::value_type> pairs_of(const NftAddressRefs& refs) {
  return std::vector<NftAddressRefs::value_type>(refs.begin(), refs.end());
}

std::vector<NftAddressRefs::value_type> pairs_of(const std::map<IpAddress, std::uint32_t>& refs) {
  return std::vector<NftAddressRefs::value_type>(refs.begin(), refs.end());
}

TEST(NftAddressRefs, AddReportsWhenAnAddressComesIntoAndGoesOutOfUse) {
  NftAddressRefs refs;
  EXPECT_EQ(refs.add(address(1), 1), 1);
  EXPECT_EQ(refs.add(address(1), 1), 0);
  EXPECT_EQ(refs.refs(address(1)), 2u);
  EXPECT_EQ(refs.add(address(1), -1), 0);
  EXPECT_EQ(refs.add(address(1), -1), -1);
  EXPECT_FALSE(refs.contains(address(1)));
  EXPECT_TRUE(refs.empty());
}

TEST(NftAddressRefs, ReadsAsAMapOfTheSameChangesInAnyOrder) {
  std::mt19937 random(15);
  for (const bool in_order : {true, false}) {
    NftAddressRefs refs;
    std::map<IpAddress, std::uint32_t> expected;
    for (std::uint32_t i = 0; i < 5000; ++i) {
      const IpAddress ip = address(in_order ? i : random() % 3000);
      refs.add(ip, 1);
      ++expected[ip];
    }
    for (std::uint32_t i = 0; i < 4000; ++i) {
      const IpAddress ip = address(random() % 5000);
      if (!expected.contains(ip)) continue;
      refs.add(ip, -1);
      if (--expected[ip] == 0) expected.erase(ip);
    }
    EXPECT_EQ(pairs_of(refs), pairs_of(expected));
    EXPECT_EQ(refs.size(), expected.size());
    for (std::uint32_t i = 0; i < 5000; ++i) {
      auto it = expected.find(address(i));
      EXPECT_EQ(refs.refs(address(i)), it == expected.end() ? 0u : it->second);
    }
  }
}

TEST(NftAddressRefs, EqualWhenTheyHoldTheSamePairsHoweverBuilt) {
  NftAddressRefs ascending, descending;
  for (std::uint32_t i = 0; i < 1000; ++i) ascending.set(address(i), 1);
  for (std::uint32_t i = 1000; i-- > 0;) descending.set(address(i), 1);
  EXPECT_EQ(ascending, descending);
  descending.set(address(500), 2);
  EXPECT_NE(ascending, descending);
  descending.set(address(500), 0);
  EXPECT_NE(ascending, descending);
  EXPECT_EQ(descending.size(), 999u);
}

TEST(NftAddressRefs, HoldsBothFamiliesInAddressOrderIpv4First) {
  std::mt19937 random(6);
  NftAddressRefs refs;
  std::map<IpAddress, std::uint32_t> expected;
  for (std::uint32_t i = 0; i < 3000; ++i) {
    const IpAddress ip = either_family(random() % 2000);
    refs.add(ip, 1);
    ++expected[ip];
  }
  for (std::uint32_t i = 0; i < 2000; ++i) {
    const IpAddress ip = either_family(random() % 2000);
    if (!expected.contains(ip)) continue;
    refs.add(ip, -1);
    if (--expected[ip] == 0) expected.erase(ip);
  }
  EXPECT_EQ(pairs_of(refs), pairs_of(expected));
  EXPECT_TRUE(pairs_of(refs).front().first.is_v4());
  EXPECT_FALSE(pairs_of(refs).back().first.is_v4());
  for (std::uint32_t i = 0; i < 2000; ++i) {
    auto it = expected.find(either_family(i));
    EXPECT_EQ(refs.refs(either_family(i)), it == expected.end() ? 0u : it->second);
  }
}

TEST(NftAddressRefs, IteratesOverIpv6AloneAndOverNothing) {
  NftAddressRefs refs;
  EXPECT_EQ(refs.begin(), refs.end());
  refs.set(either_family(3), 4);
  ASSERT_EQ(pairs_of(refs).size(), 1u);
  EXPECT_EQ(pairs_of(refs).front(), (NftAddressRefs::value_type{either_family(3), 4u}));
  refs.set(either_family(3), 0);
  EXPECT_EQ(refs.begin(), refs.end());
}

TEST(NftAddressRefs, Ipv4AddressesOrderByTheirBytesNotTheirHostNumber) {
  NftAddressRefs refs;
  refs.set(IpAddress::v4(10, 0, 0, 200), 1);
  refs.set(IpAddress::v4(10, 0, 1, 1), 1);
  refs.set(IpAddress::v4(9, 255, 255, 255), 1);
  const auto pairs = pairs_of(refs);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].first, IpAddress::v4(9, 255, 255, 255));
  EXPECT_EQ(pairs[1].first, IpAddress::v4(10, 0, 0, 200));
  EXPECT_EQ(pairs[2].first, IpAddress::v4(10, 0, 1, 1));
}

}  // namespace
}  // namespace kubenat
