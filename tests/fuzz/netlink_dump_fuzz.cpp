// Fuzzes what kubenat reads from the kernel over netlink: one datagram of an
// answer, walked as NetlinkSocket::exchange() walks it (read_answer_datagram:
// sequence and port filter, NLMSG_ERROR with its extended ACK, NLMSG_DONE),
// and every message it passes on read by each parser of the answers kubenat
// asks for: a route (rtnetlink dumps), a set's elements (nf_tables GETSETELEM
// dumps, then decoded as the nftables backend decodes them for the key and
// data types its sets have), a table's handle (GETTABLE), an acknowledgement.
//
// The input is the datagram. Its first message's sequence number and port are
// taken for the request's, so that the filter lets the datagram through.
//
// The seeds (corpus/netlink_dump/) are real datagrams, one per file, as a
// network namespace's kernel sent them to kubenat's requests: GETSETELEM dumps
// of sets and maps of every key and data type the backend uses (with
// timeouts, verdicts, intervals, concatenations, IPv6), GETTABLE of a table
// (NEWTABLE and its ACK) and of a missing one (the error with and without
// NETLINK_CAP_ACK), RTM_GETROUTE dumps of both families (gateway, device,
// multipath and default routes), refused RTM_NEWROUTEs with extended ACKs;
// plus two edited ones: a route dump flagged NLM_F_DUMP_INTR and an NLMSG_DONE
// carrying an error and an extended ACK. They were written once by a
// throwaway program that sent these requests with libmnl and saved what it
// received.

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "engine/netlink/socket.h"
#include "engine/nftables/encoding.h"
#include "engine/nftables/transport.h"
#include "engine/routes/backend.h"

namespace kubenat {
namespace {

// The key and data types of the sets and maps the backend reads back or
// could: addresses, the destination concatenations, verdict maps, marks.
const std::vector<std::vector<NftType>> kTypeLists = {
    {NftType::Ipv4Addr},
    {NftType::Ipv6Addr},
    {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService},
    {NftType::Ipv6Addr, NftType::InetProto, NftType::InetService},
    {NftType::InetProto, NftType::InetService},
    {NftType::Ipv4Addr, NftType::InetService},
    {NftType::Verdict},
    {NftType::Mark},
};

void read_message(const nlmsghdr& message) {
  (void)parse_route_message(std::span(reinterpret_cast<const std::uint8_t*>(&message), message.nlmsg_len));
  if (auto elements = parse_set_element_message(message)) {
    for (const NftRawElement& element : *elements) {
      for (const std::vector<NftType>& types : kTypeLists) {
        (void)nft_encoding::unpack_values(types, element.key);
        (void)nft_encoding::unpack_values(types, element.data);
      }
    }
  }
  (void)parse_table_handle_message(message);
  (void)parse_netlink_ack(&message, message.nlmsg_len);
}

}  // namespace
}  // namespace kubenat

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kubenat;
  // exchange() receives into a buffer aligned for nlmsghdr and larger than any
  // datagram, and the kernel's datagrams are whole multiples of 4 bytes (every
  // message is NLMSG_ALIGNed), which libmnl counts on: it reads a message's
  // attributes up to its aligned end. So the copy is aligned and zero-padded
  // to a multiple of 4.
  std::vector<std::byte> buffer((size + 3) / 4 * 4);
  if (size > 0) std::memcpy(buffer.data(), data, size);
  std::uint32_t seq = 0;
  std::uint32_t port = 0;
  if (buffer.size() >= sizeof(nlmsghdr)) {
    nlmsghdr first;
    std::memcpy(&first, buffer.data(), sizeof first);
    seq = first.nlmsg_seq;
    port = first.nlmsg_pid;
  }
  bool interrupted = false;
  (void)read_answer_datagram(buffer, seq, port, interrupted, [](const nlmsghdr& message) { read_message(message); });
  return 0;
}
