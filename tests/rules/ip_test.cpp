#include "rules/ip.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kubenat {
namespace {

// Parses strictly and prints back; "<invalid>" when parsing fails, so that a
// failed parse shows up in the assertion message.
std::string roundtrip(std::string_view text) {
  const auto address = IpAddress::parse(text);
  return address ? address->to_string() : "<invalid>";
}

std::string sloppy_roundtrip(std::string_view text) {
  const auto address = IpAddress::parse_sloppy(text);
  return address ? address->to_string() : "<invalid>";
}

IpAddress ip(std::string_view text) {
  const auto address = IpAddress::parse(text);
  EXPECT_TRUE(address) << text;
  return address.value_or(IpAddress{});
}

Cidr cidr(std::string_view text) {
  const auto parsed = Cidr::parse(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(Cidr{});
}

// ---- IPv4 parsing --------------------------------------------------------

TEST(IpAddress, ParsesDottedQuad) {
  const auto address = IpAddress::parse("192.168.1.254");
  ASSERT_TRUE(address);
  EXPECT_EQ(address->family(), IpFamily::V4);
  EXPECT_EQ(*address, IpAddress::v4(192, 168, 1, 254));
  EXPECT_EQ(address->to_string(), "192.168.1.254");
}

TEST(IpAddress, LinkLocalRangesAreGos) {
  for (const char* text : {"169.254.0.1", "169.254.255.255", "fe80::1", "febf::1"}) {
    EXPECT_TRUE(IpAddress::parse(text)->is_link_local_unicast()) << text;
  }
  for (const char* text : {"169.253.0.1", "10.0.0.1", "fec0::1", "fd00::1"}) {
    EXPECT_FALSE(IpAddress::parse(text)->is_link_local_unicast()) << text;
  }
  for (const char* text : {"224.0.0.5", "ff02::1", "ff12::2"}) {
    EXPECT_TRUE(IpAddress::parse(text)->is_link_local_multicast()) << text;
  }
  for (const char* text : {"224.0.1.1", "ff05::1", "10.0.0.1"}) {
    EXPECT_FALSE(IpAddress::parse(text)->is_link_local_multicast()) << text;
  }
}

TEST(IpAddress, ParsesIpv4Extremes) {
  EXPECT_EQ(roundtrip("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(roundtrip("255.255.255.255"), "255.255.255.255");
}

TEST(IpAddress, StrictParseRejectsLeadingZerosInOctets) {
  EXPECT_FALSE(IpAddress::parse("010.0.0.1"));
  EXPECT_FALSE(IpAddress::parse("10.0.0.01"));
  EXPECT_FALSE(IpAddress::parse("10.00.0.1"));
}

TEST(IpAddress, RejectsOctetAbove255) {
  EXPECT_FALSE(IpAddress::parse("256.1.1.1"));
  EXPECT_FALSE(IpAddress::parse("1.1.1.1000"));
  EXPECT_FALSE(IpAddress::parse_sloppy("256.1.1.1"));
}

TEST(IpAddress, RejectsWrongNumberOfOctets) {
  EXPECT_FALSE(IpAddress::parse("1.2.3"));
  EXPECT_FALSE(IpAddress::parse("1.2.3.4.5"));
  EXPECT_FALSE(IpAddress::parse("1"));
}

TEST(IpAddress, RejectsEmptyOctets) {
  EXPECT_FALSE(IpAddress::parse("1..3.4"));
  EXPECT_FALSE(IpAddress::parse(".1.2.3"));
  EXPECT_FALSE(IpAddress::parse("1.2.3."));
}

TEST(IpAddress, RejectsEmptyText) {
  EXPECT_FALSE(IpAddress::parse(""));
  EXPECT_FALSE(IpAddress::parse_sloppy(""));
}

TEST(IpAddress, RejectsCidrSuffix) {
  EXPECT_FALSE(IpAddress::parse("1.2.3.4/"));
  EXPECT_FALSE(IpAddress::parse("1.2.3.4/32"));
}

TEST(IpAddress, RejectsTrailingGarbage) {
  EXPECT_FALSE(IpAddress::parse("1.2.3.4x"));
  EXPECT_FALSE(IpAddress::parse("1.2.3.4:80"));
  EXPECT_FALSE(IpAddress::parse("::1x"));
  EXPECT_FALSE(IpAddress::parse("::1%eth0"));
}

TEST(IpAddress, RejectsSurroundingOrInnerSpaces) {
  EXPECT_FALSE(IpAddress::parse(" 1.2.3.4"));
  EXPECT_FALSE(IpAddress::parse("1.2.3.4 "));
  EXPECT_FALSE(IpAddress::parse("1.2. 3.4"));
  EXPECT_FALSE(IpAddress::parse(" ::1"));
}

TEST(IpAddress, RejectsSignsAndHexInIpv4) {
  EXPECT_FALSE(IpAddress::parse("+1.2.3.4"));
  EXPECT_FALSE(IpAddress::parse("1.-2.3.4"));
  EXPECT_FALSE(IpAddress::parse("0x1.2.3.4"));
  EXPECT_FALSE(IpAddress::parse("a.b.c.d"));
}

TEST(IpAddress, RejectsTextWithoutSeparators) {
  EXPECT_FALSE(IpAddress::parse("localhost"));
  EXPECT_FALSE(IpAddress::parse("16909060"));
}

// ---- Sloppy parsing ------------------------------------------------------

TEST(IpAddress, SloppyParseReadsLeadingZerosAsDecimal) {
  EXPECT_EQ(sloppy_roundtrip("010.0.0.01"), "10.0.0.1");
  EXPECT_EQ(sloppy_roundtrip("172.30.0.041"), "172.30.0.41");
  EXPECT_EQ(sloppy_roundtrip("10.180.00.001"), "10.180.0.1");
}

TEST(IpAddress, SloppyParseAcceptsManyLeadingZeros) {
  EXPECT_EQ(sloppy_roundtrip("0000000255.0.0.1"), "255.0.0.1");
}

TEST(IpAddress, SloppyParseAcceptsWhatStrictParseAccepts) {
  EXPECT_EQ(sloppy_roundtrip("192.168.1.254"), "192.168.1.254");
  EXPECT_EQ(sloppy_roundtrip("2001:db8::1"), "2001:db8::1");
}

TEST(IpAddress, SloppyParseReadsLeadingZerosInAnIpv6EmbeddedIpv4Tail) {
  EXPECT_EQ(sloppy_roundtrip("::ffff:010.0.0.01"), "10.0.0.1");
  EXPECT_EQ(sloppy_roundtrip("64:ff9b::010.0.0.1"), "64:ff9b::a00:1");
  EXPECT_FALSE(IpAddress::parse("::ffff:010.0.0.01"));
}

TEST(IpAddress, SloppyParseStillRejectsGarbage) {
  EXPECT_FALSE(IpAddress::parse_sloppy("1.2.3"));
  EXPECT_FALSE(IpAddress::parse_sloppy("1.2.3.4.5"));
  EXPECT_FALSE(IpAddress::parse_sloppy("1.2.3.4 "));
  EXPECT_FALSE(IpAddress::parse_sloppy("0256.1.1.1"));
}

// ---- IPv6 parsing and formatting -----------------------------------------

TEST(IpAddress, ParsesFullIpv6) {
  const auto address = IpAddress::parse("2001:0db8:0000:0000:0000:ff00:0042:8329");
  ASSERT_TRUE(address);
  EXPECT_EQ(address->family(), IpFamily::V6);
  EXPECT_EQ(address->to_string(), "2001:db8::ff00:42:8329");
}

TEST(IpAddress, FormatsUnspecifiedIpv6AsDoubleColon) {
  EXPECT_EQ(roundtrip("::"), "::");
  EXPECT_EQ(roundtrip("0:0:0:0:0:0:0:0"), "::");
}

TEST(IpAddress, FormatsIpv6Loopback) {
  EXPECT_EQ(roundtrip("::1"), "::1");
  EXPECT_EQ(roundtrip("0:0:0:0:0:0:0:1"), "::1");
}

TEST(IpAddress, CompressesTrailingZeroRun) {
  EXPECT_EQ(roundtrip("2001:db8::"), "2001:db8::");
  EXPECT_EQ(roundtrip("1::"), "1::");
  EXPECT_EQ(roundtrip("1:0:0:0:0:0:0:0"), "1::");
}

TEST(IpAddress, CompressesTheLongestZeroRun) {
  EXPECT_EQ(roundtrip("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  EXPECT_EQ(roundtrip("1:0:0:0:2:0:0:3"), "1::2:0:0:3");
}

TEST(IpAddress, CompressesTheFirstOfEquallyLongZeroRuns) {
  EXPECT_EQ(roundtrip("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");
  EXPECT_EQ(roundtrip("0:0:1:2:3:4:0:0"), "::1:2:3:4:0:0");
}

TEST(IpAddress, DoesNotCompressASingleZeroGroup) {
  EXPECT_EQ(roundtrip("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
  EXPECT_EQ(roundtrip("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(roundtrip("::1:2:3:4:5:6:7"), "0:1:2:3:4:5:6:7");
}

TEST(IpAddress, FormatsIpv6WithoutZeros) {
  EXPECT_EQ(roundtrip("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
}

TEST(IpAddress, DropsLeadingZerosInIpv6Groups) {
  EXPECT_EQ(roundtrip("2001:0db8:000a::0001"), "2001:db8:a::1");
}

TEST(IpAddress, AcceptsUpperCaseHexAndPrintsLowerCase) {
  EXPECT_EQ(roundtrip("2001:DB8::ABCD:Ef01"), "2001:db8::abcd:ef01");
}

TEST(IpAddress, ParsesEllipsisInTheMiddle) {
  EXPECT_EQ(ip("fe80::1:2").bytes(),
            (std::array<std::uint8_t, 16>{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2}));
}

TEST(IpAddress, PrintsEmbeddedIpv4OfANonMappedAddressAsHex) {
  EXPECT_EQ(roundtrip("64:ff9b::192.0.2.33"), "64:ff9b::c000:221");
  EXPECT_EQ(roundtrip("::1.2.3.4"), "::102:304");
  EXPECT_EQ(roundtrip("1:2:3:4:5:6:1.2.3.4"), "1:2:3:4:5:6:102:304");
}

TEST(IpAddress, TreatsIpv4MappedIpv6AsIpv4) {
  const auto address = IpAddress::parse("::ffff:1.2.3.4");
  ASSERT_TRUE(address);
  EXPECT_EQ(address->family(), IpFamily::V4);
  EXPECT_EQ(*address, IpAddress::v4(1, 2, 3, 4));
  EXPECT_EQ(address->to_string(), "1.2.3.4");
}

TEST(IpAddress, TreatsHexIpv4MappedIpv6AsIpv4) {
  EXPECT_EQ(roundtrip("::FFFF:0102:0304"), "1.2.3.4");
  EXPECT_EQ(roundtrip("0:0:0:0:0:ffff:a00:1"), "10.0.0.1");
}

TEST(IpAddress, RejectsTripleColon) { EXPECT_FALSE(IpAddress::parse(":::")); }

TEST(IpAddress, RejectsTwoEllipses) {
  EXPECT_FALSE(IpAddress::parse("1::2::3"));
  EXPECT_FALSE(IpAddress::parse("::1::"));
}

TEST(IpAddress, RejectsGroupsLongerThanFourHexDigits) {
  EXPECT_FALSE(IpAddress::parse("12345::"));
  EXPECT_FALSE(IpAddress::parse("::00001"));
}

TEST(IpAddress, RejectsTooManyOrTooFewGroups) {
  EXPECT_FALSE(IpAddress::parse("1:2:3:4:5:6:7:8:9"));
  EXPECT_FALSE(IpAddress::parse("1:2:3:4:5:6:7"));
}

TEST(IpAddress, RejectsEllipsisThatStandsForNoGroup) {
  EXPECT_FALSE(IpAddress::parse("1:2:3:4::5:6:7:8"));
  EXPECT_FALSE(IpAddress::parse("1:2:3:4:5:6:7:8::"));
  EXPECT_FALSE(IpAddress::parse("::1:2:3:4:5:6:7:8"));
}

TEST(IpAddress, RejectsSingleLeadingOrTrailingColon) {
  EXPECT_FALSE(IpAddress::parse(":1::"));
  EXPECT_FALSE(IpAddress::parse("1::2:"));
  EXPECT_FALSE(IpAddress::parse(":"));
  EXPECT_FALSE(IpAddress::parse("1:"));
}

TEST(IpAddress, RejectsNonHexDigitsInIpv6) {
  EXPECT_FALSE(IpAddress::parse("2001:db8::g"));
  EXPECT_FALSE(IpAddress::parse("2001:db8::-1"));
}

TEST(IpAddress, RejectsMisplacedEmbeddedIpv4) {
  EXPECT_FALSE(IpAddress::parse("1.2.3.4::"));
  EXPECT_FALSE(IpAddress::parse("::1.2.3.4:5"));
  EXPECT_FALSE(IpAddress::parse("1:2:3:4:5:1.2.3.4"));
  EXPECT_FALSE(IpAddress::parse("1:2:3:4:5:6:7:1.2.3.4"));
  EXPECT_FALSE(IpAddress::parse("::ffff:1.2.3"));
  EXPECT_FALSE(IpAddress::parse("::ffff:256.2.3.4"));
}

TEST(IpAddress, RejectsBracketsAndZones) {
  EXPECT_FALSE(IpAddress::parse("[::1]"));
  EXPECT_FALSE(IpAddress::parse("fe80::1%eth0"));
}

// ---- Properties and factories --------------------------------------------

TEST(IpAddress, DefaultIsIpv4Unspecified) {
  EXPECT_EQ(IpAddress{}, IpAddress::v4(0, 0, 0, 0));
  EXPECT_EQ(IpAddress{}.to_string(), "0.0.0.0");
}

TEST(IpAddress, V4FactoryBuildsAnIpv4Address) {
  const IpAddress address = IpAddress::v4(10, 96, 0, 1);
  EXPECT_TRUE(address.is_v4());
  EXPECT_EQ(address.byte_length(), 4u);
  EXPECT_EQ(address.to_string(), "10.96.0.1");
  EXPECT_EQ(address, ip("10.96.0.1"));
}

TEST(IpAddress, FromBytesTakesFourOrSixteenBytes) {
  const std::array<std::uint8_t, 4> v4{192, 0, 2, 1};
  EXPECT_EQ(IpAddress::from_bytes(v4), IpAddress::v4(192, 0, 2, 1));
  const auto v6 = ip("2001:db8::1");
  EXPECT_EQ(IpAddress::from_bytes(v6.bytes()), v6);
  EXPECT_FALSE(IpAddress::from_bytes(std::span(v6.bytes()).first(5)));
}

TEST(IpAddress, FromBytesTreatsIpv4MappedBytesAsIpv4) {
  const std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
  EXPECT_EQ(IpAddress::from_bytes(mapped), IpAddress::v4(1, 2, 3, 4));
}

TEST(IpAddress, V4BytesAreInNetworkOrder) {
  const IpAddress address = ip("1.2.3.4");
  EXPECT_EQ(address.bytes()[0], 1);
  EXPECT_EQ(address.bytes()[3], 4);
}

TEST(IpAddress, ReportsLoopback) {
  EXPECT_TRUE(ip("127.0.0.1").is_loopback());
  EXPECT_TRUE(ip("127.255.0.9").is_loopback());
  EXPECT_TRUE(ip("::1").is_loopback());
  EXPECT_TRUE(ip("::ffff:127.0.0.1").is_loopback());
  EXPECT_FALSE(ip("128.0.0.1").is_loopback());
  EXPECT_FALSE(ip("::2").is_loopback());
  EXPECT_FALSE(ip("1::1").is_loopback());
  EXPECT_FALSE(ip("::").is_loopback());
}

TEST(IpAddress, ReportsUnspecified) {
  EXPECT_TRUE(ip("0.0.0.0").is_unspecified());
  EXPECT_TRUE(ip("::").is_unspecified());
  EXPECT_FALSE(ip("0.0.0.1").is_unspecified());
  EXPECT_FALSE(ip("::1").is_unspecified());
}

TEST(IpAddress, OrdersIpv4BeforeIpv6AndByBytesWithinAFamily) {
  EXPECT_LT(ip("255.255.255.255"), ip("::"));
  EXPECT_LT(ip("10.0.0.2"), ip("10.0.0.10"));
}

TEST(IpFamilyName, SpellsFamiliesAsKubernetes) {
  EXPECT_EQ(ip_family_name(IpFamily::V4), "IPv4");
  EXPECT_EQ(ip_family_name(IpFamily::V6), "IPv6");
}

// ---- Cidr ----------------------------------------------------------------

TEST(Cidr, ParsesIpv4Prefix) {
  const Cidr c = cidr("10.244.0.0/16");
  EXPECT_EQ(c.family(), IpFamily::V4);
  EXPECT_EQ(c.network(), IpAddress::v4(10, 244, 0, 0));
  EXPECT_EQ(c.prefix_length(), 16);
  EXPECT_EQ(c.to_string(), "10.244.0.0/16");
}

TEST(Cidr, ParsesIpv6Prefix) {
  const Cidr c = cidr("fd00:10:244::/56");
  EXPECT_EQ(c.family(), IpFamily::V6);
  EXPECT_EQ(c.prefix_length(), 56);
  EXPECT_EQ(c.to_string(), "fd00:10:244::/56");
}

TEST(Cidr, ClearsHostBitsWhenParsing) {
  EXPECT_EQ(cidr("203.0.113.7/25").to_string(), "203.0.113.0/25");
  EXPECT_EQ(cidr("203.0.113.200/25").to_string(), "203.0.113.128/25");
  EXPECT_EQ(cidr("2001:db8::ffff/112").to_string(), "2001:db8::/112");
  EXPECT_EQ(cidr("2001:db8:1234::/30").to_string(), "2001:db8::/30");
}

TEST(Cidr, EqualsRegardlessOfHostBits) {
  EXPECT_EQ(cidr("203.0.113.7/25"), cidr("203.0.113.0/25"));
}

TEST(Cidr, ConstructorClearsHostBits) {
  const Cidr c(IpAddress::v4(192, 168, 37, 201), 20);
  EXPECT_EQ(c.network(), IpAddress::v4(192, 168, 32, 0));
  EXPECT_EQ(c.to_string(), "192.168.32.0/20");
  EXPECT_EQ(Cidr(ip("2001:db8::1"), 64).to_string(), "2001:db8::/64");
}

TEST(Cidr, ConstructorClampsOutOfRangePrefixLength) {
  EXPECT_EQ(Cidr(IpAddress::v4(1, 2, 3, 4), 40).prefix_length(), 32);
  EXPECT_EQ(Cidr(IpAddress::v4(1, 2, 3, 4), -1).to_string(), "0.0.0.0/0");
}

TEST(Cidr, AcceptsZeroAndFullPrefixLengths) {
  EXPECT_EQ(cidr("1.2.3.4/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(cidr("1.2.3.4/32").to_string(), "1.2.3.4/32");
  EXPECT_EQ(cidr("::1/0").to_string(), "::/0");
  EXPECT_EQ(cidr("::1/128").to_string(), "::1/128");
}

TEST(Cidr, AcceptsLeadingZerosInPrefixLengthAsGoDoes) {
  EXPECT_EQ(cidr("10.0.0.0/08").to_string(), "10.0.0.0/8");
}

TEST(Cidr, RejectsPrefixLengthBeyondTheFamily) {
  EXPECT_FALSE(Cidr::parse("1.2.3.4/33"));
  EXPECT_FALSE(Cidr::parse("::/129"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/99999999999999999999"));
}

TEST(Cidr, RejectsMissingSlash) {
  EXPECT_FALSE(Cidr::parse("1.2.3.4"));
  EXPECT_FALSE(Cidr::parse("::1"));
}

TEST(Cidr, RejectsEmptyOrSignedOrGarbagePrefixLength) {
  EXPECT_FALSE(Cidr::parse("1.2.3.4/"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/+8"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/-8"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/8x"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/8 "));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/ 8"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/8/8"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/0x8"));
}

TEST(Cidr, RejectsInvalidAddress) {
  EXPECT_FALSE(Cidr::parse("/8"));
  EXPECT_FALSE(Cidr::parse("1.2.3/8"));
  EXPECT_FALSE(Cidr::parse("010.0.0.0/8"));
}

TEST(Cidr, SloppyParseReadsLeadingZerosAsDecimal) {
  const auto c = Cidr::parse_sloppy("203.0.113.000/025");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "203.0.113.0/25");
  EXPECT_EQ(Cidr::parse_sloppy("010.0.0.0/8")->to_string(), "10.0.0.0/8");
}

TEST(Cidr, TreatsLongIpv4MappedPrefixAsIpv4) {
  const Cidr c = cidr("::ffff:10.1.2.3/120");
  EXPECT_EQ(c.family(), IpFamily::V4);
  EXPECT_EQ(c.to_string(), "10.1.2.0/24");
}

TEST(Cidr, KeepsShortIpv4MappedPrefixAsIpv6) {
  const Cidr c = cidr("::ffff:10.1.2.3/64");
  EXPECT_EQ(c.family(), IpFamily::V6);
  EXPECT_EQ(c.to_string(), "::/64");
}

TEST(Cidr, ContainsAddressesInsideThePrefix) {
  const Cidr c = cidr("10.96.0.0/12");
  EXPECT_TRUE(c.contains(ip("10.96.0.0")));
  EXPECT_TRUE(c.contains(ip("10.100.7.9")));
  EXPECT_TRUE(c.contains(ip("10.111.255.255")));
  EXPECT_FALSE(c.contains(ip("10.112.0.0")));
  EXPECT_FALSE(c.contains(ip("10.95.255.255")));
}

TEST(Cidr, ContainsIpv6AddressesInsideThePrefix) {
  const Cidr c = cidr("fd00:10:96::/108");
  EXPECT_TRUE(c.contains(ip("fd00:10:96::a")));
  EXPECT_TRUE(c.contains(ip("fd00:10:96::f:ffff")));
  EXPECT_FALSE(c.contains(ip("fd00:10:96::10:0")));
}

TEST(Cidr, ZeroLengthPrefixContainsEveryAddressOfItsFamily) {
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
  EXPECT_TRUE(cidr("::/0").contains(ip("2001:db8::1")));
}

TEST(Cidr, NeverContainsAnAddressOfTheOtherFamily) {
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(ip("::")));
  EXPECT_FALSE(cidr("::/0").contains(ip("0.0.0.0")));
}

TEST(Cidr, ContainsIpv4MappedAddressesInAnIpv4Prefix) {
  EXPECT_TRUE(cidr("1.2.3.0/24").contains(ip("::ffff:1.2.3.4")));
}

// ---- join_host_port ------------------------------------------------------

TEST(JoinHostPort, WritesIpv4AndPort) {
  EXPECT_EQ(join_host_port(ip("1.2.3.4"), 80), "1.2.3.4:80");
}

TEST(JoinHostPort, BracketsIpv6) {
  EXPECT_EQ(join_host_port(ip("2001:db8::1"), 80), "[2001:db8::1]:80");
}

TEST(JoinHostPort, WritesTheNormalisedAddress) {
  EXPECT_EQ(join_host_port(*IpAddress::parse_sloppy("010.180.0.01"), 8080), "10.180.0.1:8080");
  EXPECT_EQ(join_host_port(ip("::ffff:10.0.0.1"), 53), "10.0.0.1:53");
}

}  // namespace
}  // namespace kubenat
