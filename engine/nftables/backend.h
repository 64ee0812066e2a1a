#pragma once

// Puts nftables plans into the kernel over netlink (engine/nftables/batch.h,
// engine/nftables/transport.h):
// kubenat's own table, nothing else. A change is one transaction holding only
// what changed (elements, and chains and sets when the layout changes); a
// full apply replaces the table atomically. The handle of the table it
// created is remembered, so that a table deleted or recreated behind its
// back (`nft flush ruleset`, `nft delete table`) is noticed without reading
// the table back.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/nftables/batch.h"
#include "engine/nftables/error_text.h"
#include "engine/nftables/transport.h"
#include "rules/nftables/change.h"
#include "rules/nftables/plan.h"

namespace kubenat {

struct NftApplyStats {
  std::size_t bytes = 0;         // netlink bytes sent, batch markers included
  std::size_t messages = 0;      // nf_tables messages (batch markers not counted)
  std::size_t transactions = 0;  // batches committed
  std::size_t elements_added = 0;
  std::size_t elements_removed = 0;
  std::size_t chains_written = 0;  // chains whose rules were (re)written
  std::size_t sets_added = 0;
  std::size_t chains_deleted = 0;
  std::size_t sets_deleted = 0;
};

struct NftApplyError {
  // What failed and why: "nftables refused the transaction: element
  // 10.96.0.10 . tcp . 80 in map service-ips (service default/web:http):
  // No such file or directory".
  std::string message;
  // The object the kernel refused, as in the message; nullopt when the
  // failure was not about one object (the socket, the commit as a whole).
  std::optional<std::string> object;
  // What was committed before the failure: nothing for apply(), which is
  // one transaction; the leading transactions of a chunked apply_full().
  NftApplyStats done;
};

// For error messages only: the plans a change goes between, to name the
// service port that owns a refused element, set or chain.
struct NftApplyContext {
  const NftPlan* before = nullptr;
  const NftPlan* after = nullptr;
};

class NftBackend {
 public:
  struct Options {
    // apply_full() puts the table, its chains, rules and sets and as many
    // elements as fit in one transaction of about this many bytes, and the
    // remaining elements in further transactions of the same size, whole
    // service ports at a time. One transaction would be atomic, but the
    // kernel holds all of it in memory at once and commits it under the
    // nf_tables mutex, stalling every other nftables user meanwhile, and it
    // is slower: 1.5 million elements took 5.1 s in one transaction, 2.3-2.7
    // s in 16 MiB ones (7 of them), 2.5-3.0 s in 32 MiB ones, 3.1 s in 4 MiB
    // ones. 8 MiB ones cost the same time as 16 MiB ones at 100,000
    // Services (2.2 million elements: 3.7-4.1 s against 3.9-4.9 s for the
    // whole first sync), and with one transaction committing while the next
    // is built, two of them are the daemon's peak: 16 MB less at its
    // high-water mark. In chunks, each service port appears complete or not
    // at all, and traffic to the ports of later chunks goes untranslated for
    // the moments before their chunk commits (start-up only: routine changes
    // are small).
    std::size_t max_transaction_bytes = 8u << 20;
  };

  // `family` and `table` name the table this backend owns; plans and changes
  // for another table are refused.
  NftBackend(NftTransport& transport, IpFamily family, std::string table, Options options);
  NftBackend(NftTransport& transport, IpFamily family, std::string table)
      : NftBackend(transport, family, std::move(table), Options{}) {}

  // Applies the change as one transaction, in the order of
  // rules/nftables/change.h: the kernel takes all of it or none of it. An empty
  // change sends nothing. On error the kernel is unchanged (unless the
  // answer was lost: the message says so) and the caller should follow with
  // apply_full(). `context` only improves error messages.
  [[nodiscard]] std::expected<NftApplyStats, NftApplyError> apply(const NftChange& change,
                                                                   const NftApplyContext& context = {});

  // Makes the kernel hold exactly the plan: deletes the table if it exists
  // (whoever made it: start-up replaces what an earlier run left) and
  // creates it afresh with every set, chain, rule and element, in one
  // transaction when it fits Options::max_transaction_bytes, else in chunks
  // (see Options). Remembers the new table's handle for table_intact().
  // `carried` are elements of the plan's sets with timeouts (what the packet
  // path learned in the table being replaced), added back in the first
  // transaction with the time they had left.
  [[nodiscard]] std::expected<NftApplyStats, NftApplyError> apply_full(
      const NftPlan& plan, const std::map<std::string, std::vector<NftTimedElement>>& carried = {});

  // True when the table exists with the handle apply_full() created it
  // with; false when it is gone or was recreated (by someone else), or
  // apply_full() has not succeeded yet. One GETTABLE, never a dump.
  [[nodiscard]] std::expected<bool, std::string> table_intact();

  // Every element of one of the table's sets as the kernel holds it now
  // (one dump of that set, never of the table): for the affinity map, which
  // the packet path fills. `declaration` gives the set's name and types; the
  // table need not be one this backend made (an earlier run's). Elements that
  // do not read as those types are left out. The error is for a set that is
  // not there or a failed dump.
  [[nodiscard]] std::expected<std::vector<NftTimedElement>, std::string> read_elements(const NftSet& declaration);

  // The handle of the table apply_full() created, if it did.
  std::optional<std::uint64_t> table_handle() const { return handle_; }

 private:
  std::expected<void, NftApplyError> commit(const NftBatch& batch, const NftOwnerLookup& owners,
                                            NftApplyStats& stats);
  NftSetLookup set_lookup() const;

  NftTransport& transport_;
  IpFamily family_;
  std::string table_;
  Options options_;
  std::uint32_t next_seq_ = 1;
  std::optional<std::uint64_t> handle_;
  // The declarations of the sets in the kernel's table, as far as this
  // backend put them there: elements of interval sets and DNAT map rules
  // are encoded by them.
  std::map<std::string, NftSet, std::less<>> sets_;
};

}  // namespace kubenat
