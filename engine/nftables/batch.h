#pragma once

// One nf_tables transaction, built as bytes without a socket: BATCH_BEGIN,
// one message per object (a table, chain, set or rule; set elements many to
// a message), BATCH_END. Every message asks for an acknowledgement and has
// its own sequence number.
//
// While it builds, the batch records which plan object produced each
// message and where within the message each element and each rule
// expression starts, as nftables' own userspace records locations
// (src/mnl.c): a kernel refusal, which names a message by its sequence
// number and the attribute at fault by its offset (extended ACK), is traced
// back to the element, rule and statement with origin(), without reading
// the message again. Describing that in words is engine/nftables/
// error_text.h's business.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/nftables/expressions.h"
#include "rules/nftables/plan.h"

struct nlmsghdr;

namespace kubenat {

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

// An element of a set with timeouts, with its own timeout and the time it
// has left: what a dump reports, and what a table made afresh is given back.
struct NftTimedElement {
  NftElement element;
  std::uint64_t timeout_ms = 0;
  std::uint64_t expires_ms = 0;
  bool operator==(const NftTimedElement&) const = default;
};

// The plan object behind (part of) a message.
struct NftMessageOrigin {
  NftMessageKind kind = NftMessageKind::BatchBegin;
  std::string object;  // the chain or set, as in NftMessageInfo
  // Element messages: whether the set is a map, how many IR elements the
  // message holds, and one of them: the element at the kernel's offset when
  // it pointed into one (`at_fault`), else the message's first.
  bool map = false;
  std::size_t elements = 0;
  const NftElement* element = nullptr;
  // Rule messages: the rule, its 0-based position in its chain, and the
  // statement whose expression the kernel's offset points into, if it did.
  const NftRule* rule = nullptr;
  std::size_t position = 0;
  std::optional<std::size_t> statement;
  bool at_fault = false;
};

// Keeps pointers to the rules and elements it was given, for origin(): they
// must outlive the batch (a batch is built, sent and dropped within one
// apply).
class NftBatch {
 public:
  // Starts the batch (BATCH_BEGIN gets first_seq, each message the next
  // number). `sets` gives the declarations that rules and elements are
  // encoded by.
  NftBatch(IpFamily family, std::string table, std::uint32_t first_seq, NftSetLookup sets = {});
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
  // Removes every rule of the chain.
  void flush_chain(std::string_view name);
  // Removes the chain and its rules; refused while something jumps to it.
  void delete_chain(std::string_view name);
  // Appends one rule to the chain; `position` (0-based) is for messages.
  // The error is for a statement the builder cannot express; nothing is
  // added then.
  [[nodiscard]] std::expected<void, NftInexpressible> add_rule(std::string_view chain, const NftRule& rule,
                                                               std::size_t position);

  // The set or map with its key and data types and flags, no elements.
  void add_set(const NftSet& set);
  void delete_set(std::string_view name);

  // Elements in as few messages as fit (each under 64 KiB, the netlink
  // attribute limit), encoded as nft_encoding::expand_element() says.
  // `declaration` (may be null: the batch's set lookup is asked) tells
  // whether a plain address in a single-field interval set means that one
  // address.
  void add_elements(std::string_view set, const NftSet* declaration, std::span<const NftElement* const> elements);
  void delete_elements(std::string_view set, const NftSet* declaration,
                       std::span<const NftElement* const> elements);
  // The elements (address . address) of a plain set, one for each of the
  // `count` addresses from `first`: what add_elements() adds for
  // NftElement{{address, address}, {}} each, with no such element held
  // meanwhile (the hairpin set's million at 100,000 Services were a copy of
  // 64 bytes each for the length of a transaction). Nothing of `first`'s
  // container is kept: origin() reads the addresses back from the messages.
  void add_address_pairs(std::string_view set, const NftSet* declaration, NftAddressRefs::const_iterator first,
                         std::size_t count);
  // Elements with their own timeouts and expirations (a set with timeouts).
  void add_timed_elements(std::string_view set, const NftSet* declaration,
                          std::span<const NftTimedElement> elements);

  // Makes room for a batch of up to `bytes` at once, where it would grow by
  // doubling (a 9 MB transaction ended in a 10 MB buffer, and held the 5 MB
  // one beside it while it moved). Room not used costs address space only.
  void reserve_bytes(std::size_t bytes);

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

  // What produced message `seq` and, when the kernel gave the offset of the
  // attribute at fault within it (extended ACK), the element or statement
  // there. nullopt for a number that is not one of this batch's.
  std::optional<NftMessageOrigin> origin(std::uint32_t seq, std::optional<std::uint32_t> offset) const;

 private:
  // Per message, sparse: the IR objects and where their parts start.
  struct ElementMessage {
    bool map = false;
    std::vector<std::pair<std::uint32_t, const NftElement*>> parts;  // (offset in the message, element), in order
    // Instead of parts for add_address_pairs(): each element's offset, in
    // order (its address is read back from the message).
    std::vector<std::uint32_t> pair_offsets;
    std::uint32_t end = 0;                                           // where the element list ends
  };
  struct RuleMessage {
    const NftRule* rule = nullptr;
    std::size_t position = 0;
    std::vector<std::pair<std::uint32_t, std::size_t>> expressions;  // (offset in the message, statement), in order
    std::uint32_t end = 0;                                           // where the expression list ends
  };

  nlmsghdr* start_message(std::uint16_t type, std::uint16_t flags);
  void end_message(nlmsghdr* header, NftMessageKind kind, std::string object, std::size_t elements = 0);
  void reserve(std::size_t bytes);
  // `times`, when not empty, holds each element's timeout and expiration.
  // With `pairs`, the elements are (address . address) of its addresses
  // instead of `elements`.
  struct AddressRun {
    NftAddressRefs::const_iterator first;
    std::size_t count = 0;
  };
  void put_elements(std::uint16_t type, std::uint16_t flags, NftMessageKind kind, std::string_view set,
                    const NftSet* declaration, std::span<const NftElement* const> elements,
                    std::span<const NftTimedElement> times = {}, std::optional<AddressRun> pairs = std::nullopt);
  const NftSet* find_set(std::string_view name) const;

  IpFamily family_;
  std::string table_;
  std::uint32_t first_seq_;
  std::uint32_t next_seq_;
  std::uint32_t next_set_id_ = 1;
  NftSetLookup sets_;
  // Grows without zeroing what it adds (every byte used is written), so
  // that room made ahead with reserve_bytes() costs no memory until used.
  template <class T>
  struct UninitializedAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
      using other = UninitializedAllocator<U>;
    };
    template <class U>
    void construct(U* at) noexcept {
      ::new (static_cast<void*>(at)) U;
    }
    template <class U, class... Args>
    void construct(U* at, Args&&... args) {
      ::new (static_cast<void*>(at)) U(std::forward<Args>(args)...);
    }
  };
  std::vector<std::byte, UninitializedAllocator<std::byte>> buffer_;
  std::size_t used_ = 0;
  bool finished_ = false;
  std::vector<NftMessageInfo> messages_;
  std::vector<std::unique_ptr<ElementMessage>> element_messages_;  // by message index, sparse
  std::vector<std::unique_ptr<RuleMessage>> rule_messages_;
  // The elements origin() made for address pairs, for the pointers it hands out.
  mutable std::deque<NftElement> origin_elements_;
};

}  // namespace kubenat
