// Rule statements as nf_tables expressions, compared with what nft 1.0.6
// emits for the same text (its `--debug=netlink` output).

#include "engine/nftables/expressions.h"

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

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace nft_messages;

using testing::cidr;
using testing::ip;


std::vector<std::string> expressions_of(NftStatement statement, IpFamily family = IpFamily::V4,
                                        const NftSetLookup& sets = {}) {
  const NftRule rule{{std::move(statement)}, {}};
  auto built = rule_expressions(rule, family, sets);
  EXPECT_TRUE(built) << (built ? "" : built.error().reason);
  if (!built) return {};
  auto assembled = nftnl::make_rule();
  for (NftExpression& expression : *built) nftnl_rule_add_expr(assembled.get(), expression.expression.release());
  return expressions(assembled.get());
}

// --- Rules: the expressions nft 1.0.6 emits for each statement.

TEST(NftRules, ConcatenatedVmapUsesConsecutive32BitRegisters) {
  EXPECT_THAT(expressions_of(nft::Vmap{kDestination, "service-ips"}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]",
                          "[ lookup reg 1 set service-ips dreg 0 ]"));
}

TEST(NftRules, DnatThroughANumgenIndexedMap) {
  EXPECT_THAT(expressions_of(nft::DnatMap{kDestination, 3, "cluster-endpoints"}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]",
                          "[ numgen reg 11 = random mod 3 ]", "[ lookup reg 1 set cluster-endpoints dreg 1 ]",
                          "[ nat dnat ip addr_min reg 1 proto_min reg 9 ]"));
  // ip6: the address fills four registers, the port follows in NFT_REG_2.
  EXPECT_THAT(expressions_of(nft::DnatMap{kDestination, 2, "ce"}, IpFamily::V6),
              ElementsAre("[ payload load 16b @ network header + 24 => reg 1 ]", "[ meta load l4proto => reg 2 ]",
                          "[ payload load 2b @ transport header + 2 => reg 13 ]",
                          "[ numgen reg 14 = random mod 2 ]", "[ lookup reg 1 set ce dreg 1 ]",
                          "[ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]"));
  // A map known to hold addresses only: no port register.
  const NftSet addresses{"a", {NftType::Ipv4Addr}, {NftType::Ipv4Addr}, false, std::nullopt, ""};
  EXPECT_THAT(expressions_of(nft::DnatMap{{NftField::IpDaddr}, 0, "a"}, IpFamily::V4,
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

  EXPECT_THAT(expressions_of(nft::FibLocal{true, true}),
              ElementsAre("[ fib saddr type => reg 1 ]", "[ cmp neq reg 1 0x00000002 ]"));
  EXPECT_THAT(expressions_of(nft::MarkTest{0x4000, true}),
              ElementsAre("[ meta load mark => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0x00004000 ) ^ 0x00000000 ]",
                          "[ cmp neq reg 1 0x00000000 ]"));
}

TEST(NftRules, InputInterfaceNamesAsNftEmitsThem) {
  // Exact: the name NUL-padded to IFNAMSIZ; a prefix: its bytes alone.
  EXPECT_THAT(
      expressions_of(nft::IifName{"cbr0", false, false}),
      ElementsAre("[ meta load iifname => reg 1 ]", "[ cmp eq reg 1 0x30726263 0x00000000 0x00000000 0x00000000 ]"));
  EXPECT_THAT(
      expressions_of(nft::IifName{"cbr0", false, true}),
      ElementsAre("[ meta load iifname => reg 1 ]", "[ cmp neq reg 1 0x30726263 0x00000000 0x00000000 0x00000000 ]"));
  EXPECT_THAT(expressions_of(nft::IifName{"veth", true, false}),
              ElementsAre("[ meta load iifname => reg 1 ]", "[ cmp eq reg 1 0x68746576 ]"));
  EXPECT_THAT(expressions_of(nft::IifName{"tap", true, true}),
              ElementsAre("[ meta load iifname => reg 1 ]", "[ cmp neq reg 1 0x00706174 ]"));
  const NftRule too_long{{nft::IifName{"a-name-too-long-0", false, false}}, {}};
  EXPECT_FALSE(rule_expressions(too_long, IpFamily::V4, {}));
}

TEST(NftRules, MarkSetThroughBitwise) {
  EXPECT_THAT(expressions_of(nft::MarkOr{0x4000}),
              ElementsAre("[ meta load mark => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0xffffbfff ) ^ 0x00004000 ]",
                          "[ meta set mark with reg 1 ]"));
  EXPECT_THAT(expressions_of(nft::MarkXor{0x4000}),
              ElementsAre("[ meta load mark => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0xffffffff ) ^ 0x00004000 ]",
                          "[ meta set mark with reg 1 ]"));
}

TEST(NftRules, MatchesAndPrefixes) {
  using F = NftField;
  EXPECT_THAT(expressions_of(nft::Match{F::IpDaddr, false, ip("10.1.1.1")}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ cmp eq reg 1 0x0101010a ]"));
  // A prefix ending on a byte loads only its bytes; others are masked.
  EXPECT_THAT(expressions_of(nft::Match{F::IpSaddr, true, cidr("10.0.0.0/8")}),
              ElementsAre("[ payload load 1b @ network header + 12 => reg 1 ]", "[ cmp neq reg 1 0x0000000a ]"));
  EXPECT_THAT(expressions_of(nft::Match{F::IpDaddr, true, cidr("10.1.1.0/24")}),
              ElementsAre("[ payload load 3b @ network header + 16 => reg 1 ]", "[ cmp neq reg 1 0x0001010a ]"));
  EXPECT_THAT(expressions_of(nft::Match{F::IpSaddr, false, cidr("10.16.0.0/12")}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0x0000f0ff ) ^ 0x00000000 ]", "[ cmp eq reg 1 0x0000100a ]"));
  EXPECT_THAT(expressions_of(nft::Match{F::IpSaddr, false, cidr("0.0.0.0/0")}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0x00000000 ) ^ 0x00000000 ]", "[ cmp eq reg 1 0x00000000 ]"));
  EXPECT_THAT(expressions_of(nft::Match{F::MetaL4proto, false, Protocol::Udp}),
              ElementsAre("[ meta load l4proto => reg 1 ]", "[ cmp eq reg 1 0x00000011 ]"));
  EXPECT_THAT(expressions_of(nft::Match{F::ThDport, false, std::uint16_t{53}}),
              ElementsAre("[ payload load 2b @ transport header + 2 => reg 1 ]", "[ cmp eq reg 1 0x00003500 ]"));
  EXPECT_THAT(expressions_of(nft::Match{F::IpSaddr, false, cidr("2001:db8::/33")}, IpFamily::V6),
              ElementsAre("[ payload load 16b @ network header + 8 => reg 1 ]",
                          "[ bitwise reg 1 = ( reg 1 & 0xffffffff 0x00000080 0x00000000 0x00000000 ) ^ 0x00000000 "
                          "0x00000000 0x00000000 0x00000000 ]",
                          "[ cmp eq reg 1 0xb80d0120 0x00000000 0x00000000 0x00000000 ]"));
  EXPECT_THAT(expressions_of(nft::Match{F::IpDaddr, false, cidr("2001:db8::/64")}, IpFamily::V6),
              ElementsAre("[ payload load 8b @ network header + 24 => reg 1 ]",
                          "[ cmp eq reg 1 0xb80d0120 0x00000000 ]"));
}

TEST(NftRules, SetLookups) {
  EXPECT_THAT(expressions_of(nft::InSet{kDestination, "noep", true}),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]", "[ lookup reg 1 set noep 0x1 ]"));
  EXPECT_THAT(expressions_of(nft::InSet{{NftField::IpSaddr, NftField::IpDaddr}, "aff2", false}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]",
                          "[ payload load 4b @ network header + 16 => reg 9 ]", "[ lookup reg 1 set aff2 ]"));
  EXPECT_THAT(expressions_of(nft::UpdateSet{{NftField::IpSaddr}, "aff"}),
              ElementsAre("[ payload load 4b @ network header + 12 => reg 1 ]", "[ dynset update reg_key 1 set aff ]"));
  // nft's encoding of `update @affinity { ip saddr . ct original ip daddr .
  // meta l4proto . ct original proto-dst timeout 600s : ip daddr . th dport }`:
  // the data right after the key.
  using F = NftField;
  EXPECT_THAT(expressions_of(nft::UpdateSet{{F::IpSaddr, F::CtOriginalDaddr, F::MetaL4proto, F::CtOriginalProtoDst},
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
  EXPECT_THAT(expressions_of(nft::Vmap{{NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport, NftField::IpSaddr},
                                         "src-ranges"},
                               IpFamily::V4, [&](std::string_view) { return &ranges; }),
              ElementsAre("[ payload load 4b @ network header + 16 => reg 1 ]", "[ meta load l4proto => reg 9 ]",
                          "[ byteorder reg 9 = hton(reg 9, 2, 1) ]",
                          "[ payload load 2b @ transport header + 2 => reg 10 ]",
                          "[ payload load 4b @ network header + 12 => reg 11 ]",
                          "[ lookup reg 1 set src-ranges dreg 0 ]"));
}

TEST(NftRules, NatMasqueradeRejectAndVerdicts) {
  EXPECT_THAT(expressions_of(nft::Dnat{ip("10.0.0.1"), 80}),
              ElementsAre("[ immediate reg 1 0x0100000a ]", "[ immediate reg 2 0x00005000 ]",
                          "[ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]"));
  EXPECT_THAT(expressions_of(nft::Dnat{ip("10.0.0.1"), 0}),
              ElementsAre("[ immediate reg 1 0x0100000a ]", "[ nat dnat ip addr_min reg 1 ]"));
  EXPECT_THAT(expressions_of(nft::Dnat{ip("fd00::1"), 80}, IpFamily::V6),
              ElementsAre("[ immediate reg 1 0x000000fd 0x00000000 0x00000000 0x01000000 ]",
                          "[ immediate reg 2 0x00005000 ]", "[ nat dnat ip6 addr_min reg 1 proto_min reg 2 flags 0x2 ]"));
  EXPECT_THAT(expressions_of(nft::Masquerade{true}), ElementsAre("[ masq flags 0x10 ]"));
  EXPECT_THAT(expressions_of(nft::Masquerade{false}), ElementsAre("[ masq ]"));
  EXPECT_THAT(expressions_of(nft::Reject{}), ElementsAre("[ reject type 0 code 3 ]"));
  EXPECT_THAT(expressions_of(nft::Reject{}, IpFamily::V6), ElementsAre("[ reject type 0 code 4 ]"));
  EXPECT_THAT(expressions_of(NftVerdict{NftVerdict::Kind::Jump, "svc-a"}), ElementsAre("[ immediate reg 0 jump -> svc-a ]"));
  EXPECT_THAT(expressions_of(NftVerdict{NftVerdict::Kind::Goto, "svc-a"}), ElementsAre("[ immediate reg 0 goto -> svc-a ]"));
  EXPECT_THAT(expressions_of(NftVerdict{NftVerdict::Kind::Drop, {}}), ElementsAre("[ immediate reg 0 drop ]"));
  EXPECT_THAT(expressions_of(NftVerdict{NftVerdict::Kind::Return, {}}), ElementsAre("[ immediate reg 0 return ]"));
  EXPECT_THAT(expressions_of(NftVerdict{NftVerdict::Kind::Accept, {}}), ElementsAre("[ immediate reg 0 accept ]"));
}

TEST(NftRules, EachExpressionKnowsItsStatement) {
  const NftRule rule{{nft::Match{NftField::MetaL4proto, false, Protocol::Tcp}, nft::Vmap{kDestination, "service-ips"}},
                     {}};
  auto built = rule_expressions(rule, IpFamily::V4, {});
  ASSERT_TRUE(built);
  std::vector<std::size_t> statements;
  for (const NftExpression& expression : *built) statements.push_back(expression.statement);
  // meta, cmp; payload, meta, payload, lookup.
  EXPECT_THAT(statements, ElementsAre(0, 0, 1, 1, 1, 1));
}

TEST(NftRules, StatementThatCannotBeExpressedIsNamedWithItsReason) {
  const NftRule rule{{nft::Masquerade{}, nft::Match{NftField::IpDaddr, false, Protocol::Tcp}}, {}};
  auto built = rule_expressions(rule, IpFamily::V4, {});
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().statement, 1u);
  EXPECT_EQ(built.error().reason, "an address field compared with a protocol");
  auto wrong_family = rule_expressions(NftRule{{nft::Dnat{ip("fd00::1"), 80}}, {}}, IpFamily::V4, {});
  ASSERT_FALSE(wrong_family);
  EXPECT_THAT(wrong_family.error().reason, HasSubstr("fd00::1"));
}

}  // namespace
}  // namespace kubenat
