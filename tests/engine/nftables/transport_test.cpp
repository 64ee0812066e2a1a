// The parsers of what the kernel transport's queries receive
// (parse_set_element_message, parse_table_handle_message), fed messages built
// here as the kernel builds them: no socket, no kernel.

#include "engine/nftables/transport.h"

// glibc's netinet headers before the kernel's linux/ ones.
#include <netinet/in.h>

#include <endian.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace kubenat {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (const int value : values) out.push_back(static_cast<std::byte>(value));
  return out;
}

// A message of nf_tables' dumps, built attribute by attribute.
class Message {
 public:
  explicit Message(std::uint16_t type)
      : header_(nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer_.data()), type, NFPROTO_IPV4, NLM_F_MULTI, 1)) {}

  nlmsghdr* header() { return header_; }

  // A NEWSETELEM's element list: NFTA_SET_ELEM_LIST_ELEMENTS, then one
  // NFTA_LIST_ELEM per element.
  nlattr* start_list() {
    mnl_attr_put_strz(header_, NFTA_SET_ELEM_LIST_TABLE, "kubenat");
    mnl_attr_put_strz(header_, NFTA_SET_ELEM_LIST_SET, "affinity");
    return mnl_attr_nest_start(header_, NFTA_SET_ELEM_LIST_ELEMENTS);
  }
  nlattr* start(std::uint16_t type) { return mnl_attr_nest_start(header_, type); }
  void end(nlattr* nest) { mnl_attr_nest_end(header_, nest); }
  // NFTA_SET_ELEM_KEY or NFTA_SET_ELEM_DATA holding `value`.
  void value(std::uint16_t type, const std::vector<std::uint8_t>& value) {
    nlattr* nest = start(type);
    mnl_attr_put(header_, NFTA_DATA_VALUE, value.size(), value.data());
    end(nest);
  }
  void u64(std::uint16_t type, std::uint64_t value) { mnl_attr_put_u64(header_, type, htobe64(value)); }

 private:
  std::array<std::uint32_t, 1024> buffer_{};
  nlmsghdr* header_;
};

TEST(SetElementMessage, ReadsEachElementsKeyDataAndTimeouts) {
  Message message(NFT_MSG_NEWSETELEM);
  nlattr* list = message.start_list();
  nlattr* first = message.start(NFTA_LIST_ELEM);
  message.value(NFTA_SET_ELEM_KEY, {10, 96, 0, 10});
  message.value(NFTA_SET_ELEM_DATA, {10, 244, 1, 5, 0x1f, 0x90});
  message.end(first);
  nlattr* second = message.start(NFTA_LIST_ELEM);
  message.value(NFTA_SET_ELEM_KEY, {10, 96, 0, 11});
  message.u64(NFTA_SET_ELEM_TIMEOUT, 10800000);
  message.u64(NFTA_SET_ELEM_EXPIRATION, 10799000);
  message.end(second);
  message.end(list);

  auto elements = parse_set_element_message(*message.header());
  ASSERT_TRUE(elements.has_value()) << elements.error();
  ASSERT_THAT(*elements, SizeIs(2));
  EXPECT_EQ((*elements)[0].key, bytes({10, 96, 0, 10}));
  EXPECT_EQ((*elements)[0].data, bytes({10, 244, 1, 5, 0x1f, 0x90}));
  EXPECT_EQ((*elements)[0].timeout_ms, std::nullopt);
  EXPECT_EQ((*elements)[1].key, bytes({10, 96, 0, 11}));
  EXPECT_THAT((*elements)[1].data, IsEmpty());
  EXPECT_EQ((*elements)[1].timeout_ms, 10800000u);
  EXPECT_EQ((*elements)[1].expires_ms, 10799000u);
}

TEST(SetElementMessage, AVerdictReadsAsNoData) {
  Message message(NFT_MSG_NEWSETELEM);
  nlattr* list = message.start_list();
  nlattr* element = message.start(NFTA_LIST_ELEM);
  message.value(NFTA_SET_ELEM_KEY, {10, 96, 0, 10});
  nlattr* data = message.start(NFTA_SET_ELEM_DATA);
  nlattr* verdict = message.start(NFTA_DATA_VERDICT);
  mnl_attr_put_u32(message.header(), NFTA_VERDICT_CODE, htonl(static_cast<std::uint32_t>(NFT_GOTO)));
  mnl_attr_put_strz(message.header(), NFTA_VERDICT_CHAIN, "service-x");
  message.end(verdict);
  message.end(data);
  message.end(element);
  message.end(list);

  auto elements = parse_set_element_message(*message.header());
  ASSERT_TRUE(elements.has_value()) << elements.error();
  ASSERT_THAT(*elements, SizeIs(1));
  EXPECT_EQ((*elements)[0].key, bytes({10, 96, 0, 10}));
  EXPECT_THAT((*elements)[0].data, IsEmpty());
}

TEST(SetElementMessage, AMessageWithoutElementsHasNone) {
  Message message(NFT_MSG_NEWSETELEM);
  mnl_attr_put_strz(message.header(), NFTA_SET_ELEM_LIST_TABLE, "kubenat");
  auto elements = parse_set_element_message(*message.header());
  ASSERT_TRUE(elements.has_value()) << elements.error();
  EXPECT_THAT(*elements, IsEmpty());
}

TEST(SetElementMessage, AMessageTooShortForItsHeaderIsUnreadable) {
  Message message(NFT_MSG_NEWSETELEM);
  message.header()->nlmsg_len = sizeof(nlmsghdr);
  auto elements = parse_set_element_message(*message.header());
  ASSERT_FALSE(elements.has_value());
  EXPECT_EQ(elements.error(), "unreadable element");
}

TEST(SetElementMessage, AListEntryThatIsNotAnElementIsUnreadable) {
  Message message(NFT_MSG_NEWSETELEM);
  nlattr* list = message.start_list();
  nlattr* element = message.start(NFTA_LIST_ELEM + 1);
  message.value(NFTA_SET_ELEM_KEY, {10, 96, 0, 10});
  message.end(element);
  message.end(list);
  EXPECT_FALSE(parse_set_element_message(*message.header()).has_value());
}

TEST(SetElementMessage, AValueOfNoneOrMoreThan64BytesIsUnreadable) {
  for (const std::size_t length : {std::size_t{0}, std::size_t{65}}) {
    Message message(NFT_MSG_NEWSETELEM);
    nlattr* list = message.start_list();
    nlattr* element = message.start(NFTA_LIST_ELEM);
    message.value(NFTA_SET_ELEM_KEY, std::vector<std::uint8_t>(length, 1));
    message.end(element);
    message.end(list);
    EXPECT_FALSE(parse_set_element_message(*message.header()).has_value()) << length;
  }
}

TEST(SetElementMessage, ATimeoutThatIsNot8BytesIsUnreadable) {
  Message message(NFT_MSG_NEWSETELEM);
  nlattr* list = message.start_list();
  nlattr* element = message.start(NFTA_LIST_ELEM);
  message.value(NFTA_SET_ELEM_KEY, {10, 96, 0, 10});
  mnl_attr_put_u32(message.header(), NFTA_SET_ELEM_TIMEOUT, 1000);
  message.end(element);
  message.end(list);
  EXPECT_FALSE(parse_set_element_message(*message.header()).has_value());
}

TEST(SetElementMessage, AStringAttributeWithoutItsStringIsIgnored) {
  // libnftnl exits the process on this ("nf_tables kernel ABI is broken").
  Message message(NFT_MSG_NEWSETELEM);
  mnl_attr_put(message.header(), NFTA_SET_ELEM_LIST_TABLE, 0, nullptr);
  auto elements = parse_set_element_message(*message.header());
  ASSERT_TRUE(elements.has_value()) << elements.error();
  EXPECT_THAT(*elements, IsEmpty());
}

TEST(TableHandleMessage, ReadsTheHandle) {
  Message message(NFT_MSG_NEWTABLE);
  mnl_attr_put_strz(message.header(), NFTA_TABLE_NAME, "kubenat");
  message.u64(NFTA_TABLE_HANDLE, 42);
  EXPECT_EQ(parse_table_handle_message(*message.header()), 42u);
}

TEST(TableHandleMessage, ATableWithoutAHandleReadsAsHandle0) {
  Message message(NFT_MSG_NEWTABLE);
  mnl_attr_put_strz(message.header(), NFTA_TABLE_NAME, "kubenat");
  EXPECT_EQ(parse_table_handle_message(*message.header()), 0u);
}

TEST(TableHandleMessage, AHandleThatIsNot8BytesIsUnreadable) {
  Message message(NFT_MSG_NEWTABLE);
  mnl_attr_put_u32(message.header(), NFTA_TABLE_HANDLE, 42);
  EXPECT_EQ(parse_table_handle_message(*message.header()), std::nullopt);
}

TEST(TableHandleMessage, AMessageTooShortForItsHeaderIsUnreadable) {
  Message message(NFT_MSG_NEWTABLE);
  message.header()->nlmsg_len = sizeof(nlmsghdr) + 2;
  EXPECT_EQ(parse_table_handle_message(*message.header()), std::nullopt);
}

}  // namespace
}  // namespace kubenat
