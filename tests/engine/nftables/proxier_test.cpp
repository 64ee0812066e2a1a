// The nftables proxier's decisions, against a fake netlink transport: when a
// sync is full and why, that a routine change sends only what changed, how a
// refusal is repaired, and when stale UDP conntrack entries are cleared.

#include "engine/nftables/proxier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "tests/support/cluster_builder.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_conntrack.h"
#include "engine/nftables/encoding.h"
#include "tests/support/fake_nft_transport.h"

namespace kubenat {
namespace {

using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace kubenat::testing;
using namespace std::chrono_literals;
using K = NftMessageKind;

ProxyConfig test_config() {
  ProxyConfig config;
  config.node_name = "test-node";
  config.node_ips = {ip("192.168.0.2")};
  config.cluster_cidrs = {cidr("10.0.0.0/8")};
  return config;
}

// Ten TCP Services ns/web<i> and the UDP Service kube-system/dns.
struct Cluster {
  std::vector<std::string> dns_endpoints = {"10.200.0.1", "10.200.0.2"};
  std::map<int, int> web_endpoints;
  std::set<int> sticky;  // web<i> with session affinity

  ClusterState state() const {
    ClusterBuilder cluster;
    for (int i = 0; i < 10; ++i) {
      const std::string name = "web" + std::to_string(i);
      ServiceBuilder service = ServiceBuilder("ns", name).cluster_ip("172.30.1." + std::to_string(i + 1)).port("p80", 80);
      if (sticky.contains(i)) service.affinity();
      cluster.add(service.build());
      SliceBuilder slice("ns", name);
      slice.port("p80", 80);
      const int n = web_endpoints.contains(i) ? web_endpoints.at(i) : 1;
      for (int k = 0; k < n; ++k) slice.endpoint("10." + std::to_string(180 + k) + ".0." + std::to_string(i + 1));
      cluster.add(slice.build());
    }
    cluster.add(ServiceBuilder("kube-system", "dns").cluster_ip("172.30.0.10").port("dns", 53, Protocol::Udp));
    SliceBuilder slice("kube-system", "dns");
    slice.port("dns", 53, Protocol::Udp);
    for (const std::string& endpoint : dns_endpoints) slice.endpoint(endpoint);
    cluster.add(slice.build());
    return cluster.build();
  }
};

const ObjectName kWeb3{"ns", "web3"};
const ObjectName kDns{"kube-system", "dns"};

class NftProxierTest : public ::testing::Test {
 protected:
  NftProxierTest() : backend_(transport_, IpFamily::V4, "kubenat") {}

  SyncResult sync(const ClusterState& state, std::set<ObjectName> changed) {
    proxier_.compile(state, &changed);
    return proxier_.apply();
  }
  SyncResult sync_all(const ClusterState& state) {
    proxier_.compile(state, nullptr);
    return proxier_.apply();
  }
  const FakeNftTransport::Sent& last_sent() const { return transport_.sent.back(); }

  FakeNftTransport transport_;
  NftBackend backend_;
  FakeClock clock_;
  FakeConntrack conntrack_;
  NftProxier proxier_{backend_, &conntrack_, clock_, test_config(), NftProxier::Options{1h, 0s}};
};

TEST_F(NftProxierTest, TheFirstSyncReplacesTheWholeTable) {
  const SyncResult result = sync_all(Cluster{}.state());
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.full);
  EXPECT_EQ(result.reason, "first sync");
  EXPECT_THAT(last_sent().kinds(), Contains(K::DeleteTable));
  EXPECT_THAT(last_sent().kinds(), Contains(K::AddTable));
}

TEST_F(NftProxierTest, AnEndpointChangeSendsOnlyElements) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  Cluster scaled;
  scaled.web_endpoints[3] = 2;
  const SyncResult result = sync(scaled.state(), {kWeb3});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.full);
  EXPECT_EQ(result.stats.objects_written, 0u);
  EXPECT_THAT(last_sent().kinds(), Each(AnyOf(K::AddElements, K::DeleteElements)));
  EXPECT_LT(result.stats.bytes, 2048u) << "one endpoint should cost a few hundred bytes, not the table";
}

TEST_F(NftProxierTest, AnUnchangedStateSendsNothing) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  const std::size_t batches = transport_.sent.size();
  const SyncResult result = sync(Cluster{}.state(), {kWeb3});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.full);
  EXPECT_EQ(transport_.sent.size(), batches);
}

TEST_F(NftProxierTest, ATableDeletedBehindItsBackIsRebuiltInFull) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  transport_.delete_table();
  Cluster scaled;
  scaled.web_endpoints[3] = 2;
  const SyncResult result = sync(scaled.state(), {kWeb3});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.full);
  EXPECT_THAT(result.reason, HasSubstr("table missing or recreated"));
}

TEST_F(NftProxierTest, ATableRecreatedBySomeoneElseIsRebuiltInFull) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  transport_.recreate_table();
  const SyncResult result = sync(Cluster{}.state(), {kWeb3});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.full);
}

TEST_F(NftProxierTest, ARefusedChangeIsReportedAndRepairedByAFullSync) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  Cluster scaled;
  scaled.web_endpoints[3] = 2;
  transport_.refuse_next = FakeNftTransport::Refusal{1, ENOENT, std::nullopt, ""};
  const SyncResult refused = sync(scaled.state(), {kWeb3});
  EXPECT_FALSE(refused.ok);
  EXPECT_THAT(refused.error, HasSubstr("No such file or directory"));

  const SyncResult repaired = sync(scaled.state(), {});
  ASSERT_TRUE(repaired.ok) << repaired.error;
  EXPECT_TRUE(repaired.full) << "the kernel may not hold what the refused change left out";
}

TEST_F(NftProxierTest, TheFullSyncPeriodForcesAFullSync) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  clock_.advance(61min);
  const SyncResult result = sync(Cluster{}.state(), {kWeb3});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.full);
}

TEST_F(NftProxierTest, CompilingTwiceWithoutApplyingMakesTheNextSyncFull) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  Cluster scaled;
  scaled.web_endpoints[3] = 2;
  std::set<ObjectName> changed = {kWeb3};
  proxier_.compile(scaled.state(), &changed);
  proxier_.compile(scaled.state(), &changed);
  const SyncResult result = proxier_.apply();
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.full);
}

TEST_F(NftProxierTest, ARemovedUdpEndpointHasItsConntrackEntriesCleared) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  conntrack_.clear();
  Cluster shrunk;
  shrunk.dns_endpoints = {"10.200.0.1"};
  const SyncResult result = sync(shrunk.state(), {kDns});
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_FALSE(conntrack_.removed().empty());
  std::vector<std::string> filters;
  for (const ConntrackFilter& filter : conntrack_.removed()) filters.push_back(filter.to_string());
  EXPECT_THAT(filters, Contains(HasSubstr("10.200.0.2")));
  EXPECT_THAT(filters, Not(Contains(HasSubstr("10.200.0.1"))));
}

TEST_F(NftProxierTest, ATcpEndpointChangeClearsNoConntrackEntries) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  conntrack_.clear();
  Cluster scaled;
  scaled.web_endpoints[3] = 2;
  ASSERT_TRUE(sync(scaled.state(), {kWeb3}).ok);
  EXPECT_THAT(conntrack_.removed(), IsEmpty());
}

TEST_F(NftProxierTest, ADiffSyncEqualsTheTableACompleteCompileWouldWrite) {
  ASSERT_TRUE(sync_all(Cluster{}.state()).ok);
  Cluster scaled;
  scaled.web_endpoints[3] = 3;
  scaled.dns_endpoints = {"10.200.0.9"};
  ASSERT_TRUE(sync(scaled.state(), {kWeb3, kDns}).ok);

  FakeNftTransport other_transport;
  NftBackend other_backend(other_transport, IpFamily::V4, "kubenat");
  NftProxier fresh(other_backend, nullptr, clock_, test_config(), NftProxier::Options{});
  fresh.compile(scaled.state(), nullptr);
  ASSERT_TRUE(fresh.plan() && proxier_.plan());
  EXPECT_EQ(fresh.plan()->chains, proxier_.plan()->chains);
  EXPECT_EQ(fresh.plan()->sets, proxier_.plan()->sets);
  EXPECT_EQ(fresh.plan()->hairpin_refs, proxier_.plan()->hairpin_refs);
  ASSERT_EQ(fresh.plan()->service_ports.size(), proxier_.plan()->service_ports.size());
  for (const auto& [name, fragment] : fresh.plan()->service_ports) {
    auto it = proxier_.plan()->service_ports.find(name);
    ASSERT_NE(it, proxier_.plan()->service_ports.end()) << name.to_string();
    EXPECT_EQ(*fragment, *it->second) << name.to_string();
  }
}

std::size_t elements_sent(const FakeNftTransport::Sent& sent, NftMessageKind kind, const std::string& set) {
  std::size_t count = 0;
  for (const NftMessageInfo& message : sent.messages) {
    if (message.kind == kind && message.object == set) count += message.elements;
  }
  return count;
}

TEST_F(NftProxierTest, AServiceGivingUpASharedNodePortHandsItOverInADiff) {
  // Two Services on NodePort 30080: ns/alpha is served there, ns/beta not.
  auto cluster = [](bool with_alpha) {
    ClusterBuilder b;
    for (const std::string name : {"alpha", "beta"}) {
      if (name == "alpha" && !with_alpha) continue;
      b.add(ServiceBuilder("ns", name)
                .type(ServiceType::NodePort)
                .cluster_ip(name == "alpha" ? "172.30.2.1" : "172.30.2.2")
                .port("http", 80, Protocol::Tcp, 30080));
      SliceBuilder slice("ns", name);
      slice.port("http", 8080);
      slice.endpoint(name == "alpha" ? "10.180.0.1" : "10.180.0.2");
      b.add(slice.build());
    }
    return b.build();
  };
  ASSERT_TRUE(sync_all(cluster(true)).ok);
  const SyncResult result = sync(cluster(false), {ObjectName{"ns", "alpha"}});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.full);
  // beta's NodePort element is new; its cluster-IP element was there already
  // and is not sent again (the kernel would refuse it as existing).
  EXPECT_EQ(elements_sent(last_sent(), K::AddElements, "nodeport-cluster-destinations"), 1u);
  EXPECT_EQ(elements_sent(last_sent(), K::AddElements, "internal-cluster-destinations"), 0u);
  EXPECT_EQ(elements_sent(last_sent(), K::DeleteElements, "internal-cluster-destinations"), 1u);
}

// A client the packet path remembered for web3 (172.30.1.4:80), as the
// kernel would list it.
NftRawElement remembered(const char* client, const char* endpoint) {
  return NftRawElement{nft_encoding::pack_values({ip(client), ip("172.30.1.4"), Protocol::Tcp, std::uint16_t{80}}),
                       nft_encoding::pack_values({ip(endpoint), std::uint16_t{80}})};
}

// How many elements the batch adds to (or deletes from) the set.
std::size_t elements_in(const FakeNftTransport::Sent& sent, K kind, const std::string& set) {
  std::size_t n = 0;
  for (const NftMessageInfo& message : sent.messages) {
    if (message.kind == kind && message.object == set) n += message.elements;
  }
  return n;
}

TEST_F(NftProxierTest, RemovingAnAffinityServicesEndpointForgetsTheClientsRememberedWithIt) {
  Cluster cluster;
  cluster.sticky = {3};
  cluster.web_endpoints[3] = 2;  // 10.180.0.4 and 10.181.0.4
  ASSERT_TRUE(sync_all(cluster.state()).ok);
  transport_.dumped.clear();  // the first sync looked for clients to carry over
  transport_.dumps["affinity"] = {remembered("192.0.2.1", "10.181.0.4"), remembered("192.0.2.2", "10.180.0.4")};
  cluster.web_endpoints[3] = 1;
  const SyncResult result = sync(cluster.state(), {kWeb3});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(result.warnings, IsEmpty());
  EXPECT_THAT(transport_.dumped, ElementsAre("affinity"));
  EXPECT_EQ(elements_in(last_sent(), K::DeleteElements, "affinity"), 1u);
}

TEST_F(NftProxierTest, AddingAnAffinityServicesEndpointReadsNothingBack) {
  Cluster cluster;
  cluster.sticky = {3};
  ASSERT_TRUE(sync_all(cluster.state()).ok);
  transport_.dumped.clear();  // the first sync looked for clients to carry over
  cluster.web_endpoints[3] = 2;
  ASSERT_TRUE(sync(cluster.state(), {kWeb3}).ok);
  EXPECT_THAT(transport_.dumped, IsEmpty());
}

TEST_F(NftProxierTest, RemovingAnEndpointOfAServiceWithoutAffinityReadsNothingBack) {
  Cluster cluster;
  cluster.web_endpoints[3] = 2;
  ASSERT_TRUE(sync_all(cluster.state()).ok);
  transport_.dumped.clear();  // the first sync looked for clients to carry over
  cluster.web_endpoints[3] = 1;
  ASSERT_TRUE(sync(cluster.state(), {kWeb3}).ok);
  EXPECT_THAT(transport_.dumped, IsEmpty());
}

TEST_F(NftProxierTest, AFailedReadOfRememberedClientsIsAWarningNotAFailedSync) {
  Cluster cluster;
  cluster.sticky = {3};
  cluster.web_endpoints[3] = 2;
  ASSERT_TRUE(sync_all(cluster.state()).ok);
  cluster.web_endpoints[3] = 1;
  const SyncResult result = sync(cluster.state(), {kWeb3});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(result.warnings, Contains(HasSubstr("session affinity")));
}

TEST_F(NftProxierTest, AFullSyncCarriesTheClientsStillAllowedOverIntoTheNewTable) {
  Cluster cluster;
  cluster.sticky = {3};
  cluster.web_endpoints[3] = 2;
  ASSERT_TRUE(sync_all(cluster.state()).ok);
  NftRawElement kept = remembered("192.0.2.1", "10.180.0.4");
  kept.timeout_ms = 10800000;
  kept.expires_ms = 5000000;
  NftRawElement stale = remembered("192.0.2.2", "10.199.0.4");
  stale.timeout_ms = 10800000;
  stale.expires_ms = 7000;
  transport_.dumps["affinity"] = {kept, stale};
  proxier_.force_full_sync("test");
  const SyncResult result = sync_all(cluster.state());
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.full);
  EXPECT_THAT(result.warnings, IsEmpty());
  EXPECT_EQ(elements_in(last_sent(), K::AddElements, "affinity"), 1u);
}

TEST_F(NftProxierTest, TheFirstSyncWithoutATableToReadFromSaysNothingAboutAffinity) {
  Cluster cluster;
  cluster.sticky = {3};
  const SyncResult result = sync_all(cluster.state());
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(result.warnings, IsEmpty());
  EXPECT_THAT(transport_.dumped, ElementsAre("affinity"));
  EXPECT_EQ(elements_in(last_sent(), K::AddElements, "affinity"), 0u);
}

}  // namespace
}  // namespace kubenat
