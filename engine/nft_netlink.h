#pragma once

// nftables over netlink: the IR of rules/nft_plan.h turned into nf_tables
// messages (through libnftnl), gathered into one batch, and the transport
// that hands a batch to the kernel.
//
// - NftBatch builds a transaction as bytes, without a socket: BATCH_BEGIN,
//   one message per object (a table, chain, set or rule; set elements many to
//   a message), BATCH_END. Every message asks for an acknowledgement and has
//   its own sequence number; the batch remembers what each message is, so
//   that a kernel error (with the extended ACK's attribute offset) is traced
//   back to the element, set, chain or rule that caused it.
// - NftTransport is the seam the backend (engine/nft_backend.h) talks
//   through: send a batch, read the table's handle. KernelNftTransport is the
//   real one; tests/support/fake_nft_transport.h records instead.
//
// How the IR maps onto nf_tables follows what nft 1.0.6 sends for the same
// text (rules/nft_render.h), so `nft list` prints the same either way:
// expressions, register use, set key types and user data (byte orders,
// typeof, comments) are nft's. Where nft differs from the IR's comments, the
// IR comment is noted in nft_netlink.cpp.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/nft_plan.h"

struct mnl_socket;
struct nlmsghdr;

namespace kubenat {

// A bound netlink socket (libmnl). Move-only; closed when the handle goes
// away.
class NetlinkSocket {
 public:
  // socket(AF_NETLINK, SOCK_RAW, bus) and bind() with a kernel-chosen port
  // id. The error names the syscall that failed and errno.
  [[nodiscard]] static std::expected<NetlinkSocket, std::string> open(int bus);

  NetlinkSocket(NetlinkSocket&&) noexcept = default;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept = default;
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  ~NetlinkSocket() = default;

  int fd() const;
  std::uint32_t port_id() const;
  mnl_socket* get() const { return socket_.get(); }

 private:
  struct Closer {
    void operator()(mnl_socket* socket) const;
  };
  explicit NetlinkSocket(mnl_socket* socket) : socket_(socket) {}
  std::unique_ptr<mnl_socket, Closer> socket_;
};

// What one message of a batch does.
enum class NftMessageKind : std::uint8_t {
  BatchBegin,
  BatchEnd,
  AddTable,
  DeleteTable,
  AddChain,
  FlushChain,
  DeleteChain,
  AddSet,
  DeleteSet,
  AddElements,
  DeleteElements,
  AddRule,
};
std::string_view nft_message_kind_name(NftMessageKind kind);

struct NftMessageInfo {
  std::uint32_t seq = 0;
  NftMessageKind kind = NftMessageKind::BatchBegin;
  std::string object;        // the chain or set; empty for the table and batch markers
  std::size_t offset = 0;    // where the message starts in bytes()
  std::size_t length = 0;    // its nlmsg_len
  std::size_t elements = 0;  // IR elements in an AddElements/DeleteElements message
};

// A set element as the kernel holds it: its key's and its data's bytes, and
// in a set with timeouts its timeout and the time it has left.
struct NftRawElement {
  std::vector<std::byte> key;
  std::vector<std::byte> data;  // empty for a plain set
  std::optional<std::uint64_t> timeout_ms = std::nullopt;
  std::optional<std::uint64_t> expires_ms = std::nullopt;
};

// An element of a set with timeouts, with its own timeout and the time it
// has left: what a dump reports, and what a table made afresh is given back.
struct NftTimedElement {
  NftElement element;
  std::uint64_t timeout_ms = 0;
  std::uint64_t expires_ms = 0;
  bool operator==(const NftTimedElement&) const = default;
};

// Names the owner of an object an error is about ("service ns/name:port"),
// or "" when unknown. Given the set or chain name and, for elements, the
// element.
using NftOwnerLookup = std::function<std::string(std::string_view object, const NftElement* element)>;

// One nf_tables transaction under construction. Keeps pointers to the rules
// and elements it was given, for error messages: they must outlive the batch
// (a batch is built, sent and dropped within one apply).
class NftBatch {
 public:
  // The declarations of the sets rules and elements refer to, by name;
  // nullptr when unknown (the message is then built from the values alone).
  using SetLookup = std::function<const NftSet*(std::string_view name)>;

  // Starts the batch (BATCH_BEGIN gets first_seq, each message the next
  // number).
  NftBatch(IpFamily family, std::string table, std::uint32_t first_seq, SetLookup sets = {});
  NftBatch(NftBatch&&) noexcept;
  NftBatch& operator=(NftBatch&&) noexcept;
  ~NftBatch();

  // `add table` (NLM_F_CREATE: no error when it exists), `delete table`, and
  // `add table` that fails when the table exists (after a delete in the same
  // batch: a fresh table).
  void add_table();
  void delete_table();
  void create_table();

  // The chain's declaration: a regular chain, or a base chain with its type,
  // hook and priority, policy accept. Fails in the kernel when it exists.
  // Rules are added with add_rule().
  void add_chain(const NftChain& chain);
  // Removes every rule of the chain (and the anonymous maps of its numgen
  // vmaps).
  void flush_chain(std::string_view name);
  // Removes the chain and its rules; refused while something jumps to it.
  void delete_chain(std::string_view name);
  // Appends one rule to the chain; `position` (0-based) is for messages.
  // A NumgenVmap statement first adds its anonymous map (two messages). The
  // error is for a statement the builder cannot express (a value that does
  // not fit its field, more than 64 bytes of concatenated key); nothing is
  // added then.
  [[nodiscard]] std::expected<void, std::string> add_rule(std::string_view chain, const NftRule& rule,
                                                          std::size_t position);

  // The set or map with its key and data types and flags, no elements.
  void add_set(const NftSet& set);
  void delete_set(std::string_view name);

  // Elements in as few messages as fit (each under 64 KiB, the netlink
  // attribute limit). A prefix in an interval field becomes a range: for a
  // concatenated key, key and key end (NFTA_SET_ELEM_KEY_END); for a single
  // field, a start element and an interval-end element, as nft sends them.
  // `declaration` (may be null) tells whether a plain address in a
  // single-field interval set means that one address.
  void add_elements(std::string_view set, const NftSet* declaration, std::span<const NftElement* const> elements);
  void delete_elements(std::string_view set, const NftSet* declaration,
                       std::span<const NftElement* const> elements);
  // Elements with their own timeouts and expirations (a set with timeouts).
  void add_timed_elements(std::string_view set, const NftSet* declaration,
                          std::span<const NftTimedElement> elements);

  // Appends BATCH_END. Nothing may be added afterwards.
  void finish();
  // Whether finish() was called: only a finished batch may be sent (without
  // BATCH_END the kernel aborts the transaction yet acknowledges each
  // message as if all were well).
  bool finished() const { return finished_; }

  // The batch as sent: BATCH_BEGIN ... BATCH_END once finished.
  std::span<const std::byte> bytes() const { return {buffer_.data(), used_}; }
  std::size_t size() const { return used_; }
  IpFamily family() const { return family_; }
  const std::string& table() const { return table_; }
  // Every message, BATCH_BEGIN and BATCH_END included, in order.
  const std::vector<NftMessageInfo>& messages() const { return messages_; }
  // Messages that asked for an acknowledgement (all but the batch markers).
  std::size_t acks_expected() const;
  std::uint32_t first_seq() const { return first_seq_; }
  // The number the next batch should start from.
  std::uint32_t next_seq() const { return next_seq_; }

  // What the kernel refused, in words: the message with sequence number
  // `seq` and, when the kernel gave one (extended ACK), the offset of the
  // attribute at fault within it, narrowed down to the element or statement.
  // For example `element 10.96.0.10 . tcp . 80 in map service-ips (service
  // default/web:http)`. `owners` may be empty.
  std::string describe(std::uint32_t seq, std::optional<std::uint32_t> offset,
                       const NftOwnerLookup& owners = {}) const;

 private:
  struct ElementMessage;  // per element message: which IR elements its nests hold
  struct RuleMessage;     // per rule message: the rule and its statements' expressions

  nlmsghdr* start_message(std::uint16_t type, std::uint16_t flags);
  void end_message(nlmsghdr* header, NftMessageKind kind, std::string object, std::size_t elements = 0);
  void reserve(std::size_t bytes);
  // `times`, when not empty, holds each element's timeout and expiration.
  void put_elements(std::uint16_t type, std::uint16_t flags, NftMessageKind kind, std::string_view set,
                    std::optional<std::uint32_t> set_id, const NftSet* declaration,
                    std::span<const NftElement* const> elements,
                    std::span<const NftTimedElement> times = {});
  const NftSet* find_set(std::string_view name) const;

  IpFamily family_;
  std::string table_;
  std::uint32_t first_seq_;
  std::uint32_t next_seq_;
  std::uint32_t next_set_id_ = 1;
  SetLookup sets_;
  std::vector<std::byte> buffer_;
  std::size_t used_ = 0;
  bool finished_ = false;
  std::vector<NftMessageInfo> messages_;
  std::vector<std::unique_ptr<ElementMessage>> element_messages_;  // by message index, sparse
  std::vector<std::unique_ptr<RuleMessage>> rule_messages_;
};

// The kernel's answer to one message of a batch.
struct NftAck {
  std::uint32_t seq = 0;
  int error = 0;  // 0 for success, else a positive errno
  // Extended ACK: where in the refused message the attribute at fault
  // starts, and the kernel's words, when it gave them.
  std::optional<std::uint32_t> offset;
  std::string message;
};

// The seam between the nftables backend and the kernel.
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

// The transport over a NETLINK_NETFILTER socket of the calling thread's
// network namespace.
class KernelNftTransport final : public NftTransport {
 public:
  // Opens the socket; the error names the failing syscall.
  [[nodiscard]] static std::expected<KernelNftTransport, std::string> open();
  explicit KernelNftTransport(NetlinkSocket socket) : socket_(std::move(socket)) {}

  // One sendmsg for the whole batch. The socket's send buffer is raised to
  // the batch's size first (SO_SNDBUFFORCE, which needs CAP_NET_ADMIN, as
  // programming nftables does; SO_SNDBUF otherwise) and the receive buffer to
  // hold an acknowledgement per message. The kernel handles the batch within
  // sendmsg, so every answer is queued when it returns; they are read until
  // none is left.
  [[nodiscard]] std::expected<std::vector<NftAck>, std::string> send(const NftBatch& batch) override;
  [[nodiscard]] std::expected<std::optional<std::uint64_t>, std::string> table_handle(
      IpFamily family, const std::string& name) override;
  [[nodiscard]] std::expected<std::vector<NftRawElement>, std::string> dump_elements(
      IpFamily family, const std::string& table, const std::string& set) override;

 private:
  // One request message (not a batch), retried when interrupted.
  std::expected<void, std::string> send_request(const nlmsghdr* header, std::string_view what);
  std::expected<void, std::string> ensure_buffers(std::size_t send_bytes, std::size_t acks);
  std::expected<std::vector<NftAck>, std::string> read_answers(std::vector<std::vector<std::byte>>* replies);
  void drain();

  NetlinkSocket socket_;
  std::size_t send_buffer_ = 0;
  std::size_t receive_buffer_ = 0;
  std::uint32_t next_seq_ = 1u << 31;  // apart from the batches' numbers
};

// Sequence numbers, register numbers and type ids as nft computes them,
// exposed for tests.
namespace nft_netlink_detail {
// nft's register encoding: the 32-bit register index i (0 = NFT_REG32_00)
// as a 128-bit register number when it starts one, else as NFT_REG32_<i>.
std::uint32_t register_number(unsigned index32);
// A concatenated type id: (t1 << 6 | t2) << 6 | t3 ... (TYPE_BITS = 6).
std::uint32_t concat_type_id(const std::vector<NftType>& types, bool key);
// The key's length: a lone field's own size, or every field padded to 4.
std::uint32_t key_length(const std::vector<NftType>& types);
// A key or data value in the kernel's layout.
std::vector<std::byte> pack_values(const std::vector<NftValue>& values);
// The inverse of pack_values for a key or data of `types`; nullopt when the
// bytes are not such a value.
std::optional<std::vector<NftValue>> unpack_values(const std::vector<NftType>& types, std::span<const std::byte> bytes);
}  // namespace nft_netlink_detail

}  // namespace kubenat
