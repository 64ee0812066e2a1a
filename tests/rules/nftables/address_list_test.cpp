// NftAddressList: a port's endpoint addresses, packed, read back as the
// list they were made from.

#include "rules/nftables/address_list.h"

#include <gtest/gtest.h>

#include <vector>

namespace kubenat {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

std::vector<IpAddress> read_back(const NftAddressList& list) { return {list.begin(), list.end()}; }

TEST(NftAddressList, ReadsBackTheAddressesInTheOrderGiven) {
  const std::vector<IpAddress> addresses = {ip("10.0.0.2"), ip("10.0.0.1"), ip("192.168.7.250")};
  const NftAddressList list(addresses);
  EXPECT_EQ(read_back(list), addresses);
  EXPECT_EQ(list.size(), 3u);
  EXPECT_FALSE(list.empty());
}

TEST(NftAddressList, HoldsIpv6AddressesAndMixedFamilies) {
  const std::vector<IpAddress> addresses = {ip("fd00::1"), ip("10.1.2.3"), ip("fd00:1:2:3:4:5:6:7")};
  EXPECT_EQ(read_back(NftAddressList(addresses)), addresses);
}

TEST(NftAddressList, EmptyByDefaultAndFromNoAddresses) {
  EXPECT_TRUE(NftAddressList().empty());
  EXPECT_EQ(NftAddressList().begin(), NftAddressList().end());
  EXPECT_EQ(NftAddressList(std::vector<IpAddress>{}), NftAddressList());
}

TEST(NftAddressList, EqualExactlyWhenTheListsAre) {
  const NftAddressList a(std::vector<IpAddress>{ip("10.0.0.1"), ip("10.0.0.2")});
  EXPECT_EQ(a, NftAddressList(std::vector<IpAddress>{ip("10.0.0.1"), ip("10.0.0.2")}));
  EXPECT_NE(a, NftAddressList(std::vector<IpAddress>{ip("10.0.0.2"), ip("10.0.0.1")}));
  EXPECT_NE(a, NftAddressList(std::vector<IpAddress>{ip("10.0.0.1")}));
}

}  // namespace
}  // namespace kubenat
