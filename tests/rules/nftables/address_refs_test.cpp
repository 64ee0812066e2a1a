// NftAddressRefs: the references to each endpoint address, in address
// order, read back as a std::map of them would, whatever the order the
// addresses come and go in.

#include "rules/nftables/address_refs.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace kubenat
