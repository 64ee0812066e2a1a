// Which chains are kube-proxy's, and the iptables-restore input that removes
// them with the rules that reach them, leaving everyone else's.

#include "rules/iptables/cleanup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

SavedTable table_of(const std::string& name, const std::string& save) {
  auto tables = parse_iptables_save(save);
  return tables.at(name);
}

TEST(IsProxyChain, KubeProxysNatChainsIncludingEveryPerServiceChain) {
  for (const char* chain :
       {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", "KUBE-PROXY-CANARY",
        "KUBE-SVC-AAAAAAAAAAAAAAAA", "KUBE-SVL-AAAAAAAAAAAAAAAA", "KUBE-SEP-AAAAAAAAAAAAAAAA",
        "KUBE-FW-AAAAAAAAAAAAAAAA", "KUBE-EXT-AAAAAAAAAAAAAAAA", "KUBE-XLB-AAAAAAAAAAAAAAAA"}) {
    EXPECT_TRUE(is_proxy_chain("nat", chain)) << chain;
  }
}

TEST(IsProxyChain, KubeProxysFilterChains) {
  for (const char* chain : {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS",
                            "KUBE-PROXY-FIREWALL", "KUBE-PROXY-CANARY"}) {
    EXPECT_TRUE(is_proxy_chain("filter", chain)) << chain;
  }
}

TEST(IsProxyChain, KubeFirewallIsKubeProxysOnlyWithoutTheKubelet) {
  EXPECT_FALSE(is_proxy_chain("filter", "KUBE-FIREWALL", /*kubelet=*/true));
  EXPECT_TRUE(is_proxy_chain("filter", "KUBE-FIREWALL", /*kubelet=*/false));
}

TEST(KubeletPresent, ByItsCanaryOrHintChain) {
  const auto tables = [](const std::string& save) {
    std::vector<SavedTable> out;
    for (auto& [name, table] : parse_iptables_save(save)) out.push_back(table);
    return out;
  };
  EXPECT_TRUE(kubelet_present(tables("*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n")));
  EXPECT_TRUE(kubelet_present(tables("*nat\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n")));
  EXPECT_FALSE(kubelet_present(tables("*filter\n:KUBE-FIREWALL - [0:0]\nCOMMIT\n")));
}

TEST(IsProxyChain, TheKubeletsChainsAndOthersAreNot) {
  for (const char* chain :
       {"KUBE-MARK-DROP", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT", "DOCKER", "PREROUTING", "CILIUM_PRE_nat"}) {
    EXPECT_FALSE(is_proxy_chain("nat", chain)) << chain;
    EXPECT_FALSE(is_proxy_chain("filter", chain)) << chain;
    EXPECT_FALSE(is_proxy_chain("mangle", chain)) << chain;
  }
  EXPECT_FALSE(is_proxy_chain("mangle", "KUBE-SERVICES"));
  EXPECT_TRUE(is_proxy_chain("mangle", "KUBE-PROXY-CANARY"));
}

constexpr const char* kNat =
    "*nat\n"
    ":PREROUTING ACCEPT [0:0]\n"
    ":OUTPUT ACCEPT [0:0]\n"
    ":POSTROUTING ACCEPT [0:0]\n"
    ":DOCKER - [0:0]\n"
    ":KUBE-MARK-MASQ - [0:0]\n"
    ":KUBE-POSTROUTING - [0:0]\n"
    ":KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n"
    ":KUBE-SERVICES - [0:0]\n"
    ":KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"
    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"
    "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n"
    "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n"
    "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
    "-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-AAAAAAAAAAAAAAAA\n"
    "-A KUBE-SVC-AAAAAAAAAAAAAAAA -j KUBE-SEP-BBBBBBBBBBBBBBBB\n"
    "-A KUBE-SEP-BBBBBBBBBBBBBBBB -p tcp -m tcp -j DNAT --to-destination 10.200.1.10:8080\n"
    "-A DOCKER -i docker0 -j RETURN\n"
    "COMMIT\n";

TEST(IptablesLeftovers, NamesKubeProxysChainsAndTheJumpsIntoThem) {
  const IptablesLeftovers leftovers = iptables_leftovers(table_of("nat", kNat));
  EXPECT_THAT(leftovers.chains, ElementsAre("KUBE-MARK-MASQ", "KUBE-POSTROUTING", "KUBE-SEP-BBBBBBBBBBBBBBBB",
                                            "KUBE-SERVICES", "KUBE-SVC-AAAAAAAAAAAAAAAA"));
  EXPECT_THAT(leftovers.jumps,
              ElementsAre("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                          "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                          "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"));
}

TEST(IptablesLeftovers, FlushesThenUnhooksThenDeletes) {
  const IptablesLeftovers leftovers = iptables_leftovers(table_of("nat", kNat));
  EXPECT_EQ(leftovers.payload,
            "*nat\n"
            ":KUBE-MARK-MASQ - [0:0]\n"
            ":KUBE-POSTROUTING - [0:0]\n"
            ":KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n"
            ":KUBE-SERVICES - [0:0]\n"
            ":KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"
            "-D PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
            "-D OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
            "-D POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n"
            "-X KUBE-MARK-MASQ\n"
            "-X KUBE-POSTROUTING\n"
            "-X KUBE-SEP-BBBBBBBBBBBBBBBB\n"
            "-X KUBE-SERVICES\n"
            "-X KUBE-SVC-AAAAAAAAAAAAAAAA\n"
            "COMMIT\n");
}

constexpr const char* kFilterWithGuard =
    "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n"
    "-A INPUT -j KUBE-FIREWALL\n"
    "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n"
    "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet "
    "connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n"
    "COMMIT\n";

TEST(IptablesLeftovers, KeepsTheKubeletsLocalnetGuard) {
  const IptablesLeftovers leftovers = iptables_leftovers(table_of("filter", kFilterWithGuard), /*kubelet=*/true);
  EXPECT_THAT(leftovers.chains, ElementsAre("KUBE-FORWARD"));
  EXPECT_THAT(leftovers.jumps,
              ElementsAre("-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"));
}

TEST(IptablesLeftovers, TakesTheLocalnetGuardWhereNoKubeletOwnsIt) {
  const IptablesLeftovers leftovers = iptables_leftovers(table_of("filter", kFilterWithGuard), /*kubelet=*/false);
  EXPECT_THAT(leftovers.chains, ElementsAre("KUBE-FIREWALL", "KUBE-FORWARD"));
  EXPECT_THAT(leftovers.jumps,
              ElementsAre("-A INPUT -j KUBE-FIREWALL",
                          "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"));
}

TEST(IptablesLeftovers, AJumpNamedInACommentIsNotAJump) {
  const IptablesLeftovers leftovers =
      iptables_leftovers(table_of("nat",
                                  "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n"
                                  "-A PREROUTING -m comment --comment \"was -j KUBE-SERVICES\" -j ACCEPT\n"
                                  "COMMIT\n"));
  EXPECT_THAT(leftovers.chains, ElementsAre("KUBE-SERVICES"));
  EXPECT_THAT(leftovers.jumps, IsEmpty());
}

TEST(IptablesLeftovers, NothingOfKubeProxysIsNoPayload) {
  const IptablesLeftovers leftovers =
      iptables_leftovers(table_of("nat", "*nat\n:PREROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\nCOMMIT\n"));
  EXPECT_THAT(leftovers.chains, IsEmpty());
  EXPECT_EQ(leftovers.payload, "");
}

}  // namespace
}  // namespace kubenat
