// The nft text renderer: every statement kind as nft writes it, set
// declarations (type, typeof for numgen-indexed keys, flags, timeout,
// comment), a whole small table, a change script, and comment sanitizing.
// That nft accepts these texts is proven in tests/e2e/nft_netlink_test.cpp
// (`nft -c -f`, and `nft -f` compared with the netlink backend).

#include "rules/nftables/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kubenat {
namespace {

using ::testing::HasSubstr;

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }
Cidr cidr(const std::string& text) { return *Cidr::parse(text); }

std::string one(NftStatement statement, IpFamily family = IpFamily::V4) {
  return render_nft_rule(NftRule{{std::move(statement)}, {}}, family);
}

const std::vector<NftField> kDestination = {NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport};

TEST(NftRender, Matches) {
  EXPECT_EQ(one(nft::Match{NftField::IpDaddr, false, ip("10.96.0.1")}), "ip daddr 10.96.0.1");
  EXPECT_EQ(one(nft::Match{NftField::IpSaddr, true, cidr("10.0.0.0/8")}), "ip saddr != 10.0.0.0/8");
  EXPECT_EQ(one(nft::Match{NftField::MetaL4proto, false, Protocol::Sctp}), "meta l4proto sctp");
  EXPECT_EQ(one(nft::Match{NftField::ThDport, true, std::uint16_t{53}}), "th dport != 53");
  EXPECT_EQ(one(nft::Match{NftField::IpSaddr, false, cidr("fd00::/8")}, IpFamily::V6), "ip6 saddr fd00::/8");
}

TEST(NftRender, SetsAndMaps) {
  EXPECT_EQ(one(nft::InSet{kDestination, "no-endpoint-services", false}),
            "ip daddr . meta l4proto . th dport @no-endpoint-services");
  EXPECT_EQ(one(nft::InSet{{NftField::IpSaddr}, "local", true}), "ip saddr != @local");
  EXPECT_EQ(one(nft::Vmap{kDestination, "service-ips"}), "ip daddr . meta l4proto . th dport vmap @service-ips");
  EXPECT_EQ(one(nft::DnatMap{kDestination, 3, "cluster-endpoints"}),
            "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @cluster-endpoints");
  EXPECT_EQ(one(nft::DnatMap{kDestination, 0, "addresses"}),
            "dnat ip to ip daddr . meta l4proto . th dport map @addresses");
  EXPECT_EQ(one(nft::DnatMap{kDestination, 2, "endpoints"}, IpFamily::V6),
            "dnat ip6 to ip6 daddr . meta l4proto . th dport . numgen random mod 2 map @endpoints");
  EXPECT_EQ(one(nft::UpdateSet{{NftField::IpSaddr}, "affinity"}), "update @affinity { ip saddr }");
  EXPECT_EQ(one(nft::UpdateSet{{NftField::IpSaddr, NftField::IpDaddr}, "a"}, IpFamily::V6),
            "update @a { ip6 saddr . ip6 daddr }");
}

TEST(NftRender, RememberingAClientAfterDnatReadsTheOriginalDestination) {
  using F = NftField;
  const nft::UpdateSet remember{{F::IpSaddr, F::CtOriginalDaddr, F::MetaL4proto, F::CtOriginalProtoDst},
                                "affinity",
                                {F::IpDaddr, F::ThDport},
                                600};
  EXPECT_EQ(one(remember), "update @affinity { ip saddr . ct original ip daddr . meta l4proto . ct original proto-dst "
                           "timeout 600s : ip daddr . th dport }");
  EXPECT_EQ(one(remember, IpFamily::V6), "update @affinity { ip6 saddr . ct original ip6 daddr . meta l4proto . "
                                         "ct original proto-dst timeout 600s : ip6 daddr . th dport }");
}

TEST(NftRender, ConntrackFibAndMarks) {
  EXPECT_EQ(one(nft::FibLocal{false, false}), "fib daddr type local");
  EXPECT_EQ(one(nft::FibLocal{true, true}), "fib saddr type != local");
  EXPECT_EQ(one(nft::CtStateNew{}), "ct state new");
  EXPECT_EQ(one(nft::CtStatusDnat{}), "ct status dnat");
  EXPECT_EQ(one(nft::MarkTest{0x4000, false}), "meta mark & 0x00004000 == 0x00000000");
  EXPECT_EQ(one(nft::MarkTest{0x4000, true}), "meta mark & 0x00004000 != 0x00000000");
  EXPECT_EQ(one(nft::MarkOr{0x4000}), "meta mark set meta mark | 0x00004000");
  EXPECT_EQ(one(nft::MarkXor{0x4000}), "meta mark set meta mark ^ 0x00004000");
}

TEST(NftRender, InputInterfaceNames) {
  EXPECT_EQ(one(nft::IifName{"cbr0", false, false}), "iifname \"cbr0\"");
  EXPECT_EQ(one(nft::IifName{"cbr0", false, true}), "iifname != \"cbr0\"");
  EXPECT_EQ(one(nft::IifName{"veth", true, false}), "iifname \"veth*\"");
  EXPECT_EQ(one(nft::IifName{"veth", true, true}, IpFamily::V6), "iifname != \"veth*\"");
}

TEST(NftRender, NatRejectAndVerdicts) {
  EXPECT_EQ(one(nft::Dnat{ip("10.0.0.1"), 80}), "dnat ip to 10.0.0.1:80");
  EXPECT_EQ(one(nft::Dnat{ip("10.0.0.1"), 0}), "dnat ip to 10.0.0.1");
  EXPECT_EQ(one(nft::Dnat{ip("fd00::1"), 80}, IpFamily::V6), "dnat ip6 to [fd00::1]:80");
  EXPECT_EQ(one(nft::Masquerade{false}), "masquerade");
  EXPECT_EQ(one(nft::Masquerade{true}), "masquerade fully-random");
  EXPECT_EQ(one(nft::Reject{}), "reject");
  EXPECT_EQ(one(NftVerdict{NftVerdict::Kind::Accept, {}}), "accept");
  EXPECT_EQ(one(NftVerdict{NftVerdict::Kind::Drop, {}}), "drop");
  EXPECT_EQ(one(NftVerdict{NftVerdict::Kind::Return, {}}), "return");
  EXPECT_EQ(one(NftVerdict{NftVerdict::Kind::Jump, "mark"}), "jump mark");
  EXPECT_EQ(one(NftVerdict{NftVerdict::Kind::Goto, "pick-1"}), "goto pick-1");
}

TEST(NftRender, RuleJoinsStatementsAndEndsWithItsComment) {
  const NftRule rule{{nft::CtStateNew{}, nft::InSet{kDestination, "no-endpoint-services", false}, nft::Reject{}},
                     "default/web:http has no endpoints"};
  EXPECT_EQ(render_nft_rule(rule, IpFamily::V4),
            "ct state new ip daddr . meta l4proto . th dport @no-endpoint-services reject "
            "comment \"default/web:http has no endpoints\"");
}

TEST(NftRender, Values) {
  EXPECT_EQ(render_nft_value(ip("fd00::10")), "fd00::10");
  EXPECT_EQ(render_nft_value(Protocol::Udp), "udp");
  EXPECT_EQ(render_nft_value(std::uint16_t{8080}), "8080");
  EXPECT_EQ(render_nft_value(std::uint32_t{0x4000}), "0x00004000");
  EXPECT_EQ(render_nft_value(std::uint32_t{3}, true), "3");  // a numgen index in a key
  EXPECT_EQ(render_nft_element(NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                                          {ip("10.200.1.11"), std::uint16_t{8080}}}),
            "10.96.0.10 . tcp . 80 . 1 : 10.200.1.11 . 8080");
}

TEST(NftRender, CommentsAreMadeSafeForNft) {
  EXPECT_EQ(nft_comment("ns/svc:port"), "ns/svc:port");
  EXPECT_EQ(nft_comment("say \"hi\"\n"), "say 'hi' ");
  EXPECT_EQ(nft_comment(std::string(200, 'x')).size(), 128u);
  // 127 ASCII bytes and a two-byte character: the character is dropped whole.
  EXPECT_EQ(nft_comment(std::string(127, 'x') + "\xc3\xa9"), std::string(127, 'x'));
}

NftPlan small_plan() {
  NftPlan plan;
  plan.sets = {
      NftSet{"cluster-ips", {NftType::Ipv4Addr}, {}, false, std::nullopt, "cluster \"IPs\""},
      NftSet{"endpoints",
             {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Mark},
             {NftType::Ipv4Addr, NftType::InetService},
             false,
             std::nullopt,
             ""},
      NftSet{"ranges",
             {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Ipv4Addr},
             {NftType::Verdict},
             true,
             std::nullopt,
             ""},
  };
  plan.chains = {
      NftChain{"pick-2", std::nullopt, {NftRule{{nft::DnatMap{kDestination, 2, "endpoints"}}, {}}}},
      NftChain{"prerouting",
               NftHook{NftHook::Type::Nat, NftHook::Point::Prerouting, -100},
               {NftRule{{nft::InSet{{NftField::IpDaddr}, "cluster-ips", false}, NftVerdict{NftVerdict::Kind::Goto, "pick-2"}},
                        "services"}}},
      NftChain{"forward", NftHook{NftHook::Type::Filter, NftHook::Point::Forward, 0}, {}},
      NftChain{"out", NftHook{NftHook::Type::Nat, NftHook::Point::Output, -100}, {}},
  };
  auto web = std::make_shared<NftServicePortRules>();
  web->elements = {
      {"endpoints", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                               {ip("10.200.1.11"), std::uint16_t{8080}}}},
      {"cluster-ips", NftElement{{ip("10.96.0.10")}, {}}},
      {"endpoints", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{0}},
                               {ip("10.200.1.10"), std::uint16_t{8080}}}},
      {"ranges", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, cidr("192.168.0.0/16")},
                            {NftVerdict{NftVerdict::Kind::Accept, {}}}}},
  };
  plan.sets.push_back(NftSet{"affinity-web", {NftType::Ipv4Addr}, {}, false, std::uint32_t{10800}, ""});
  plan.chains.push_back(
      NftChain{"svc-web", std::nullopt, {NftRule{{nft::UpdateSet{{NftField::IpSaddr}, "affinity-web"}}, {}}}});
  plan.service_ports[ServicePortName{{"default", "web"}, "http", Protocol::Tcp}] = web;
  auto dns = std::make_shared<NftServicePortRules>();
  dns->elements = {{"cluster-ips", NftElement{{ip("10.96.0.1")}, {}}}};
  plan.service_ports[ServicePortName{{"kube-system", "dns"}, "dns", Protocol::Udp}] = dns;
  return plan;
}

TEST(NftRender, WholeTable) {
  EXPECT_EQ(render_nft(small_plan()),
            "table ip kubenat {\n"
            "\tset cluster-ips {\n"
            "\t\ttype ipv4_addr\n"
            "\t\tcomment \"cluster 'IPs'\"\n"
            "\t\telements = {\n"
            "\t\t\t10.96.0.1,\n"
            "\t\t\t10.96.0.10\n"
            "\t\t}\n"
            "\t}\n"
            "\n"
            "\tmap endpoints {\n"
            "\t\ttypeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport\n"
            "\t\telements = {\n"
            "\t\t\t10.96.0.10 . tcp . 80 . 0 : 10.200.1.10 . 8080,\n"
            "\t\t\t10.96.0.10 . tcp . 80 . 1 : 10.200.1.11 . 8080\n"
            "\t\t}\n"
            "\t}\n"
            "\n"
            "\tmap ranges {\n"
            "\t\ttype ipv4_addr . inet_proto . inet_service . ipv4_addr : verdict\n"
            "\t\tflags interval\n"
            "\t\telements = {\n"
            "\t\t\t10.96.0.10 . tcp . 80 . 192.168.0.0/16 : accept\n"
            "\t\t}\n"
            "\t}\n"
            "\n"
            "\tset affinity-web {\n"
            "\t\ttype ipv4_addr\n"
            "\t\tflags dynamic,timeout\n"
            "\t\ttimeout 10800s\n"
            "\t}\n"
            "\n"
            "\tchain pick-2 {\n"
            "\t\tdnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @endpoints\n"
            "\t}\n"
            "\n"
            "\tchain prerouting {\n"
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
            "\t\tip daddr @cluster-ips goto pick-2 comment \"services\"\n"
            "\t}\n"
            "\n"
            "\tchain forward {\n"
            "\t\ttype filter hook forward priority filter; policy accept;\n"
            "\t}\n"
            "\n"
            "\tchain out {\n"
            "\t\ttype nat hook output priority -100; policy accept;\n"
            "\t}\n"
            "\n"
            "\tchain svc-web {\n"
            "\t\tupdate @affinity-web { ip saddr }\n"
            "\t}\n"
            "}\n");
}

TEST(NftRender, Ipv6Table) {
  NftPlan plan;
  plan.family = IpFamily::V6;
  plan.sets = {NftSet{"local", {NftType::Ipv6Addr}, {}, true, std::nullopt, ""}};
  plan.chains = {NftChain{"post", NftHook{NftHook::Type::Nat, NftHook::Point::Postrouting, 100},
                          {NftRule{{nft::Masquerade{true}}, {}}}}};
  EXPECT_EQ(render_nft(plan),
            "table ip6 kubenat {\n"
            "\tset local {\n"
            "\t\ttype ipv6_addr\n"
            "\t\tflags interval\n"
            "\t}\n"
            "\n"
            "\tchain post {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            "\t\tmasquerade fully-random\n"
            "\t}\n"
            "}\n");
}

TEST(NftRender, ChangeScript) {
  NftChange change;
  change.sets_added = {NftSet{"affinity-api", {NftType::Ipv4Addr}, {}, false, std::uint32_t{60}, "api"}};
  change.chains_added = {
      NftChain{"svc-api", std::nullopt, {NftRule{{nft::UpdateSet{{NftField::IpSaddr}, "affinity-api"}}, {}}}},
      NftChain{"hooked", NftHook{NftHook::Type::Nat, NftHook::Point::Prerouting, -100}, {}},
  };
  change.chains_replaced = {
      NftChain{"prerouting", NftHook{NftHook::Type::Nat, NftHook::Point::Prerouting, -100},
               {NftRule{{nft::Vmap{kDestination, "service-ips"}}, {}}}}};
  const NftElement endpoint{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                            {ip("10.200.1.11"), std::uint16_t{8080}}};
  change.elements_removed = {{"endpoints", endpoint}, {"endpoints", endpoint}, {"cluster-ips", {{ip("10.96.0.9")}, {}}}};
  change.elements_added = {
      {"service-ips",
       {{ip("10.96.0.99"), Protocol::Tcp, std::uint16_t{443}}, {NftVerdict{NftVerdict::Kind::Goto, "svc-api"}}}}};
  change.chains_removed = {"old-chain"};
  change.sets_removed = {"old-set"};
  EXPECT_EQ(render_nft_change(change),
            "add set ip kubenat affinity-api { type ipv4_addr; flags dynamic,timeout; timeout 60s; comment \"api\"; }\n"
            "add chain ip kubenat svc-api\n"
            "add chain ip kubenat hooked { type nat hook prerouting priority dstnat; policy accept; }\n"
            "add rule ip kubenat svc-api update @affinity-api { ip saddr }\n"
            "flush chain ip kubenat prerouting\n"
            "add rule ip kubenat prerouting ip daddr . meta l4proto . th dport vmap @service-ips\n"
            "delete element ip kubenat endpoints { 10.96.0.10 . tcp . 80 . 1, 10.96.0.10 . tcp . 80 . 1 }\n"
            "delete element ip kubenat cluster-ips { 10.96.0.9 }\n"
            "add element ip kubenat service-ips { 10.96.0.99 . tcp . 443 : goto svc-api }\n"
            "delete chain ip kubenat old-chain\n"
            "delete set ip kubenat old-set\n");
}

TEST(NftRender, EmptyChangeIsEmpty) { EXPECT_EQ(render_nft_change(NftChange{}), ""); }

}  // namespace
}  // namespace kubenat
