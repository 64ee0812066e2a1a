// The nftables backend against a fake transport (tests/support): what goes
// into each transaction and in which order, how a full apply is split, how
// refusals and lost answers are reported, and how the table's handle is
// tracked. The real kernel's side is tests/e2e/nft_netlink_test.cpp.

#include "engine/nftables/backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "engine/nftables/nftnl_handles.h"
#include "tests/support/fake_nft_transport.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace kubenat::testing;
using K = NftMessageKind;
using Intact = std::expected<bool, std::string>;

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }

const std::vector<NftField> kDestination = {NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport};

NftElement service_element(int i, const std::string& chain = "pick-1") {
  return NftElement{{IpAddress::v4(10, 96, static_cast<std::uint8_t>(i / 250), static_cast<std::uint8_t>(i % 250)),
                     Protocol::Tcp, std::uint16_t{80}},
                    {NftVerdict{NftVerdict::Kind::Goto, chain}}};
}

NftElement endpoint_element(int i, std::uint32_t index) {
  return NftElement{{IpAddress::v4(10, 96, static_cast<std::uint8_t>(i / 250), static_cast<std::uint8_t>(i % 250)),
                     Protocol::Tcp, std::uint16_t{80}, index},
                    {IpAddress::v4(10, 200, static_cast<std::uint8_t>(i / 250), static_cast<std::uint8_t>(i % 250)),
                     std::uint16_t{8080}}};
}

ServicePortName port_name(int i) { return ServicePortName{{"ns", "svc" + std::to_string(i)}, "http", Protocol::Tcp}; }

// `services` service ports with a service-ips element and one endpoint each.
NftPlan plan_of(int services) {
  NftPlan plan;
  plan.sets = {
      NftSet{"service-ips", {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService}, {NftType::Verdict}, false,
             std::nullopt, ""},
      NftSet{"endpoints",
             {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Mark},
             {NftType::Ipv4Addr, NftType::InetService},
             false,
             std::nullopt,
             ""},
  };
  plan.chains = {
      NftChain{"pick-1", std::nullopt, {NftRule{{nft::DnatMap{kDestination, 1, "endpoints"}}, {}}}},
      NftChain{"prerouting",
               NftHook{NftHook::Type::Nat, NftHook::Point::Prerouting, -100},
               {NftRule{{nft::Vmap{kDestination, "service-ips"}}, "services"}}},
  };
  for (int i = 0; i < services; ++i) {
    auto rules = std::make_shared<NftServicePortRules>();
    rules->elements = {{"service-ips", service_element(i)}, {"endpoints", endpoint_element(i, 0)}};
    rules->endpoint_count = 1;
    plan.service_ports[port_name(i)] = rules;
  }
  return plan;
}

class NftBackendTest : public ::testing::Test {
 protected:
  FakeNftTransport transport_;
  NftBackend backend_{transport_, IpFamily::V4, "kubenat"};
};

TEST_F(NftBackendTest, FullApplyIsOneTransactionReplacingTheTable) {
  auto applied = backend_.apply_full(plan_of(3));
  ASSERT_TRUE(applied) << applied.error().message;
  ASSERT_EQ(transport_.sent.size(), 1u);
  EXPECT_THAT(transport_.sent[0].kinds(),
              ElementsAre(K::AddTable, K::DeleteTable, K::AddTable, K::AddChain, K::AddChain, K::AddSet, K::AddSet,
                          K::AddRule, K::AddRule, K::AddElements, K::AddElements));
  EXPECT_EQ(applied->transactions, 1u);
  EXPECT_EQ(applied->elements_added, 6u);
  EXPECT_EQ(applied->chains_written, 2u);
  EXPECT_EQ(applied->messages, 11u);
  EXPECT_EQ(applied->bytes, transport_.sent[0].bytes.size());
  EXPECT_TRUE(backend_.table_handle());
}

TEST_F(NftBackendTest, TableIntactFollowsTheHandle) {
  EXPECT_EQ(backend_.table_intact(), Intact(false));  // nothing applied yet
  ASSERT_TRUE(backend_.apply_full(plan_of(1)));
  EXPECT_EQ(backend_.table_intact(), Intact(true));
  transport_.delete_table();
  EXPECT_EQ(backend_.table_intact(), Intact(false));
  transport_.recreate_table();
  EXPECT_EQ(backend_.table_intact(), Intact(false));
  ASSERT_TRUE(backend_.apply_full(plan_of(1)));
  EXPECT_EQ(backend_.table_intact(), Intact(true));
  transport_.fail_table_handle = "recv: boom";
  EXPECT_EQ(backend_.table_intact(), Intact(std::unexpected("recv: boom")));
}

TEST_F(NftBackendTest, ChangeIsOneTransactionInTheOrderThatKeepsReferencesValid) {
  const NftPlan plan = plan_of(2);
  ASSERT_TRUE(backend_.apply_full(plan));
  NftChange change;
  change.sets_added = {NftSet{"affinity", {NftType::Ipv4Addr}, {}, false, std::uint32_t{60}, ""}};
  change.chains_added = {NftChain{"svc-new", std::nullopt, {NftRule{{nft::UpdateSet{{NftField::IpSaddr}, "affinity"}}, {}}}}};
  change.chains_replaced = {NftChain{"prerouting", NftHook{NftHook::Type::Nat, NftHook::Point::Prerouting, -100},
                                     {NftRule{{nft::Vmap{kDestination, "service-ips"}}, {}},
                                      NftRule{{NftVerdict{NftVerdict::Kind::Accept, {}}}, {}}}}};
  // Two sets, interleaved: one message per set.
  change.elements_removed = {{"service-ips", service_element(0)}, {"endpoints", endpoint_element(0, 0)},
                             {"service-ips", service_element(1)}};
  change.elements_added = {{"service-ips", service_element(5, "svc-new")}, {"endpoints", endpoint_element(5, 0)}};
  change.chains_removed = {"old-chain"};
  change.sets_removed = {"old-set"};
  auto applied = backend_.apply(change);
  ASSERT_TRUE(applied) << applied.error().message;
  ASSERT_EQ(transport_.sent.size(), 2u);
  EXPECT_THAT(transport_.sent[1].kinds(),
              ElementsAre(K::AddSet, K::AddChain, K::AddRule, K::FlushChain, K::AddRule, K::AddRule,
                          K::DeleteElements, K::DeleteElements, K::AddElements, K::AddElements, K::DeleteChain,
                          K::DeleteSet));
  const auto& messages = transport_.sent[1].messages;
  EXPECT_EQ(messages[7].object, "service-ips");
  EXPECT_EQ(messages[7].elements, 2u);
  EXPECT_EQ(messages[8].object, "endpoints");
  EXPECT_EQ(applied->transactions, 1u);
  EXPECT_EQ(applied->elements_added, 2u);
  EXPECT_EQ(applied->elements_removed, 3u);
  EXPECT_EQ(applied->chains_written, 2u);
  EXPECT_EQ(applied->messages, 12u);
  // Sequence numbers go on from batch to batch.
  EXPECT_EQ(transport_.sent[1].messages.front().seq, transport_.sent[0].messages.back().seq + 1);
}

TEST_F(NftBackendTest, EmptyChangeSendsNothing) {
  auto applied = backend_.apply(NftChange{});
  ASSERT_TRUE(applied);
  EXPECT_THAT(transport_.sent, IsEmpty());
  EXPECT_EQ(applied->transactions, 0u);
}

TEST_F(NftBackendTest, ChangeForAnotherTableIsRefusedUnsent) {
  NftChange change;
  change.table = "other";
  change.elements_added = {{"service-ips", service_element(1)}};
  auto applied = backend_.apply(change);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message, HasSubstr("ip other"));
  NftPlan plan = plan_of(1);
  plan.family = IpFamily::V6;
  EXPECT_FALSE(backend_.apply_full(plan));
  EXPECT_THAT(transport_.sent, IsEmpty());
}

TEST_F(NftBackendTest, RefusalNamesTheObjectAndItsService) {
  const NftPlan before = plan_of(2);
  ASSERT_TRUE(backend_.apply_full(before));
  NftPlan after = plan_of(3);
  NftChange change;
  change.elements_added = {{"service-ips", service_element(2)}, {"endpoints", endpoint_element(2, 0)}};
  // The kernel refuses the endpoints message (index 2: after BATCH_BEGIN and
  // the service-ips message), without saying which attribute.
  transport_.refuse_next = FakeNftTransport::Refusal{2, ENOENT, std::nullopt, "set not found"};
  auto applied = backend_.apply(change, {&before, &after});
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().message,
            "nftables refused the transaction: adding element 10.96.0.2 . tcp . 80 . 0 in map endpoints "
            "(service ns/svc2:http) with data 10.200.0.2 . 8080: No such file or directory (set not found)");
  EXPECT_EQ(applied.error().object, std::optional<std::string>("adding element 10.96.0.2 . tcp . 80 . 0 in map "
                                                               "endpoints (service ns/svc2:http) with data "
                                                               "10.200.0.2 . 8080"));
  EXPECT_EQ(applied.error().done.transactions, 0u);
}

TEST_F(NftBackendTest, CommitFailureIsAboutTheTransaction) {
  ASSERT_TRUE(backend_.apply_full(plan_of(1)));
  NftChange change;
  change.elements_added = {{"service-ips", service_element(2)}};
  transport_.refuse_next = FakeNftTransport::Refusal{0, ELOOP, std::nullopt, ""};
  auto applied = backend_.apply(change);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message, HasSubstr("the transaction on table ip kubenat: Too many levels"));
  EXPECT_FALSE(applied.error().object);
}

TEST_F(NftBackendTest, LostAnswersAndSendFailuresLeaveTheOutcomeUnknown) {
  ASSERT_TRUE(backend_.apply_full(plan_of(1)));
  NftChange change;
  change.elements_added = {{"service-ips", service_element(2)}};
  transport_.drop_acks_next = true;
  auto lost = backend_.apply(change);
  ASSERT_FALSE(lost);
  EXPECT_THAT(lost.error().message, HasSubstr("acknowledged 0 of 1 messages"));
  EXPECT_THAT(lost.error().message, HasSubstr("unknown"));
  transport_.fail_next = "sendmsg(NETLINK_NETFILTER, 120 bytes): Message too long";
  auto failed = backend_.apply(change);
  ASSERT_FALSE(failed);
  EXPECT_THAT(failed.error().message, HasSubstr("Message too long (whether the kernel applied it is unknown)"));
}

TEST_F(NftBackendTest, RuleThatCannotBeExpressedSendsNothing) {
  NftChange change;
  change.chains_added = {NftChain{"bad", std::nullopt,
                                  {NftRule{{nft::Match{NftField::ThDport, false, ip("10.0.0.1")}}, {}}}}};
  auto applied = backend_.apply(change);
  ASSERT_FALSE(applied);
  EXPECT_THAT(applied.error().message, HasSubstr("cannot express statement `th dport 10.0.0.1` of rule 1 of chain bad"));
  EXPECT_THAT(applied.error().message, HasSubstr("the destination port compared with an address"));
  EXPECT_THAT(transport_.sent, IsEmpty());
}

TEST_F(NftBackendTest, LargeFullApplySendsTheLayoutAndEveryVerdictFirstThenDataInChunks) {
  NftBackend backend(transport_, IpFamily::V4, "kubenat", NftBackend::Options{4096});
  auto applied = backend.apply_full(plan_of(200));
  ASSERT_TRUE(applied) << applied.error().message;
  ASSERT_GT(transport_.sent.size(), 3u);
  EXPECT_EQ(applied->transactions, transport_.sent.size());
  EXPECT_EQ(applied->elements_added, 400u);
  // The first transaction holds the table, its layout and every verdict
  // element (each makes the kernel validate the table: once is enough);
  // the others only data elements, each under the budget (give or take
  // one service port).
  EXPECT_EQ(transport_.sent[0].kinds()[0], K::AddTable);
  std::size_t service_ips = 0;
  std::size_t endpoints = 0;
  for (std::size_t i = 0; i < transport_.sent.size(); ++i) {
    const auto& sent = transport_.sent[i];
    if (i > 0) {
      for (const K kind : sent.kinds()) EXPECT_EQ(kind, K::AddElements);
      EXPECT_LT(sent.bytes.size(), 4096u + 256u);
    }
    for (const auto& message : sent.messages) {
      if (message.kind != K::AddElements) continue;
      if (message.object == "service-ips") {
        EXPECT_EQ(i, 0u) << "a verdict element after the first transaction";
        service_ips += message.elements;
      } else {
        endpoints += message.elements;
      }
    }
  }
  EXPECT_EQ(service_ips, 200u);
  EXPECT_EQ(endpoints, 200u);
  EXPECT_EQ(backend.table_intact(), Intact(true));
}

// A transport that passes the first transaction to `inner` and makes it
// refuse the second's first message (ENOMEM).
struct SecondTransactionRefused : NftTransport {
  FakeNftTransport& inner;
  int calls = 0;
  explicit SecondTransactionRefused(FakeNftTransport& t) : inner(t) {}
  std::expected<std::vector<NftAck>, std::string> send(const NftBatch& batch) override {
    if (++calls == 2) inner.refuse_next = FakeNftTransport::Refusal{1, ENOMEM, std::nullopt, ""};
    return inner.send(batch);
  }
  std::expected<std::optional<std::uint64_t>, std::string> table_handle(IpFamily f, const std::string& n) override {
    return inner.table_handle(f, n);
  }
  std::expected<std::vector<NftRawElement>, std::string> dump_elements(IpFamily f, const std::string& t,
                                                                       const std::string& s) override {
    return inner.dump_elements(f, t, s);
  }
};

TEST_F(NftBackendTest, FailedLaterChunkReportsWhatWasDone) {
  // Let the first transaction through, refuse the second's first message.
  SecondTransactionRefused once(transport_);
  NftBackend chunked(once, IpFamily::V4, "kubenat", NftBackend::Options{4096});
  auto applied = chunked.apply_full(plan_of(200));
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().done.transactions, 1u);
  EXPECT_GT(applied.error().done.elements_added, 0u);
  EXPECT_THAT(applied.error().message, HasSubstr("Cannot allocate memory"));
  // The table was made: its handle is known.
  EXPECT_TRUE(chunked.table_handle());
}

TEST_F(NftBackendTest, ChunksOfAFullApplyNumberTheirMessagesOnFromTheChunkBefore) {
  NftBackend chunked(transport_, IpFamily::V4, "kubenat", NftBackend::Options{4096});
  ASSERT_TRUE(chunked.apply_full(plan_of(200)));
  ASSERT_GT(transport_.sent.size(), 3u);
  std::uint32_t next = transport_.sent[0].messages.front().seq;
  for (const auto& sent : transport_.sent) {
    for (const NftMessageInfo& message : sent.messages) EXPECT_EQ(message.seq, next++);
  }
  // The next transaction goes on from the last chunk.
  NftChange change;
  change.elements_added = {{"service-ips", service_element(999)}};
  ASSERT_TRUE(chunked.apply(change));
  EXPECT_EQ(transport_.sent.back().messages.front().seq, next);
}

TEST_F(NftBackendTest, NoChunkIsSentAfterARefusedOne) {
  SecondTransactionRefused refusing(transport_);
  NftBackend chunked(refusing, IpFamily::V4, "kubenat", NftBackend::Options{4096});
  ASSERT_FALSE(chunked.apply_full(plan_of(200)));
  EXPECT_EQ(transport_.sent.size(), 2u);
}

TEST_F(NftBackendTest, ElementsOfKnownIntervalSetsUseTheirDeclaration) {
  NftPlan plan = plan_of(0);
  plan.sets.push_back(NftSet{"local", {NftType::Ipv4Addr}, {}, true, std::nullopt, ""});
  ASSERT_TRUE(backend_.apply_full(plan));
  NftChange change;
  change.elements_added = {{"local", NftElement{{ip("10.1.2.3")}, {}}}};
  ASSERT_TRUE(backend_.apply(change));
  // One address of an interval set: a start and an interval-end element, in
  // one message.
  const auto& sent = transport_.sent.back();
  ASSERT_EQ(sent.kinds(), std::vector<K>{K::AddElements});
  EXPECT_EQ(sent.messages[1].elements, 1u);
  auto set = nftnl::make_set();
  ASSERT_GE(nftnl_set_elems_nlmsg_parse(
                reinterpret_cast<const nlmsghdr*>(sent.bytes.data() + sent.messages[1].offset), set.get()),
            0);
  int nests = 0;
  nftnl_set_elem_foreach(
      set.get(), [](nftnl_set_elem*, void* count) { return ++*static_cast<int*>(count), 0; }, &nests);
  EXPECT_EQ(nests, 2);
}

}  // namespace
}  // namespace kubenat
