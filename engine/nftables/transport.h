#pragma once

// The seam between the nftables backend and the kernel: a batch handed over
// as one transaction, the table's handle, one set's elements. The kernel
// one speaks nf_tables over the netlink socket layer
// (engine/netlink/socket.h); tests/support/fake_nft_transport.h records
// instead.

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "engine/netlink/socket.h"
#include "engine/nftables/batch.h"

namespace kubenat {

// The kernel's answer to one message of a batch.
using NftAck = NetlinkAck;

// A set element as the kernel holds it: its key's and its data's bytes, and
// in a set with timeouts its timeout and the time it has left.
struct NftRawElement {
  std::vector<std::byte> key;
  std::vector<std::byte> data;  // empty for a plain set
  std::optional<std::uint64_t> timeout_ms = std::nullopt;
  std::optional<std::uint64_t> expires_ms = std::nullopt;
};

class NftTransport {
 public:
  virtual ~NftTransport() = default;

  // Hands the finished batch to the kernel as one transaction and returns
  // every answer it gave: an acknowledgement or error per message, plus an
  // error with the BATCH_BEGIN sequence number when the transaction as a
  // whole failed (its commit, memory). The kernel applies all of the batch or
  // none of it. The error is for failing to talk to the kernel (send or
  // receive failed); whether the batch was applied is then unknown.
  [[nodiscard]] virtual std::expected<std::vector<NftAck>, std::string> send(const NftBatch& batch) = 0;

  // The handle of table `name` of `family` (one GETTABLE, never a dump), or
  // nullopt when there is no such table.
  [[nodiscard]] virtual std::expected<std::optional<std::uint64_t>, std::string> table_handle(
      IpFamily family, const std::string& name) = 0;

  // Every element of one set (one GETSETELEM dump): for the set the packet
  // path fills (session affinity), whose elements no plan knows. The error
  // is for a set that is not there or a failed exchange.
  [[nodiscard]] virtual std::expected<std::vector<NftRawElement>, std::string> dump_elements(
      IpFamily family, const std::string& table, const std::string& set) = 0;
};

// The parsers of what KernelNftTransport's queries receive, apart from the
// socket (so that tests and the fuzzer can feed them any message).

// The elements one NEWSETELEM message of a GETSETELEM dump carries, in the
// message's order (a verdict as data reads as no data); the error
// "unreadable element" for a malformed message: too short for its header, a
// list entry that is not an element, a value of 0 or more than 64 bytes, a
// timeout or expiration that is not 8 bytes.
[[nodiscard]] std::expected<std::vector<NftRawElement>, std::string> parse_set_element_message(const nlmsghdr& message);
// The handle a NEWTABLE message (the answer to a GETTABLE) carries, 0 when
// it has none; nullopt for a malformed message (too short for its header, a
// handle that is not 8 bytes).
[[nodiscard]] std::optional<std::uint64_t> parse_table_handle_message(const nlmsghdr& message);

// The transport over a NETLINK_NETFILTER socket of the network namespace
// the calling thread is in when it is opened.
class KernelNftTransport final : public NftTransport {
 public:
  // Opens the socket; the error names the failing syscall.
  [[nodiscard]] static std::expected<KernelNftTransport, std::string> open();
  explicit KernelNftTransport(NetlinkSocket socket) : socket_(std::move(socket)) {}

  // One sendmsg for the whole batch (NetlinkSocket::send_batch).
  [[nodiscard]] std::expected<std::vector<NftAck>, std::string> send(const NftBatch& batch) override;
  [[nodiscard]] std::expected<std::optional<std::uint64_t>, std::string> table_handle(
      IpFamily family, const std::string& name) override;
  [[nodiscard]] std::expected<std::vector<NftRawElement>, std::string> dump_elements(
      IpFamily family, const std::string& table, const std::string& set) override;

 private:
  NetlinkSocket socket_;
};

}  // namespace kubenat
