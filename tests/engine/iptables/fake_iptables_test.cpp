// The in-memory iptables the backend and syncer tests run against. It is
// their oracle for ordering bugs, so its iptables-restore --noflush
// semantics are pinned down here.

#include "tests/support/fake_iptables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::FakeIptables;

constexpr IpFamily V4 = IpFamily::V4;

TEST(FakeIptables, StartsWithTheBuiltInChainsOfEachTable) {
  FakeIptables iptables;
  EXPECT_THAT(iptables.chains("filter"), ElementsAre("INPUT", "FORWARD", "OUTPUT"));
  EXPECT_THAT(iptables.chains("nat"), ElementsAre("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"));
  EXPECT_THAT(iptables.chains("mangle"), ElementsAre("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"));
  EXPECT_THAT(iptables.user_chains("nat", IpFamily::V6), IsEmpty());
}

TEST(FakeIptables, DeclaringAnExistingChainFlushesIt) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j RETURN\nCOMMIT\n"));
  ASSERT_TRUE(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j ACCEPT\nCOMMIT\n"));
  EXPECT_THAT(iptables.rules("nat", "KUBE-A"), ElementsAre("-j ACCEPT"));
}

TEST(FakeIptables, UndeclaredChainsAreLeftAlone) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j RETURN\nCOMMIT\n"));
  ASSERT_TRUE(iptables.restore(V4, "*nat\n:KUBE-B - [0:0]\nCOMMIT\n"));
  EXPECT_THAT(iptables.rules("nat", "KUBE-A"), ElementsAre("-j RETURN"));
}

TEST(FakeIptables, DeclaringABuiltInChainDoesNotFlushIt) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n"));
  ASSERT_TRUE(iptables.restore(V4, "*filter\n:INPUT DROP [0:0]\nCOMMIT\n"));
  EXPECT_THAT(iptables.rules("filter", "INPUT"), ElementsAre("-j ACCEPT"));
  EXPECT_THAT(*iptables.save(V4, "filter"), HasSubstr(":INPUT DROP [0:0]\n"));
}

TEST(FakeIptables, InsertPutsTheRuleAtItsOneBasedPosition) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*filter\n-A INPUT -j ACCEPT\n-I INPUT -j DROP\n-I INPUT 2 -j REJECT\nCOMMIT\n"));
  EXPECT_THAT(iptables.rules("filter", "INPUT"), ElementsAre("-j DROP", "-j REJECT", "-j ACCEPT"));
}

TEST(FakeIptables, JumpToAMissingChainFailsAtCommitNamingTheRuleLine) {
  FakeIptables iptables;
  auto result = iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j KUBE-B\nCOMMIT\n");
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error(), HasSubstr("iptables-restore: line 3 failed"));
}

TEST(FakeIptables, JumpToAChainDeclaredLaterInTheSameTableIsAccepted) {
  FakeIptables iptables;
  EXPECT_TRUE(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j KUBE-B\n:KUBE-B - [0:0]\nCOMMIT\n"));
}

TEST(FakeIptables, AJumpMustNameAChainOfTheSameTable) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*filter\n:KUBE-B - [0:0]\nCOMMIT\n"));
  EXPECT_FALSE(iptables.restore(V4, "*nat\n-A PREROUTING -j KUBE-B\nCOMMIT\n"));
}

TEST(FakeIptables, DeletingAReferencedChainFails) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*nat\n:KUBE-B - [0:0]\n-A PREROUTING -j KUBE-B\nCOMMIT\n"));
  auto result = iptables.restore(V4, "*nat\n:KUBE-B - [0:0]\n-X KUBE-B\nCOMMIT\n");
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error(), HasSubstr("line 3 failed"));
}

TEST(FakeIptables, DeletingANonEmptyChainFails) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*nat\n:KUBE-B - [0:0]\n-A KUBE-B -j RETURN\nCOMMIT\n"));
  EXPECT_FALSE(iptables.restore(V4, "*nat\n-X KUBE-B\nCOMMIT\n"));
  EXPECT_TRUE(iptables.restore(V4, "*nat\n:KUBE-B - [0:0]\n-X KUBE-B\nCOMMIT\n"));
  EXPECT_FALSE(iptables.has_chain("nat", "KUBE-B"));
}

TEST(FakeIptables, DeleteRuleRemovesTheFirstIdenticalRule) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*filter\n-A INPUT -j DROP\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n"));
  ASSERT_TRUE(iptables.restore(V4, "*filter\n-D INPUT -j DROP\nCOMMIT\n"));
  EXPECT_THAT(iptables.rules("filter", "INPUT"), ElementsAre("-j ACCEPT", "-j DROP"));
  EXPECT_FALSE(iptables.restore(V4, "*filter\n-D INPUT -j REJECT\nCOMMIT\n"));
}

TEST(FakeIptables, AppendToAMissingChainFails) {
  FakeIptables iptables;
  EXPECT_FALSE(iptables.restore(V4, "*nat\n-A KUBE-NOPE -j RETURN\nCOMMIT\n"));
}

TEST(FakeIptables, UnknownLinesAndMissingCommitFail) {
  FakeIptables iptables;
  EXPECT_FALSE(iptables.restore(V4, "*nat\n-Z KUBE-A\nCOMMIT\n"));
  EXPECT_FALSE(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n"));
  EXPECT_FALSE(iptables.restore(V4, "*raw\nCOMMIT\n"));
  EXPECT_FALSE(iptables.has_chain("nat", "KUBE-A"));
}

TEST(FakeIptables, ARefusedPayloadChangesNothingInAnyTable) {
  FakeIptables iptables;
  auto result = iptables.restore(V4, "*filter\n:KUBE-F - [0:0]\nCOMMIT\n*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j KUBE-B\nCOMMIT\n");
  ASSERT_FALSE(result);
  EXPECT_FALSE(iptables.has_chain("filter", "KUBE-F"));
  EXPECT_FALSE(iptables.has_chain("nat", "KUBE-A"));
}

TEST(FakeIptables, FamiliesAreSeparate) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(IpFamily::V6, "*nat\n:KUBE-A - [0:0]\nCOMMIT\n"));
  EXPECT_TRUE(iptables.has_chain("nat", "KUBE-A", IpFamily::V6));
  EXPECT_FALSE(iptables.has_chain("nat", "KUBE-A", IpFamily::V4));
}

TEST(FakeIptables, RestoresAreLoggedWithTheirOutcome) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.restore(V4, "*nat\nCOMMIT\n"));
  ASSERT_FALSE(iptables.restore(V4, "*nat\n-X KUBE-A\nCOMMIT\n"));
  ASSERT_EQ(iptables.restores().size(), 2u);
  EXPECT_TRUE(iptables.restores()[0].ok());
  EXPECT_EQ(iptables.restores()[0].payload, "*nat\nCOMMIT\n");
  EXPECT_THAT(iptables.restores()[1].error, HasSubstr("line 2 failed"));
}

TEST(FakeIptables, InjectedFailureRefusesTheNextRestoreOnly) {
  FakeIptables iptables;
  iptables.fail_next_restore("iptables-restore: line 1 failed");
  EXPECT_EQ(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\nCOMMIT\n").error(), "iptables-restore: line 1 failed");
  EXPECT_FALSE(iptables.has_chain("nat", "KUBE-A"));
  EXPECT_TRUE(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\nCOMMIT\n"));
}

TEST(FakeIptables, InjectedLineFailureNamesTheFirstLineContainingTheText) {
  FakeIptables iptables;
  iptables.fail_next_restore_at_line_containing("-A KUBE-A");
  auto result = iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j RETURN\nCOMMIT\n");
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error(), HasSubstr("line 3 failed"));
  EXPECT_TRUE(iptables.restore(V4, "*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j RETURN\nCOMMIT\n"));
}

TEST(FakeIptables, SaveListsBuiltInsThenUserChainsThenRules) {
  FakeIptables iptables;
  iptables.seed("*nat\n:KUBE-B - [0:0]\n:KUBE-A - [0:0]\n-A KUBE-B -j RETURN\n-A OUTPUT -j KUBE-A\nCOMMIT\n");
  EXPECT_EQ(*iptables.save(V4, "nat"),
            "# Generated by FakeIptables\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n"
            "-A OUTPUT -j KUBE-A\n-A KUBE-B -j RETURN\nCOMMIT\n# Completed\n");
  EXPECT_THAT(iptables.restores(), IsEmpty());
}

TEST(FakeIptables, ListChainExitsOneWhenTheChainIsMissing) {
  FakeIptables iptables;
  auto result = iptables.run(V4, {"-t", "nat", "-S", "KUBE-A"});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->exit_status, 1);
  EXPECT_THAT(result->err, HasSubstr("No chain/target/match by that name."));
}

TEST(FakeIptables, ListChainPrintsTheChainAndItsRules) {
  FakeIptables iptables;
  iptables.seed("*mangle\n:KUBE-A - [0:0]\n-A KUBE-A -m comment --comment \"a b\" -j RETURN\nCOMMIT\n");
  auto result = iptables.run(V4, {"-t", "mangle", "-S", "KUBE-A"});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->exit_status, 0);
  EXPECT_EQ(result->out, "-N KUBE-A\n-A KUBE-A -m comment --comment \"a b\" -j RETURN\n");
}

TEST(FakeIptables, FlushTableEmptiesEveryChainButKeepsThem) {
  FakeIptables iptables;
  iptables.seed("*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j RETURN\n-A OUTPUT -j KUBE-A\nCOMMIT\n");
  ASSERT_TRUE(iptables.run(V4, {"-t", "nat", "-F"})->ok());
  EXPECT_TRUE(iptables.has_chain("nat", "KUBE-A"));
  EXPECT_THAT(iptables.rules("nat", "KUBE-A"), IsEmpty());
  EXPECT_THAT(iptables.rules("nat", "OUTPUT"), IsEmpty());
}

TEST(FakeIptables, DeleteChainCommandRefusesANonEmptyChain) {
  FakeIptables iptables;
  iptables.seed("*mangle\n:KUBE-A - [0:0]\n-A KUBE-A -j RETURN\nCOMMIT\n");
  EXPECT_EQ(iptables.run(V4, {"-t", "mangle", "-X", "KUBE-A"})->exit_status, 1);
  ASSERT_TRUE(iptables.run(V4, {"-t", "mangle", "-F", "KUBE-A"})->ok());
  ASSERT_TRUE(iptables.run(V4, {"-t", "mangle", "-X", "KUBE-A"})->ok());
  EXPECT_FALSE(iptables.has_chain("mangle", "KUBE-A"));
}

TEST(FakeIptables, RuleCommandsQuoteArgumentsWithSpaces) {
  FakeIptables iptables;
  ASSERT_TRUE(iptables.run(V4, {"-w", "-t", "filter", "-A", "INPUT", "-m", "comment", "--comment", "a b", "-j",
                                "ACCEPT"})->ok());
  EXPECT_THAT(iptables.rules("filter", "INPUT"), ElementsAre("-m comment --comment \"a b\" -j ACCEPT"));
  EXPECT_TRUE(iptables.run(V4, {"-C", "INPUT", "-m", "comment", "--comment", "a b", "-j", "ACCEPT"})->ok());
  EXPECT_EQ(iptables.run(V4, {"-C", "INPUT", "-j", "DROP"})->exit_status, 1);
}

}  // namespace
}  // namespace kubenat
