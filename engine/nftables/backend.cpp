#include "engine/nftables/backend.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "engine/nftables/encoding.h"
#include "engine/nftables/error_text.h"

namespace kubenat {
namespace {

// Elements of one transaction grouped by set, sets in order of first
// appearance, so that each set's elements share as few messages as fit.
class ElementGroups {
 public:
  void add(const NftSetName& set, const NftElement* element) {
    // A service port's elements come sorted by set: most follow one of the same set.
    if (groups_.empty() || set != last_set_) {
      auto [it, inserted] = index_.try_emplace(set, groups_.size());
      if (inserted) groups_.emplace_back(set.str(), std::vector<const NftElement*>{});
      last_set_ = set;
      last_group_ = it->second;
    }
    groups_[last_group_].second.push_back(element);
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  std::size_t count() const { return count_; }
  const std::vector<std::pair<std::string, std::vector<const NftElement*>>>& groups() const { return groups_; }
  void clear() {
    groups_.clear();
    index_.clear();
    count_ = 0;
  }

 private:
  std::vector<std::pair<std::string, std::vector<const NftElement*>>> groups_;
  std::map<NftSetName, std::size_t> index_;
  NftSetName last_set_;
  std::size_t last_group_ = 0;
  std::size_t count_ = 0;
};

std::size_t value_bytes(const NftValue& value) {
  if (const auto* address = std::get_if<IpAddress>(&value)) return address->byte_length();
  if (const auto* cidr = std::get_if<Cidr>(&value)) return cidr->network().byte_length();
  if (const auto* verdict = std::get_if<NftVerdict>(&value)) return 24 + verdict->chain.size();
  return 4;
}

// About what an element takes in a message: attribute headers, key (and
// key end), data.
std::size_t element_bytes(const NftElement& element) {
  std::size_t key = 0;
  for (const NftValue& value : element.key) key += (value_bytes(value) + 3) & ~std::size_t{3};
  std::size_t data = 0;
  for (const NftValue& value : element.data) data += (value_bytes(value) + 3) & ~std::size_t{3};
  return 24 + 2 * key + (data ? 8 + data : 0);
}

// Names the service port that owns an element of `plan` (only elements
// are owned by one: chains and sets are shared).
std::string owner_in(const NftPlan* plan, std::string_view object, const NftElement* element) {
  if (!plan || !element) return {};
  for (const auto& [name, rules] : plan->service_ports) {
    if (!rules) continue;
    for (const auto& [set, candidate] : rules->elements) {
      if (set == object && candidate == *element) return "service " + name.to_string();
    }
  }
  return {};
}

std::string family_word(IpFamily family) { return family == IpFamily::V4 ? "ip" : "ip6"; }

// Every rule of the chain, appended to the batch; the error names the rule
// that has no nf_tables form (nothing of it is in the batch then).
std::expected<void, std::string> add_rules(NftBatch& batch, const NftChain& chain) {
  for (std::size_t i = 0; i < chain.rules.size(); ++i) {
    if (auto ok = batch.add_rule(chain.name, chain.rules[i], i); !ok) {
      return std::unexpected("cannot express " +
                             describe_inexpressible(chain.name, i, chain.rules[i], ok.error(), batch.family()));
    }
  }
  return {};
}

}  // namespace

NftBackend::NftBackend(NftTransport& transport, IpFamily family, std::string table, Options options)
    : transport_(transport), family_(family), table_(std::move(table)), options_(options) {}

NftSetLookup NftBackend::set_lookup() const {
  return [this](std::string_view name) -> const NftSet* {
    auto it = sets_.find(name);
    return it == sets_.end() ? nullptr : &it->second;
  };
}

std::expected<void, NftApplyError> NftBackend::commit(const NftBatch& batch, const NftOwnerLookup& owners,
                                                      NftApplyStats& stats) {
  auto answers = transport_.send(batch);
  next_seq_ = batch.next_seq();
  if (!answers) {
    return std::unexpected(NftApplyError{
        "nftables transaction on table " + family_word(family_) + " " + table_ + " failed: " + answers.error() +
            " (whether the kernel applied it is unknown)",
        std::nullopt, stats});
  }
  const std::uint32_t begin = batch.first_seq();
  const NftAck* refused = nullptr;
  std::size_t errors = 0;
  std::size_t acknowledged = 0;
  for (const NftAck& ack : *answers) {
    if (ack.error == 0) {
      if (ack.seq > begin && ack.seq < batch.next_seq()) ++acknowledged;
      continue;
    }
    ++errors;
    // An error about a message says more than one about the whole batch.
    if (!refused || (refused->seq == begin && ack.seq != begin)) refused = &ack;
  }
  if (refused) {
    const bool whole = refused->seq == begin;
    const std::string what = describe_refusal(batch, refused->seq, refused->offset, owners);
    std::string message = "nftables refused the transaction: " + what + ": " + std::strerror(refused->error);
    if (!refused->message.empty()) message += " (" + refused->message + ")";
    if (errors > 1) message += "; " + std::to_string(errors - 1) + " more error(s)";
    return std::unexpected(NftApplyError{std::move(message), whole ? std::nullopt : std::optional(what), stats});
  }
  if (acknowledged < batch.acks_expected()) {
    return std::unexpected(NftApplyError{"nftables acknowledged " + std::to_string(acknowledged) + " of " +
                                             std::to_string(batch.acks_expected()) +
                                             " messages (whether the kernel applied the transaction is unknown)",
                                         std::nullopt, stats});
  }
  stats.bytes += batch.size();
  stats.messages += batch.acks_expected();
  stats.transactions += 1;
  return {};
}

std::expected<NftApplyStats, NftApplyError> NftBackend::apply(const NftChange& change,
                                                              const NftApplyContext& context) {
  NftApplyStats stats;
  if (change.family != family_ || change.table != table_) {
    return std::unexpected(NftApplyError{"change for table " + family_word(change.family) + " " + change.table +
                                             ", this backend owns " + family_word(family_) + " " + table_,
                                         std::nullopt, stats});
  }
  if (change.empty()) return stats;

  // Sets the change adds are known to the batch before the backend's table.
  std::map<std::string, const NftSet*, std::less<>> added;
  for (const NftSet& set : change.sets_added) added.emplace(set.name, &set);
  const NftSetLookup known = set_lookup();
  NftBatch batch(family_, table_, next_seq_, [&](std::string_view name) -> const NftSet* {
    auto it = added.find(name);
    return it != added.end() ? it->second : known(name);
  });

  const NftOwnerLookup owners = [&](std::string_view object, const NftElement* element) {
    std::string owner = owner_in(context.after, object, element);
    return owner.empty() ? owner_in(context.before, object, element) : owner;
  };
  for (const NftSet& set : change.sets_added) batch.add_set(set);
  for (const NftChain& chain : change.chains_added) batch.add_chain(chain);
  for (const NftChain& chain : change.chains_added) {
    if (auto ok = add_rules(batch, chain); !ok) return std::unexpected(NftApplyError{ok.error(), std::nullopt, stats});
  }
  for (const NftChain& chain : change.chains_replaced) {
    batch.flush_chain(chain.name);
    if (auto ok = add_rules(batch, chain); !ok) return std::unexpected(NftApplyError{ok.error(), std::nullopt, stats});
  }
  ElementGroups removed;
  for (const auto& [set, element] : change.elements_removed) removed.add(set, &element);
  for (const auto& [set, elements] : removed.groups()) batch.delete_elements(set, nullptr, elements);
  ElementGroups added_elements;
  for (const auto& [set, element] : change.elements_added) added_elements.add(set, &element);
  for (const auto& [set, elements] : added_elements.groups()) batch.add_elements(set, nullptr, elements);
  for (const std::string& chain : change.chains_removed) batch.delete_chain(chain);
  for (const std::string& set : change.sets_removed) batch.delete_set(set);
  batch.finish();

  if (auto ok = commit(batch, owners, stats); !ok) return std::unexpected(ok.error());
  for (const NftSet& set : change.sets_added) sets_.insert_or_assign(set.name, set);
  for (const std::string& set : change.sets_removed) sets_.erase(set);
  stats.elements_added = change.elements_added.size();
  stats.elements_removed = change.elements_removed.size();
  stats.chains_written = change.chains_added.size() + change.chains_replaced.size();
  stats.sets_added = change.sets_added.size();
  stats.chains_deleted = change.chains_removed.size();
  stats.sets_deleted = change.sets_removed.size();
  return stats;
}

std::expected<NftApplyStats, NftApplyError> NftBackend::apply_full(
    const NftPlan& plan, const std::map<std::string, std::vector<NftTimedElement>>& carried) {
  NftApplyStats stats;
  if (plan.family != family_ || plan.table != table_) {
    return std::unexpected(NftApplyError{"plan for table " + family_word(plan.family) + " " + plan.table +
                                             ", this backend owns " + family_word(family_) + " " + table_,
                                         std::nullopt, stats});
  }
  const std::vector<NftSet>& sets = plan.sets;
  const std::vector<NftChain>& chains = plan.chains;
  std::map<std::string, const NftSet*, std::less<>> by_name;
  for (const NftSet& set : sets) by_name.emplace(set.name, &set);
  const NftSetLookup lookup = [&](std::string_view name) -> const NftSet* {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  const NftOwnerLookup owners = [&](std::string_view object, const NftElement* element) {
    return owner_in(&plan, object, element);
  };

  // The first transaction: the table replaced (`add` then `delete` then
  // `add`, which works whether or not it existed, on any kernel), chains
  // declared before the sets whose verdicts name them, sets, rules. Elements
  // follow, in this transaction as far as the budget allows.
  NftBatch batch(family_, table_, next_seq_, lookup);
  batch.add_table();
  batch.delete_table();
  batch.create_table();
  for (const NftChain& chain : chains) batch.add_chain(chain);
  for (const NftSet& set : sets) batch.add_set(set);
  for (const NftChain& chain : chains) {
    if (auto ok = add_rules(batch, chain); !ok) return std::unexpected(NftApplyError{ok.error(), std::nullopt, stats});
  }

  for (const auto& [set, elements] : carried) {
    const NftSet* declaration = lookup(set);
    if (declaration != nullptr && declaration->timeout_seconds && !elements.empty()) {
      batch.add_timed_elements(set, declaration, elements);
    }
  }

  bool first = true;
  ElementGroups pending;
  std::size_t pending_bytes = 0;
  // The hairpin pairs of the pending transaction: a run of plan.hairpin_refs'
  // addresses, whose elements the batch encodes as it goes (a million at
  // 100,000 Services, too many to copy as elements).
  NftAddressRefs::const_iterator pending_hairpins;
  std::size_t pending_hairpin_count = 0;
  // A transaction is committed on a thread of its own while the next one is
  // built: the kernel does its share in the sending thread's sendmsg, about
  // as long again as building (1.2 s and 2 s of the 3.2 s at 100,000
  // Services). One transaction in flight at a time, sent in order, with the
  // sequence numbers and bytes of sending each as it is built.
  struct InFlight {
    NftBatch batch;
    std::size_t elements = 0;
    bool first = false;
  };
  std::unique_ptr<InFlight> in_flight;
  std::future<std::expected<void, NftApplyError>> committed;
  const auto wait_committed = [&]() -> std::expected<void, NftApplyError> {
    if (!committed.valid()) return {};
    auto done = committed.get();
    in_flight.reset();
    return done;
  };
  // On the committing thread; `stats`, sets_ and handle_ are only touched
  // there while a transaction is in flight.
  const auto commit_in_flight = [&](InFlight& flight) -> std::expected<void, NftApplyError> {
    if (auto ok = commit(flight.batch, owners, stats); !ok) return ok;
    stats.elements_added += flight.elements;
    if (flight.first) {
      sets_.clear();
      for (const NftSet& set : sets) sets_.emplace(set.name, set);
      stats.chains_written = chains.size();
      stats.sets_added = sets.size();
      auto handle = transport_.table_handle(family_, table_);
      if (!handle || !*handle) {
        handle_.reset();
        return std::unexpected(NftApplyError{
            "table " + family_word(family_) + " " + table_ + " was created but its handle cannot be read: " +
                (handle ? std::string("no such table") : handle.error()),
            std::nullopt, stats});
      }
      handle_ = **handle;
    }
    return {};
  };
  // Finishes the pending transaction and commits it once the one before is
  // in; the next transaction starts.
  const auto send_current = [&]() -> std::expected<void, NftApplyError> {
    // pending_bytes errs on the large side (element_bytes()).
    batch.reserve_bytes(batch.size() + pending_bytes + (256u << 10));
    for (const auto& [set, elements] : pending.groups()) batch.add_elements(set, lookup(set), elements);
    batch.add_address_pairs(kNftHairpinSet, lookup(kNftHairpinSet), pending_hairpins, pending_hairpin_count);
    batch.finish();
    const std::uint32_t following = batch.next_seq();
    if (auto ok = wait_committed(); !ok) return ok;
    in_flight = std::make_unique<InFlight>(InFlight{std::move(batch), pending.count() + pending_hairpin_count, first});
    first = false;
    pending.clear();
    pending_hairpin_count = 0;
    pending_bytes = 0;
    committed = std::async(std::launch::async, commit_in_flight, std::ref(*in_flight));
    batch = NftBatch(family_, table_, following, lookup);
    return {};
  };

  // The elements no service port owns: the configuration's here, the
  // hairpin pairs several ports may share (rules/nftables/plan.h) last.
  for (const auto& [set, element] : plan.fixed_elements) {
    pending.add(set, &element);
    pending_bytes += element_bytes(element);
  }
  // Every verdict element goes into the first transaction, with the chains
  // and rules: the kernel validates the whole table on each commit that
  // adds a jump or goto, so verdicts spread over the chunks would make it
  // validate an ever larger table once per chunk (quadratic in the table
  // size), where one validation does. The later chunks hold data only.
  const auto is_verdict = [](const NftElement& element) {
    return std::any_of(element.data.begin(), element.data.end(),
                       [](const NftValue& value) { return std::holds_alternative<NftVerdict>(value); });
  };
  for (const auto& [name, rules] : plan.service_ports) {
    if (!rules) continue;
    for (const auto& [set, element] : rules->elements) {
      if (!is_verdict(element)) continue;
      pending.add(set, &element);
      pending_bytes += element_bytes(element);
    }
  }
  for (const auto& [name, rules] : plan.service_ports) {
    if (!rules || rules->elements.empty()) continue;
    std::size_t bytes = 0;
    for (const auto& [set, element] : rules->elements) {
      if (!is_verdict(element)) bytes += element_bytes(element);
    }
    if (bytes == 0) continue;
    // Whole service ports only: a transaction boundary never splits one.
    if (!pending.empty() && batch.size() + pending_bytes + bytes > options_.max_transaction_bytes) {
      if (auto ok = send_current(); !ok) return std::unexpected(ok.error());
    }
    for (const auto& [set, element] : rules->elements) {
      if (!is_verdict(element)) pending.add(set, &element);
    }
    pending_bytes += bytes;
  }
  for (auto hairpin = plan.hairpin_refs.begin(); hairpin != plan.hairpin_refs.end(); ++hairpin) {
    const IpAddress ip = (*hairpin).first;
    const std::size_t bytes = element_bytes(NftElement{{ip, ip}, {}});
    if ((!pending.empty() || pending_hairpin_count > 0) &&
        batch.size() + pending_bytes + bytes > options_.max_transaction_bytes) {
      if (auto ok = send_current(); !ok) return std::unexpected(ok.error());
    }
    if (pending_hairpin_count++ == 0) pending_hairpins = hairpin;
    pending_bytes += bytes;
  }
  if (auto ok = send_current(); !ok) return std::unexpected(ok.error());
  if (auto ok = wait_committed(); !ok) return std::unexpected(ok.error());
  return stats;
}

std::expected<std::vector<NftTimedElement>, std::string> NftBackend::read_elements(const NftSet& declaration) {
  auto raw = transport_.dump_elements(family_, table_, declaration.name);
  if (!raw) return std::unexpected(raw.error());
  std::vector<NftTimedElement> out;
  for (const NftRawElement& element : *raw) {
    auto key = nft_encoding::unpack_values(declaration.key, element.key);
    std::optional<std::vector<NftValue>> data = std::vector<NftValue>();
    if (!declaration.data.empty()) data = nft_encoding::unpack_values(declaration.data, element.data);
    if (!key || !data) continue;
    out.push_back(NftTimedElement{NftElement{std::move(*key), std::move(*data)}, element.timeout_ms.value_or(0),
                                  element.expires_ms.value_or(0)});
  }
  return out;
}

std::expected<bool, std::string> NftBackend::table_intact() {
  if (!handle_) return false;
  auto handle = transport_.table_handle(family_, table_);
  if (!handle) return std::unexpected(handle.error());
  return handle->has_value() && **handle == *handle_;
}

}  // namespace kubenat
