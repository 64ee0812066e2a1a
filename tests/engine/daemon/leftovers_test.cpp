// What `kubenat cleanup` and a `kubenat run` in each mode take off a node,
// and that the proxier wrapper does it once, after its first good sync.

#include "engine/daemon/leftovers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "engine/daemon/cleanup_after_first_sync.h"
#include "tests/support/cluster_builder.h"
#include "tests/support/fake_iptables.h"
#include "tests/support/fake_route_backend.h"

namespace kubenat {
namespace {

using kubenat::testing::cidr;
using kubenat::testing::FakeIptables;
using kubenat::testing::FakeRouteBackend;
using kubenat::testing::ip;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// nftables tables by family and name; deleting one takes it away.
class FakeNftTables final : public NftTransport {
 public:
  std::expected<std::vector<NftAck>, std::string> send(const NftBatch& batch) override {
    for (const NftMessageInfo& message : batch.messages()) {
      if (message.kind == NftMessageKind::DeleteTable) tables.erase({batch.family(), batch.table()});
    }
    return std::vector<NftAck>{};
  }
  std::expected<std::optional<std::uint64_t>, std::string> table_handle(IpFamily family,
                                                                        const std::string& name) override {
    if (tables.contains({family, name})) return std::optional<std::uint64_t>(7);
    return std::optional<std::uint64_t>();
  }
  std::expected<std::vector<NftRawElement>, std::string> dump_elements(IpFamily, const std::string&,
                                                                       const std::string&) override {
    return std::unexpected("not used");
  }

  std::set<std::pair<IpFamily, std::string>> tables;
};

class FakeNode final : public LeftoverKernel {
 public:
  IptablesRunner* iptables(IptablesMode flavour) override {
    if (flavour == IptablesMode::Legacy && !legacy_installed) return nullptr;
    return flavour == IptablesMode::Nft ? &nft : &legacy;
  }
  std::vector<std::string> iptables_tables(IptablesMode, IpFamily) override { return {"mangle", "nat", "filter"}; }
  std::expected<NftTransport*, std::string> nftables() override {
    if (nftables_error) return std::unexpected(*nftables_error);
    return &nft_tables;
  }
  std::expected<RouteBackend*, std::string> routes() override { return &route_table; }

  FakeIptables nft;
  FakeIptables legacy;
  bool legacy_installed = true;
  FakeNftTables nft_tables;
  std::optional<std::string> nftables_error;
  FakeRouteBackend route_table;
};

constexpr const char* kKubeProxyNat =
    "*nat\n"
    ":KUBE-SERVICES - [0:0]\n"
    ":KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"
    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    "-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-AAAAAAAAAAAAAAAA\n"
    "COMMIT\n";

KernelRoute route(const std::string& destination, int protocol) {
  KernelRoute out;
  out.destination = cidr(destination);
  out.gateway = ip("10.240.0.12");
  out.protocol = protocol;
  return out;
}

TEST(AllLeftovers, AreBothIptablesFlavoursKubeProxysAndKubenatsTablesAndRoutes) {
  const Leftovers all = all_leftovers("kubenat", 214);
  EXPECT_THAT(all.iptables, ElementsAre(IptablesMode::Nft, IptablesMode::Legacy));
  EXPECT_THAT(all.nftables_tables, ElementsAre("kube-proxy", "kubenat"));
  EXPECT_EQ(all.route_protocol, 214);
}

TEST(OtherModesLeftovers, NftablesModeTakesEveryIptablesChainAndKubeProxysTable) {
  const Leftovers other = other_modes_leftovers(ProxyMode::Nftables, IptablesMode::Nft, "kubenat");
  EXPECT_THAT(other.iptables, ElementsAre(IptablesMode::Nft, IptablesMode::Legacy));
  EXPECT_THAT(other.nftables_tables, ElementsAre("kube-proxy"));
  EXPECT_FALSE(other.route_protocol);
}

TEST(OtherModesLeftovers, IptablesModeTakesTheTablesAndTheOtherFlavoursChains) {
  const Leftovers nft = other_modes_leftovers(ProxyMode::Iptables, IptablesMode::Nft, "kubenat");
  EXPECT_THAT(nft.iptables, ElementsAre(IptablesMode::Legacy));
  EXPECT_THAT(nft.nftables_tables, ElementsAre("kube-proxy", "kubenat"));
  EXPECT_THAT(other_modes_leftovers(ProxyMode::Iptables, IptablesMode::Legacy, "kubenat").iptables,
              ElementsAre(IptablesMode::Nft));
}

TEST(OtherModesLeftovers, RoutesOnlyModeTakesNothing) {
  const Leftovers none = other_modes_leftovers(ProxyMode::None, IptablesMode::Nft, "kubenat");
  EXPECT_THAT(none.iptables, IsEmpty());
  EXPECT_THAT(none.nftables_tables, IsEmpty());
}

TEST(RemoveLeftovers, TakesEachKindAwayAndSaysWhat) {
  FakeNode node;
  node.nft.seed(kKubeProxyNat);
  node.legacy.seed(kKubeProxyNat, IpFamily::V6);
  node.nft_tables.tables = {{IpFamily::V4, "kube-proxy"}, {IpFamily::V6, "kubenat"}, {IpFamily::V4, "firewalld"}};
  node.route_table.put(route("10.200.2.0/24", 214));
  node.route_table.put(route("10.200.3.0/24", 214));
  node.route_table.put(route("10.201.0.0/24", 186));
  const LeftoverReport report = remove_leftovers(all_leftovers("kubenat", 214), node);
  EXPECT_THAT(report.failures, IsEmpty());
  EXPECT_THAT(report.removed,
              ElementsAre("iptables-nft: 2 chains and 1 rule jumping to them",
                          "ip6tables-legacy: 2 chains and 1 rule jumping to them", "nftables table ip kube-proxy",
                          "nftables table ip6 kubenat", "2 routes of protocol 214"));
  EXPECT_FALSE(node.nft.has_chain("nat", "KUBE-SERVICES"));
  EXPECT_FALSE(node.legacy.has_chain("nat", "KUBE-SERVICES", IpFamily::V6));
  EXPECT_THAT(node.nft_tables.tables, ElementsAre(std::pair{IpFamily::V4, std::string("firewalld")}));
  EXPECT_THAT(node.route_table.routes_of(214), IsEmpty());
  EXPECT_THAT(node.route_table.routes_of(186), ElementsAre("10.201.0.0/24 via 10.240.0.12"));
}

TEST(RemoveLeftovers, AFlavourNotInstalledHoldsNothing) {
  FakeNode node;
  node.legacy_installed = false;
  node.legacy.seed(kKubeProxyNat);
  const LeftoverReport report = remove_leftovers(all_leftovers("kubenat", 214), node);
  EXPECT_THAT(report.removed, IsEmpty());
  EXPECT_THAT(report.failures, IsEmpty());
}

TEST(RemoveLeftovers, GoesOnPastAFailure) {
  FakeNode node;
  node.nftables_error = "socket: Operation not permitted";
  node.nft.seed(kKubeProxyNat);
  node.route_table.put(route("10.200.2.0/24", 214));
  const LeftoverReport report = remove_leftovers(all_leftovers("kubenat", 214), node);
  EXPECT_THAT(report.failures, ElementsAre("nftables: socket: Operation not permitted"));
  EXPECT_THAT(report.removed,
              ElementsAre("iptables-nft: 2 chains and 1 rule jumping to them", "1 route of protocol 214"));
}

// A proxier whose next apply() succeeds or fails as told.
class ScriptedProxier final : public Proxier {
 public:
  void compile(const ClusterState&, const std::set<ObjectName>*) override {}
  SyncResult apply() override {
    SyncResult result;
    result.ok = succeed;
    return result;
  }
  void force_full_sync(std::string) override {}
  bool succeed = true;
};

TEST(CleanupAfterFirstSync, RemovesLeftoversOnceAfterTheFirstGoodSync) {
  ScriptedProxier inner;
  int cleanups = 0;
  CleanupAfterFirstSync proxier(inner, [&] {
    ++cleanups;
    return LeftoverReport{{"nftables table ip kube-proxy"}, {}};
  });
  const SyncResult first = proxier.apply();
  EXPECT_EQ(cleanups, 1);
  EXPECT_THAT(first.notes, ElementsAre("removed what another proxy mode left: nftables table ip kube-proxy"));
  EXPECT_THAT(proxier.apply().notes, IsEmpty());
  EXPECT_EQ(cleanups, 1);
}

TEST(CleanupAfterFirstSync, WaitsWhileTheModesOwnRulesAreNotIn) {
  ScriptedProxier inner;
  inner.succeed = false;
  int cleanups = 0;
  CleanupAfterFirstSync proxier(inner, [&] {
    ++cleanups;
    return LeftoverReport{};
  });
  EXPECT_FALSE(proxier.apply().ok);
  EXPECT_EQ(cleanups, 0) << "the old mode's rules still serve";
  inner.succeed = true;
  EXPECT_TRUE(proxier.apply().ok);
  EXPECT_EQ(cleanups, 1);
}

TEST(CleanupAfterFirstSync, WhatCannotBeRemovedIsAWarningNotAFailure) {
  ScriptedProxier inner;
  CleanupAfterFirstSync proxier(inner, [] { return LeftoverReport{{}, {"iptables-legacy: table nat: refused"}}; });
  const SyncResult result = proxier.apply();
  EXPECT_TRUE(result.ok);
  EXPECT_THAT(result.warnings,
              ElementsAre("could not remove what another proxy mode left: iptables-legacy: table nat: refused"));
}

}  // namespace
}  // namespace kubenat
