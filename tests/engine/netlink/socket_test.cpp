// What NetlinkSocket::exchange() makes of the kernel's datagrams
// (read_answer_datagram) and of its acknowledgements (parse_netlink_ack),
// fed datagrams built here: no socket, no kernel.

#include "engine/netlink/socket.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::uint32_t kSeq = 7;
constexpr std::uint32_t kPort = 4242;
constexpr std::uint16_t kSomeMessage = 0x10;  // any type above NLMSG_MIN_TYPE

// A datagram built message by message, aligned as the kernel sends it.
class Datagram {
 public:
  nlmsghdr* add(std::uint16_t type, std::uint32_t seq = kSeq, std::uint32_t port = kPort) {
    bytes_.resize(used_ + 4096);
    nlmsghdr* header = mnl_nlmsg_put_header(bytes_.data() + used_);
    header->nlmsg_type = type;
    header->nlmsg_seq = seq;
    header->nlmsg_pid = port;
    last_ = used_;
    return header;
  }
  // After each message's payload is in place.
  void close() { used_ = last_ + MNL_ALIGN(reinterpret_cast<nlmsghdr*>(bytes_.data() + last_)->nlmsg_len); }

  std::span<const std::byte> bytes() const { return std::as_bytes(std::span(bytes_.data(), used_)); }

 private:
  std::vector<char> bytes_ = std::vector<char>(4096);
  std::size_t used_ = 0;
  std::size_t last_ = 0;
};

// An NLMSG_ERROR carrying `error` (0 or -errno), capped, with the extended
// ACK's message when given.
void add_ack(Datagram& datagram, int error, const char* message = nullptr) {
  nlmsghdr* header = datagram.add(NLMSG_ERROR);
  header->nlmsg_flags = NLM_F_CAPPED;
  auto* payload = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
  payload->error = error;
  payload->msg.nlmsg_len = sizeof(nlmsghdr);
  payload->msg.nlmsg_seq = kSeq;
  if (message != nullptr) {
    header->nlmsg_flags |= NLM_F_ACK_TLVS;
    mnl_attr_put_strz(header, NLMSGERR_ATTR_MSG, message);
  }
  datagram.close();
}

void add_done(Datagram& datagram, int code = 0, std::uint16_t flags = NLM_F_MULTI) {
  nlmsghdr* header = datagram.add(NLMSG_DONE);
  header->nlmsg_flags = flags;
  auto* payload = static_cast<int*>(mnl_nlmsg_put_extra_header(header, sizeof(int)));
  *payload = code;
  datagram.close();
}

void add_message(Datagram& datagram, std::uint32_t seq = kSeq, std::uint32_t port = kPort, std::uint16_t flags = 0) {
  nlmsghdr* header = datagram.add(kSomeMessage, seq, port);
  header->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_MULTI | flags);
  mnl_attr_put_u32(header, 1, seq);
  datagram.close();
}

// Runs read_answer_datagram over `datagram`, recording the sequence numbers
// of the messages it passes on.
struct Reader {
  std::optional<std::expected<void, NetlinkError>> read(const Datagram& datagram) {
    return read_answer_datagram(datagram.bytes(), kSeq, kPort, interrupted,
                                [this](const nlmsghdr& message) { passed.push_back(message.nlmsg_seq); });
  }
  bool interrupted = false;
  std::vector<std::uint32_t> passed;
};

TEST(ReadAnswerDatagram, ADumpPartPassesItsMessagesOnAndAsksForMore) {
  Datagram datagram;
  add_message(datagram);
  add_message(datagram);
  Reader reader;
  EXPECT_EQ(reader.read(datagram), std::nullopt);
  EXPECT_THAT(reader.passed, ElementsAre(kSeq, kSeq));
}

TEST(ReadAnswerDatagram, DoneEndsTheDump) {
  Datagram datagram;
  add_message(datagram);
  add_done(datagram);
  Reader reader;
  auto answer = reader.read(datagram);
  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->has_value());
  EXPECT_EQ(reader.passed.size(), 1u);
}

TEST(ReadAnswerDatagram, MessagesOfOtherRequestsAreSkipped) {
  Datagram datagram;
  add_message(datagram, kSeq + 1, kPort);
  add_message(datagram, kSeq, kPort + 1);
  add_message(datagram, kSeq, 0);  // from the kernel, not addressed
  Reader reader;
  EXPECT_EQ(reader.read(datagram), std::nullopt);
  EXPECT_THAT(reader.passed, ElementsAre(kSeq));
}

TEST(ReadAnswerDatagram, AnAcknowledgementEndsTheAnswer) {
  Datagram datagram;
  add_ack(datagram, 0);
  add_message(datagram);
  Reader reader;
  auto answer = reader.read(datagram);
  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->has_value());
  EXPECT_TRUE(reader.passed.empty());
}

TEST(ReadAnswerDatagram, ARefusalCarriesTheErrnoAndTheKernelsWords) {
  Datagram datagram;
  add_ack(datagram, -ENOENT, "No such set");
  Reader reader;
  auto answer = reader.read(datagram);
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->has_value());
  EXPECT_EQ(answer->error().code, ENOENT);
  EXPECT_THAT(answer->error().message, HasSubstr("(No such set)"));
}

TEST(ReadAnswerDatagram, ADumpThatFailedMidwaySaysSoInDone) {
  Datagram datagram;
  add_done(datagram, -EBUSY);
  Reader reader;
  auto answer = reader.read(datagram);
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->has_value());
  EXPECT_EQ(answer->error().code, EBUSY);
}

TEST(ReadAnswerDatagram, ADumpInterruptedInAnEarlierDatagramFailsWithEintrAtItsEnd) {
  Datagram first;
  add_message(first, kSeq, kPort, NLM_F_DUMP_INTR);
  Datagram last;
  add_done(last);
  Reader reader;
  EXPECT_EQ(reader.read(first), std::nullopt);
  EXPECT_TRUE(reader.interrupted);
  auto answer = reader.read(last);
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->has_value());
  EXPECT_EQ(answer->error().code, EINTR);
}

TEST(ReadAnswerDatagram, AMessageLongerThanTheDatagramEndsTheWalk) {
  Datagram datagram;
  add_message(datagram);
  // libmnl's own check takes a length of 2 GiB or more for a negative one.
  for (const std::uint32_t length : {0x80000010u, 0xfffffff0u, 4096u}) {
    std::vector<std::byte> bytes(datagram.bytes().begin(), datagram.bytes().end());
    reinterpret_cast<nlmsghdr*>(bytes.data())->nlmsg_len = length;
    bool interrupted = false;
    auto answer = read_answer_datagram(bytes, kSeq, kPort, interrupted, [&](const nlmsghdr&) { ADD_FAILURE(); });
    EXPECT_EQ(answer, std::nullopt) << length;
  }
}

TEST(ReadAnswerDatagram, TheMostNegativeCodeInDoneIsABadMessage) {
  Datagram datagram;
  add_done(datagram, INT_MIN);
  Reader reader;
  auto answer = reader.read(datagram);
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->has_value());
  EXPECT_EQ(answer->error().code, EBADMSG);
}

// --- parse_netlink_ack -----------------------------------------------------

nlmsghdr* ack_header(std::vector<std::uint32_t>& storage, int error, std::uint16_t flags) {
  storage.assign(1024, 0);
  nlmsghdr* header = mnl_nlmsg_put_header(storage.data());
  header->nlmsg_type = NLMSG_ERROR;
  header->nlmsg_flags = flags;
  header->nlmsg_seq = kSeq;
  auto* payload = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
  payload->error = error;
  payload->msg.nlmsg_len = sizeof(nlmsghdr);
  return header;
}

TEST(ParseNetlinkAck, ReadsTheErrnoAndTheExtendedAck) {
  std::vector<std::uint32_t> storage;
  nlmsghdr* header = ack_header(storage, -EEXIST, NLM_F_CAPPED | NLM_F_ACK_TLVS);
  mnl_attr_put_strz(header, NLMSGERR_ATTR_MSG, "already there");
  mnl_attr_put_u32(header, NLMSGERR_ATTR_OFFS, 36);
  const NetlinkAck ack = parse_netlink_ack(header, header->nlmsg_len);
  EXPECT_EQ(ack.seq, kSeq);
  EXPECT_EQ(ack.error, EEXIST);
  EXPECT_EQ(ack.message, "already there");
  EXPECT_EQ(ack.offset, 36u);
}

TEST(ParseNetlinkAck, AnUncappedAckReadsTheExtendedAckAfterTheEchoedMessage) {
  std::vector<std::uint32_t> storage;
  nlmsghdr* header = ack_header(storage, -EINVAL, NLM_F_ACK_TLVS);
  // The refused request, echoed: a header and 8 bytes of payload.
  auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(header));
  error->msg.nlmsg_len = sizeof(nlmsghdr) + 8;
  header->nlmsg_len += 8;
  mnl_attr_put_strz(header, NLMSGERR_ATTR_MSG, "bad attribute");
  EXPECT_EQ(parse_netlink_ack(header, header->nlmsg_len).message, "bad attribute");
}

TEST(ParseNetlinkAck, AnEchoedLengthThatDoesNotFitLeavesTheExtendedAckUnread) {
  for (const std::uint32_t echoed : {0u, 15u, 4096u, 0xffffffffu}) {
    std::vector<std::uint32_t> storage;
    nlmsghdr* header = ack_header(storage, -EINVAL, NLM_F_ACK_TLVS);
    mnl_attr_put_strz(header, NLMSGERR_ATTR_MSG, "bad attribute");
    static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(header))->msg.nlmsg_len = echoed;
    const NetlinkAck ack = parse_netlink_ack(header, header->nlmsg_len);
    EXPECT_EQ(ack.error, EINVAL) << echoed;
    EXPECT_EQ(ack.message, "") << echoed;
  }
}

TEST(ParseNetlinkAck, AMessageLongerThanItsBytesIsABadMessage) {
  std::vector<std::uint32_t> storage;
  nlmsghdr* header = ack_header(storage, 0, NLM_F_CAPPED);
  EXPECT_EQ(parse_netlink_ack(header, header->nlmsg_len - 1).error, EBADMSG);
  header->nlmsg_len = sizeof(nlmsghdr) + 2;
  EXPECT_EQ(parse_netlink_ack(header, 1024).error, EBADMSG);
}

TEST(ParseNetlinkAck, TheMostNegativeErrorIsABadMessage) {
  std::vector<std::uint32_t> storage;
  nlmsghdr* header = ack_header(storage, INT_MIN, NLM_F_CAPPED);
  EXPECT_EQ(parse_netlink_ack(header, header->nlmsg_len).error, EBADMSG);
}

}  // namespace
}  // namespace kubenat
