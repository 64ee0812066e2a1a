// The words for what the kernel refused and for rules without an
// nf_tables form.

#include "engine/nftables/error_text.h"

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

using namespace nft_messages;


// --- Errors traced back to objects.

TEST(NftErrorText, ElementAtTheKernelsOffset) {
  const ServiceIpsBatch fixture;
  const std::vector<NftElement>& elements = fixture.elements;
  const NftBatch& batch = fixture.batch;
  const nlmsghdr* header = fixture.message();
  // Inside the second element (a few bytes past its start, as for its key).
  const std::uint32_t offset = child_offset(header, NFTA_SET_ELEM_LIST_ELEMENTS, 1) + 8;
  const NftOwnerLookup owners = [&](std::string_view set, const NftElement* element) -> std::string {
    return set == "service-ips" && element == &elements[1] ? "service default/web:http" : "";
  };
  EXPECT_EQ(describe_refusal(batch, 11, offset, owners),
            "element 10.96.0.11 . tcp . 81 in map service-ips (service default/web:http) with data goto b");
  // No offset (the set itself was refused): the message's elements.
  EXPECT_EQ(describe_refusal(batch, 11, std::nullopt), "adding 3 elements in map service-ips (the first 10.96.0.10 . tcp . 80)");
  EXPECT_EQ(describe_refusal(batch, 10, std::nullopt), "the transaction on table ip kubenat");
  EXPECT_EQ(describe_refusal(batch, 99, std::nullopt), "message 99 (not of this batch)");
}

TEST(NftErrorText, StatementAtTheKernelsOffset) {
  NftBatch batch(IpFamily::V4, "kubenat", 1);
  const NftRule rule{{nft::Match{NftField::MetaL4proto, false, Protocol::Tcp}, nft::Vmap{kDestination, "service-ips"}},
                     "services"};
  ASSERT_TRUE(batch.add_rule("prerouting", rule, 2));
  const nlmsghdr* header = header_of(batch, 1);
  // Expressions: meta, cmp (statement 1), payload, meta, payload, lookup
  // (statement 2): the lookup is the sixth.
  const std::uint32_t offset = child_offset(header, NFTA_RULE_EXPRESSIONS, 5);
  EXPECT_EQ(describe_refusal(batch, 2, offset),
            "statement `ip daddr . meta l4proto . th dport vmap @service-ips` of rule 3 of chain prerouting "
            "(meta l4proto tcp ip daddr . meta l4proto . th dport vmap @service-ips comment \"services\")");
  EXPECT_EQ(describe_refusal(batch, 2, std::nullopt),
            "rule 3 of chain prerouting (meta l4proto tcp ip daddr . meta l4proto . th dport vmap @service-ips "
            "comment \"services\")");
}

TEST(NftErrorText, TablesChainsAndSets) {
  NftBatch batch(IpFamily::V6, "kubenat", 1);
  batch.add_table();
  batch.add_chain(NftChain{"svc-web", std::nullopt, {}});
  batch.flush_chain("svc-web");
  batch.delete_chain("old");
  batch.add_set(NftSet{"affinity-web", {NftType::Ipv6Addr}, {}, false, std::uint32_t{10}, ""});
  batch.delete_set("old-set");
  const NftOwnerLookup owners = [](std::string_view object, const NftElement*) -> std::string {
    return object == "svc-web" ? "service default/web:http" : "";
  };
  EXPECT_EQ(describe_refusal(batch, 2, std::nullopt), "adding table ip6 kubenat");
  EXPECT_EQ(describe_refusal(batch, 3, std::nullopt, owners), "adding chain svc-web (service default/web:http)");
  EXPECT_EQ(describe_refusal(batch, 4, std::nullopt, owners), "flushing chain svc-web (service default/web:http)");
  EXPECT_EQ(describe_refusal(batch, 5, std::nullopt, owners), "deleting chain old");
  EXPECT_EQ(describe_refusal(batch, 6, std::nullopt, owners), "adding set affinity-web");
  EXPECT_EQ(describe_refusal(batch, 7, std::nullopt, owners), "deleting set old-set");
}
TEST(NftErrorText, InexpressibleRuleNamesTheStatementTheRuleAndTheReason) {
  const NftRule rule{{nft::Masquerade{}, nft::Match{NftField::IpDaddr, false, Protocol::Tcp}}, {}};
  EXPECT_EQ(describe_inexpressible("c", 4, rule, NftInexpressible{1, "an address field compared with a protocol"},
                                   IpFamily::V4),
            "statement `ip daddr tcp` of rule 5 of chain c (masquerade ip daddr tcp): an address field compared "
            "with a protocol");
}

}  // namespace
}  // namespace kubenat
