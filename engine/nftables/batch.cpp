#include "engine/nftables/batch.h"

// glibc's netinet headers before the kernel's linux/ ones, which then leave
// out what glibc already defined (struct in_addr and friends).
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <iterator>

#include "engine/nftables/encoding.h"
#include "engine/nftables/nftnl_handles.h"

namespace kubenat {
namespace {

using namespace nft_encoding;

// The largest element list one message carries: the list is one netlink
// attribute, whose 16-bit length caps it at 64 KiB (nftables' src/mnl.c says
// the same). One element never takes 1 KiB, so stopping past this mark
// keeps every list under the limit.
constexpr std::size_t kElementListBytes = 63 * 1024;
// Room reserved in the buffer before a message is built in place.
constexpr std::size_t kMessageReserve = 80 * 1024;

}  // namespace

std::string_view nft_message_kind_name(NftMessageKind kind) {
  switch (kind) {
    case NftMessageKind::BatchBegin: return "batch begin";
    case NftMessageKind::BatchEnd: return "batch end";
    case NftMessageKind::AddTable: return "add table";
    case NftMessageKind::DeleteTable: return "delete table";
    case NftMessageKind::AddChain: return "add chain";
    case NftMessageKind::FlushChain: return "flush chain";
    case NftMessageKind::DeleteChain: return "delete chain";
    case NftMessageKind::AddSet: return "add set";
    case NftMessageKind::DeleteSet: return "delete set";
    case NftMessageKind::AddElements: return "add elements";
    case NftMessageKind::DeleteElements: return "delete elements";
    case NftMessageKind::AddRule: return "add rule";
  }
  return "";
}

NftBatch::NftBatch(IpFamily family, std::string table, std::uint32_t first_seq, NftSetLookup sets)
    : family_(family), table_(std::move(table)), first_seq_(first_seq), next_seq_(first_seq), sets_(std::move(sets)) {
  reserve(kMessageReserve);
  nlmsghdr* header = nftnl_batch_begin(reinterpret_cast<char*>(buffer_.data() + used_), next_seq_);
  end_message(header, NftMessageKind::BatchBegin, {});
}

NftBatch::NftBatch(NftBatch&&) noexcept = default;
NftBatch& NftBatch::operator=(NftBatch&&) noexcept = default;
NftBatch::~NftBatch() = default;

void NftBatch::reserve(std::size_t bytes) {
  if (buffer_.size() >= used_ + bytes) return;
  std::size_t size = std::max(buffer_.size() * 2, used_ + bytes);
  // Within room made ahead: no move, and the rest of it stays untouched.
  if (used_ + bytes <= buffer_.capacity()) size = std::min(size, buffer_.capacity());
  buffer_.resize(size);
}

void NftBatch::reserve_bytes(std::size_t bytes) { buffer_.reserve(bytes); }

nlmsghdr* NftBatch::start_message(std::uint16_t type, std::uint16_t flags) {
  reserve(kMessageReserve);
  return nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer_.data() + used_), type, nfproto(family_),
                               flags | NLM_F_ACK, next_seq_);
}

void NftBatch::end_message(nlmsghdr* header, NftMessageKind kind, std::string object, std::size_t elements) {
  NftMessageInfo info;
  info.seq = next_seq_++;
  info.kind = kind;
  info.object = std::move(object);
  info.offset = used_;
  info.length = header->nlmsg_len;
  info.elements = elements;
  used_ += NLMSG_ALIGN(header->nlmsg_len);
  messages_.push_back(std::move(info));
}

const NftSet* NftBatch::find_set(std::string_view name) const { return sets_ ? sets_(name) : nullptr; }

std::size_t NftBatch::acks_expected() const {
  return std::count_if(messages_.begin(), messages_.end(), [](const NftMessageInfo& m) {
    return m.kind != NftMessageKind::BatchBegin && m.kind != NftMessageKind::BatchEnd;
  });
}

void NftBatch::add_table() {
  auto table = nftnl::make_table();
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, table_.c_str());
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FLAGS, 0);
  nlmsghdr* header = start_message(NFT_MSG_NEWTABLE, NLM_F_CREATE);
  nftnl_table_nlmsg_build_payload(header, table.get());
  end_message(header, NftMessageKind::AddTable, {});
}

void NftBatch::create_table() {
  auto table = nftnl::make_table();
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, table_.c_str());
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FLAGS, 0);
  nlmsghdr* header = start_message(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
  nftnl_table_nlmsg_build_payload(header, table.get());
  end_message(header, NftMessageKind::AddTable, {});
}

void NftBatch::delete_table() {
  auto table = nftnl::make_table();
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, table_.c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELTABLE, 0);
  nftnl_table_nlmsg_build_payload(header, table.get());
  end_message(header, NftMessageKind::DeleteTable, {});
}

void NftBatch::add_chain(const NftChain& chain) {
  auto c = nftnl::make_chain();
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table_.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  if (chain.hook) {
    static constexpr std::uint32_t kHooks[] = {NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD,
                                               NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING};
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, kHooks[static_cast<std::size_t>(chain.hook->hook)]);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.hook->priority);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.hook->type == NftHook::Type::Nat ? "nat" : "filter");
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  nlmsghdr* header = start_message(NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
  nftnl_chain_nlmsg_build_payload(header, c.get());
  end_message(header, NftMessageKind::AddChain, chain.name);
}

void NftBatch::flush_chain(std::string_view name) {
  auto rule = nftnl::make_rule();
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table_.c_str());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, std::string(name).c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELRULE, 0);
  nftnl_rule_nlmsg_build_payload(header, rule.get());
  end_message(header, NftMessageKind::FlushChain, std::string(name));
}

void NftBatch::delete_chain(std::string_view name) {
  auto c = nftnl::make_chain();
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table_.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, std::string(name).c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELCHAIN, 0);
  nftnl_chain_nlmsg_build_payload(header, c.get());
  end_message(header, NftMessageKind::DeleteChain, std::string(name));
}

void NftBatch::add_set(const NftSet& set) {
  auto s = nftnl::make_set();
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, next_set_id_++);
  std::uint32_t flags = 0;
  if (!set.data.empty()) flags |= NFT_SET_MAP;
  if (set.interval) flags |= NFT_SET_INTERVAL;
  // Ranges in a concatenation need the pipapo set type, which the kernel
  // picks for NFT_SET_CONCAT with the field lengths below.
  if (set.interval && is_concat(set.key)) flags |= NFT_SET_CONCAT;
  // `update @set` from the packet path needs an evaluable set with
  // timeouts (nft's `flags dynamic,timeout`).
  if (set.timeout_seconds) flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, concat_type_id(set.key, true));
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, key_length(set.key));
  if (!set.data.empty()) {
    const bool verdict = set.data.size() == 1 && set.data[0] == NftType::Verdict;
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE,
                      verdict ? NFT_DATA_VERDICT : concat_type_id(set.data, false));
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, verdict ? 0 : key_length(set.data));
  }
  if (set.timeout_seconds) nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, std::uint64_t{*set.timeout_seconds} * 1000);
  if (set.size) nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, *set.size);
  if (set.interval && is_concat(set.key)) {
    std::vector<std::uint8_t> lengths;
    for (const NftType type : set.key) lengths.push_back(static_cast<std::uint8_t>(type_size(type)));
    nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, lengths.data(), static_cast<std::uint32_t>(lengths.size()));
  }
  const nftnl::UdataBuf userdata = set_userdata(set);
  nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(userdata.get()),
                     nftnl_udata_buf_len(userdata.get()));
  nlmsghdr* header = start_message(NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
  nftnl_set_nlmsg_build_payload(header, s.get());
  end_message(header, NftMessageKind::AddSet, set.name);
}

void NftBatch::delete_set(std::string_view name) {
  auto s = nftnl::make_set();
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, std::string(name).c_str());
  nlmsghdr* header = start_message(NFT_MSG_DELSET, 0);
  nftnl_set_nlmsg_build_payload(header, s.get());
  end_message(header, NftMessageKind::DeleteSet, std::string(name));
}

void NftBatch::add_elements(std::string_view set, const NftSet* declaration,
                            std::span<const NftElement* const> elements) {
  put_elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, NftMessageKind::AddElements, set,
               declaration ? declaration : find_set(set), elements);
}

void NftBatch::delete_elements(std::string_view set, const NftSet* declaration,
                               std::span<const NftElement* const> elements) {
  put_elements(NFT_MSG_DELSETELEM, 0, NftMessageKind::DeleteElements, set,
               declaration ? declaration : find_set(set), elements);
}

void NftBatch::add_address_pairs(std::string_view set, const NftSet* declaration,
                                 NftAddressRefs::const_iterator first, std::size_t count) {
  if (count == 0) return;
  put_elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, NftMessageKind::AddElements, set,
               declaration ? declaration : find_set(set), {}, {}, AddressRun{first, count});
}

void NftBatch::add_timed_elements(std::string_view set, const NftSet* declaration,
                                  std::span<const NftTimedElement> elements) {
  std::vector<const NftElement*> plain;
  for (const NftTimedElement& element : elements) plain.push_back(&element.element);
  put_elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, NftMessageKind::AddElements, set,
               declaration ? declaration : find_set(set), plain, elements);
}

void NftBatch::put_elements(std::uint16_t type, std::uint16_t flags, NftMessageKind kind, std::string_view set,
                            const NftSet* declaration, std::span<const NftElement* const> elements,
                            std::span<const NftTimedElement> times, std::optional<AddressRun> pairs) {
  const bool adding = kind == NftMessageKind::AddElements;
  const std::string set_name(set);
  const std::size_t total = pairs ? pairs->count : elements.size();
  // The pairs are read in order: `pairs->first` is at pair number `pair_at`.
  std::size_t pair_at = 0;
  NftElement pair;  // the element made of it, for encoding
  const auto element_at = [&](std::size_t i) -> const NftElement& {
    if (!pairs) return *elements[i];
    for (; pair_at < i; ++pair_at) ++pairs->first;
    const IpAddress address = (*pairs->first).first;
    pair = NftElement{{address, address}, {}};
    return pair;
  };
  std::size_t next = 0;
  while (next < total) {
    nlmsghdr* header = start_message(type, flags);
    auto target = nftnl::make_set();
    nftnl_set_set_str(target.get(), NFTNL_SET_TABLE, table_.c_str());
    nftnl_set_set_str(target.get(), NFTNL_SET_NAME, set_name.c_str());
    nftnl_set_elems_nlmsg_build_payload(header, target.get());  // table, set, no elements
    nlattr* list = mnl_attr_nest_start(header, NFTA_SET_ELEM_LIST_ELEMENTS);
    const auto list_start = reinterpret_cast<const char*>(list);
    auto message = std::make_unique<ElementMessage>();
    message->map = declaration ? !declaration->data.empty() : !element_at(next).data.empty();
    std::size_t count = 0;
    while (next < total &&
           static_cast<std::size_t>(reinterpret_cast<const char*>(mnl_nlmsg_get_payload_tail(header)) - list_start) <
               kElementListBytes) {
      for (const nftnl::SetElem& element : expand_element(element_at(next), declaration, adding)) {
        if (!times.empty()) {
          nftnl_set_elem_set_u64(element.get(), NFTNL_SET_ELEM_TIMEOUT, times[next].timeout_ms);
          nftnl_set_elem_set_u64(element.get(), NFTNL_SET_ELEM_EXPIRATION, times[next].expires_ms);
        }
        // nft numbers the nests 1, 2, 3...; the kernel ignores the type, and
        // NFTA_LIST_ELEM throughout is what the kernel sends and libnftnl
        // parses.
        if (pairs) {
          message->pair_offsets.push_back(header->nlmsg_len);
        } else {
          message->parts.emplace_back(header->nlmsg_len, elements[next]);
        }
        nftnl_set_elem_nlmsg_build(header, element.get(), NFTA_LIST_ELEM);
      }
      ++next;
      ++count;
    }
    mnl_attr_nest_end(header, list);
    message->end = header->nlmsg_len;
    // Kept as long as the batch: without the slack of growing (a third of
    // them, some 3 MB of a first sync's peak at 100,000 Services).
    message->parts.shrink_to_fit();
    message->pair_offsets.shrink_to_fit();
    end_message(header, kind, set_name, count);
    element_messages_.resize(messages_.size());
    element_messages_.back() = std::move(message);
  }
}

std::expected<void, NftInexpressible> NftBatch::add_rule(std::string_view chain, const NftRule& rule,
                                                         std::size_t position) {
  // Built whole before any byte is written, so that a refused rule adds
  // nothing.
  auto expressions = rule_expressions(rule, family_, sets_);
  if (!expressions) return std::unexpected(expressions.error());
  const std::string chain_name(chain);
  auto r = nftnl::make_rule();
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table_.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain_name.c_str());
  if (!rule.comment.empty()) {
    auto buf = nftnl::make_udata_buf(NFT_USERDATA_MAXLEN);
    nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_RULE_COMMENT, nft_comment(rule.comment).c_str());
    nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(buf.get()), nftnl_udata_buf_len(buf.get()));
  }
  nlmsghdr* header = start_message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
  nftnl_rule_nlmsg_build_payload(header, r.get());  // table, chain, comment: a rule without expressions
  // The expressions list as libnftnl would append it, each expression's
  // offset noted on the way (nftables' mnl_nft_rule_add does the same).
  auto info = std::make_unique<RuleMessage>();
  info->rule = &rule;
  info->position = position;
  nlattr* list = mnl_attr_nest_start(header, NFTA_RULE_EXPRESSIONS);
  for (NftExpression& expression : *expressions) {
    info->expressions.emplace_back(header->nlmsg_len, expression.statement);
    nlattr* element = mnl_attr_nest_start(header, NFTA_LIST_ELEM);
    nftnl_expr_build_payload(header, expression.expression.get());
    mnl_attr_nest_end(header, element);
  }
  mnl_attr_nest_end(header, list);
  info->end = header->nlmsg_len;
  end_message(header, NftMessageKind::AddRule, chain_name);
  rule_messages_.resize(messages_.size());
  rule_messages_.back() = std::move(info);
  return {};
}

void NftBatch::finish() {
  if (finished_) return;
  reserve(kMessageReserve);
  nlmsghdr* header = nftnl_batch_end(reinterpret_cast<char*>(buffer_.data() + used_), next_seq_);
  end_message(header, NftMessageKind::BatchEnd, {});
  finished_ = true;
}

namespace {

// The part whose range [its offset, the next part's) holds `offset`; parts
// are in increasing order of their offsets (`offset_of`), and the last ends
// at `end`.
template <class Part, class OffsetOf>
const Part* part_at(const std::vector<Part>& parts, std::uint32_t end, std::uint32_t offset, OffsetOf offset_of) {
  if (parts.empty() || offset < offset_of(parts.front()) || offset >= end) return nullptr;
  auto after = std::upper_bound(parts.begin(), parts.end(), offset,
                                [&](std::uint32_t at, const Part& part) { return at < offset_of(part); });
  return &*std::prev(after);
}

// Parts as (offset, what starts there).
template <class Value>
const std::pair<std::uint32_t, Value>* part_at(const std::vector<std::pair<std::uint32_t, Value>>& parts,
                                               std::uint32_t end, std::uint32_t offset) {
  return part_at(parts, end, offset, [](const std::pair<std::uint32_t, Value>& part) { return part.first; });
}

// The first address of the (address . address) element whose
// NFTA_LIST_ELEM nest starts at `nest`: the first 4 or 16 bytes of its key.
std::optional<IpAddress> pair_address(const std::byte* nest, IpFamily family) {
  const auto* list_element = reinterpret_cast<const nlattr*>(nest);
  const std::size_t length = family == IpFamily::V4 ? 4 : 16;
  // libmnl's mnl_attr_for_each_nested, which C++ cannot compile (void* to
  // nlattr*).
  const auto for_each_nested = [](const nlattr* parent, auto&& visit) {
    const auto* payload = static_cast<const char*>(mnl_attr_get_payload(parent));
    const char* const end = payload + mnl_attr_get_payload_len(parent);
    for (const auto* attr = reinterpret_cast<const nlattr*>(payload);
         mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr))); attr = mnl_attr_next(attr)) {
      if (auto found = visit(attr)) return found;
    }
    return std::optional<IpAddress>();
  };
  return for_each_nested(list_element, [&](const nlattr* attr) -> std::optional<IpAddress> {
    if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_KEY) return std::nullopt;
    return for_each_nested(attr, [&](const nlattr* value) -> std::optional<IpAddress> {
      if (mnl_attr_get_type(value) != NFTA_DATA_VALUE || mnl_attr_get_payload_len(value) < length) return std::nullopt;
      const auto* bytes = static_cast<const std::uint8_t*>(mnl_attr_get_payload(value));
      return IpAddress::from_bytes(std::span<const std::uint8_t>(bytes, length));
    });
  });
}

}  // namespace

std::optional<NftMessageOrigin> NftBatch::origin(std::uint32_t seq, std::optional<std::uint32_t> offset) const {
  if (seq < first_seq_ || seq - first_seq_ >= messages_.size()) return std::nullopt;
  const std::size_t index = seq - first_seq_;
  const NftMessageInfo& message = messages_[index];
  NftMessageOrigin out;
  out.kind = message.kind;
  out.object = message.object;
  out.elements = message.elements;
  if (index < element_messages_.size() && element_messages_[index]) {
    const ElementMessage& elements = *element_messages_[index];
    out.map = elements.map;
    if (!elements.parts.empty()) out.element = elements.parts.front().second;
    if (offset) {
      if (const auto* part = part_at(elements.parts, elements.end, *offset)) {
        out.element = part->second;
        out.at_fault = true;
      }
    }
    if (!elements.pair_offsets.empty()) {
      std::uint32_t at = elements.pair_offsets.front();
      const auto own_offset = [](std::uint32_t element_offset) { return element_offset; };
      if (const std::uint32_t* part =
              offset ? part_at(elements.pair_offsets, elements.end, *offset, own_offset) : nullptr) {
        at = *part;
        out.at_fault = true;
      }
      if (auto address = pair_address(buffer_.data() + message.offset + at, family_)) {
        out.element = &origin_elements_.emplace_back(NftElement{{*address, *address}, {}});
      }
    }
  }
  if (index < rule_messages_.size() && rule_messages_[index]) {
    const RuleMessage& rule = *rule_messages_[index];
    out.rule = rule.rule;
    out.position = rule.position;
    if (offset) {
      if (const auto* part = part_at(rule.expressions, rule.end, *offset)) {
        out.statement = part->second;
        out.at_fault = true;
      }
    }
  }
  return out;
}

}  // namespace kubenat
