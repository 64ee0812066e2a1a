// Both families behind one proxier: every change reaches both, each applies
// on its own, and the result keeps each family's figures apart.

#include "engine/dual_stack_proxier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace kubenat {
namespace {

using ::testing::HasSubstr;

// Records what it is asked and answers with a result set by the test.
class RecordingProxier final : public Proxier {
 public:
  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override {
    compiled_services.push_back(state.services.size());
    compiled_everything.push_back(changed == nullptr);
  }
  SyncResult apply() override {
    ++applied;
    return result;
  }
  void force_full_sync(std::string reason) override { forced.push_back(std::move(reason)); }

  std::vector<std::size_t> compiled_services;
  std::vector<bool> compiled_everything;
  int applied = 0;
  std::vector<std::string> forced;
  SyncResult result;
};

SyncResult succeeded(std::size_t bytes, std::string summary) {
  SyncResult result;
  result.ok = true;
  result.stats.bytes = bytes;
  result.stats.transactions = 1;
  result.summary = std::move(summary);
  return result;
}

class DualStackProxierTest : public ::testing::Test {
 protected:
  RecordingProxier v6_;
  RecordingProxier v4_;
  DualStackProxier proxier_{IpFamily::V6, v6_, v4_};
};

TEST_F(DualStackProxierTest, BothFamiliesCompileEveryChange) {
  ClusterState state;
  state.services[ObjectName{"default", "web"}] = Service{};
  const std::set<ObjectName> changed = {ObjectName{"default", "web"}};
  proxier_.compile(state, &changed);
  proxier_.compile(state, nullptr);
  EXPECT_EQ(v6_.compiled_services, (std::vector<std::size_t>{1, 1}));
  EXPECT_EQ(v4_.compiled_services, (std::vector<std::size_t>{1, 1}));
  EXPECT_EQ(v4_.compiled_everything, (std::vector<bool>{false, true}));
}

TEST_F(DualStackProxierTest, TheResultSumsBothFamiliesAndKeepsEachApartPrimaryFirst) {
  v6_.result = succeeded(100, "3 chains written");
  v4_.result = succeeded(40, "1 chain written");
  v4_.result.full = true;
  v4_.result.reason = "first sync";
  const SyncResult result = proxier_.apply();
  EXPECT_TRUE(result.ok);
  EXPECT_TRUE(result.full);
  EXPECT_EQ(result.reason, "first sync");
  EXPECT_EQ(result.stats.bytes, 140u);
  EXPECT_EQ(result.stats.transactions, 2u);
  EXPECT_EQ(result.summary, "IPv6: 3 chains written; IPv4: 1 chain written");
  ASSERT_EQ(result.by_family.size(), 2u);
  EXPECT_EQ(result.by_family[0].family, IpFamily::V6);
  EXPECT_EQ(result.by_family[0].stats.bytes, 100u);
  EXPECT_EQ(result.by_family[1].family, IpFamily::V4);
  EXPECT_TRUE(result.by_family[1].full);
}

TEST_F(DualStackProxierTest, OneFamilyFailingDoesNotKeepTheOtherFromApplying) {
  v6_.result.error = "ip6tables-restore: line 2 failed";
  v4_.result = succeeded(40, "1 chain written");
  const SyncResult result = proxier_.apply();
  EXPECT_EQ(v4_.applied, 1);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error, "IPv6: ip6tables-restore: line 2 failed");
  EXPECT_FALSE(result.by_family[0].ok);
  EXPECT_TRUE(result.by_family[1].ok);
}

TEST_F(DualStackProxierTest, WarningsAndNotesNameTheirFamily) {
  v6_.result = succeeded(1, "");
  v6_.result.warnings = {"conntrack -D failed"};
  v4_.result = succeeded(1, "");
  v4_.result.notes = {"removed iptables leftovers"};
  const SyncResult result = proxier_.apply();
  EXPECT_EQ(result.warnings, (std::vector<std::string>{"IPv6: conntrack -D failed"}));
  EXPECT_EQ(result.notes, (std::vector<std::string>{"IPv4: removed iptables leftovers"}));
}

TEST_F(DualStackProxierTest, ConntrackCleanupsAreAddedUp) {
  v6_.result = succeeded(1, "");
  v6_.result.conntrack = ConntrackCleanup{2, 1, std::chrono::milliseconds(3)};
  v4_.result = succeeded(1, "");
  v4_.result.conntrack = ConntrackCleanup{1, 4, std::chrono::milliseconds(2)};
  const SyncResult result = proxier_.apply();
  ASSERT_TRUE(result.conntrack);
  EXPECT_EQ(result.conntrack->filters, 3u);
  EXPECT_EQ(result.conntrack->deleted, 5u);
  EXPECT_EQ(result.conntrack->took, std::chrono::milliseconds(5));
}

TEST_F(DualStackProxierTest, AFullSyncIsForcedOnBothFamilies) {
  proxier_.force_full_sync("canary missing");
  EXPECT_EQ(v6_.forced, (std::vector<std::string>{"canary missing"}));
  EXPECT_EQ(v4_.forced, (std::vector<std::string>{"canary missing"}));
}

}  // namespace
}  // namespace kubenat
