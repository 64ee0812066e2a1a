// Deleting a whole nftables table (kube-proxy's or kubenat's) when it is there.

#include "engine/nftables/cleanup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_nft_transport.h"

namespace kubenat {
namespace {

using kubenat::testing::FakeNftTransport;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(DeleteNftablesTable, DeletesATableThatIsThereInOneTransaction) {
  FakeNftTransport transport;
  transport.recreate_table();
  auto deleted = delete_nftables_table(transport, IpFamily::V4, "kube-proxy");
  ASSERT_TRUE(deleted) << deleted.error();
  EXPECT_TRUE(*deleted);
  ASSERT_EQ(transport.sent.size(), 1u);
  EXPECT_THAT(transport.sent[0].kinds(), ElementsAre(NftMessageKind::AddTable, NftMessageKind::DeleteTable));
}

TEST(DeleteNftablesTable, AnAbsentTableSendsNothing) {
  FakeNftTransport transport;
  auto deleted = delete_nftables_table(transport, IpFamily::V6, "kubenat");
  ASSERT_TRUE(deleted) << deleted.error();
  EXPECT_FALSE(*deleted);
  EXPECT_THAT(transport.sent, IsEmpty());
}

TEST(DeleteNftablesTable, ARefusalNamesTheTable) {
  FakeNftTransport transport;
  transport.recreate_table();
  transport.refuse_next = FakeNftTransport::Refusal{2, EPERM, std::nullopt, ""};
  auto deleted = delete_nftables_table(transport, IpFamily::V6, "kubenat");
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error(), "deleting table ip6 kubenat: Operation not permitted");
}

}  // namespace
}  // namespace kubenat
