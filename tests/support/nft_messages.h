#pragma once

// nf_tables messages parsed back with libnftnl, for tests of what
// engine/nftables/ builds (as libnftnl's own tests do): a rule's
// expressions as `nft --debug=netlink` prints them, a set's attributes and
// user data, a message's elements, and where a nest's children start (what
// the kernel's extended ACK reports).

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/nftables/batch.h"
#include "engine/nftables/nftnl_handles.h"

namespace kubenat::nft_messages {

inline std::string hex(const void* data, std::size_t length) {
  std::string out;
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < length; ++i) {
    char buffer[4];
    std::snprintf(buffer, sizeof buffer, "%02x", bytes[i]);
    if (i != 0) out += ' ';
    out += buffer;
  }
  return out;
}

inline std::string hex(const std::vector<std::byte>& bytes) { return hex(bytes.data(), bytes.size()); }

inline const nlmsghdr* header_of(const NftBatch& batch, std::size_t index) {
  return reinterpret_cast<const nlmsghdr*>(batch.bytes().data() + batch.messages().at(index).offset);
}

// The index of the first message of `kind` at or after `from`.
inline std::size_t find_message(const NftBatch& batch, NftMessageKind kind, std::size_t from = 0) {
  for (std::size_t i = from; i < batch.messages().size(); ++i) {
    if (batch.messages()[i].kind == kind) return i;
  }
  ADD_FAILURE() << "no message of kind " << nft_message_kind_name(kind);
  return 0;
}

// A rule's expressions as nft --debug=netlink prints them.
inline std::vector<std::string> expressions(const nftnl_rule* rule) {
  std::vector<char> buffer(16384);
  nftnl_rule_snprintf(buffer.data(), buffer.size(), rule, NFTNL_OUTPUT_DEFAULT, 0);
  std::vector<std::string> out;
  std::istringstream lines(buffer.data());
  std::string line;
  while (std::getline(lines, line)) {
    const auto start = line.find('[');
    if (start == std::string::npos) continue;
    std::string expression = line.substr(start);
    while (!expression.empty() && expression.back() == ' ') expression.pop_back();
    out.push_back(expression);
  }
  return out;
}

// A rule message's expressions.
inline std::vector<std::string> expressions(const nlmsghdr* header) {
  auto rule = nftnl::make_rule();
  EXPECT_GE(nftnl_rule_nlmsg_parse(header, rule.get()), 0);
  return expressions(rule.get());
}

inline nftnl::Set parsed_set(const nlmsghdr* header) {
  auto set = nftnl::make_set();
  EXPECT_GE(nftnl_set_nlmsg_parse(header, set.get()), 0);
  return set;
}

inline std::string set_userdata(const nftnl_set* set) {
  std::uint32_t length = 0;
  const void* data = nftnl_set_get_data(set, NFTNL_SET_USERDATA, &length);
  return data ? hex(data, length) : "";
}

struct ParsedElement {
  std::string key;
  std::string key_end;
  std::optional<std::uint32_t> flags;
  std::optional<std::int32_t> verdict;
  std::string chain;
  std::string data;
  std::string userdata;
};

inline std::vector<ParsedElement> parsed_elements(const nlmsghdr* header) {
  auto set = nftnl::make_set();
  EXPECT_GE(nftnl_set_elems_nlmsg_parse(header, set.get()), 0);
  std::vector<ParsedElement> out;
  nftnl_set_elem_foreach(
      set.get(),
      [](nftnl_set_elem* element, void* data) {
        ParsedElement parsed;
        std::uint32_t length = 0;
        const auto bytes = [&](std::uint16_t attribute) -> std::string {
          if (!nftnl_set_elem_is_set(element, attribute)) return "";
          const void* value = nftnl_set_elem_get(element, attribute, &length);
          return hex(value, length);
        };
        parsed.key = bytes(NFTNL_SET_ELEM_KEY);
        parsed.key_end = bytes(NFTNL_SET_ELEM_KEY_END);
        parsed.data = bytes(NFTNL_SET_ELEM_DATA);
        parsed.userdata = bytes(NFTNL_SET_ELEM_USERDATA);
        if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_FLAGS)) {
          parsed.flags = nftnl_set_elem_get_u32(element, NFTNL_SET_ELEM_FLAGS);
        }
        if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_VERDICT)) {
          parsed.verdict = static_cast<std::int32_t>(nftnl_set_elem_get_u32(element, NFTNL_SET_ELEM_VERDICT));
        }
        if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_CHAIN)) {
          parsed.chain = nftnl_set_elem_get_str(element, NFTNL_SET_ELEM_CHAIN);
        }
        static_cast<std::vector<ParsedElement>*>(data)->push_back(parsed);
        return 0;
      },
      &out);
  return out;
}

// Byte offset, within its message, of the `ordinal`th child of top-level
// nest `type`: what the kernel's extended ACK reports for that child.
inline std::uint32_t child_offset(const nlmsghdr* header, std::uint16_t type, std::size_t ordinal) {
  const auto* base = reinterpret_cast<const char*>(header);
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(header));
  const auto* attribute = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(header, sizeof(nfgenmsg)));
  for (; mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    if (mnl_attr_get_type(attribute) != type) continue;
    const auto* end = reinterpret_cast<const char*>(attribute) + attribute->nla_len;
    const auto* child = static_cast<const nlattr*>(mnl_attr_get_payload(attribute));
    for (std::size_t i = 0; mnl_attr_ok(child, static_cast<int>(end - reinterpret_cast<const char*>(child)));
         child = mnl_attr_next(child), ++i) {
      if (i == ordinal) return static_cast<std::uint32_t>(reinterpret_cast<const char*>(child) - base);
    }
  }
  ADD_FAILURE() << "no child " << ordinal << " of nest " << type;
  return 0;
}

inline std::vector<const NftElement*> pointers(const std::vector<NftElement>& elements) {
  std::vector<const NftElement*> out;
  for (const NftElement& element : elements) out.push_back(&element);
  return out;
}

// Three elements of a service-ips verdict map, for batches to hold.
inline std::vector<NftElement> three_service_ips() {
  const auto element = [](const char* address, std::uint16_t port, const char* chain) {
    return NftElement{{*IpAddress::parse(address), Protocol::Tcp, port}, {NftVerdict{NftVerdict::Kind::Goto, chain}}};
  };
  return {element("10.96.0.10", 80, "a"), element("10.96.0.11", 81, "b"), element("10.96.0.12", 82, "c")};
}

// A finished batch whose one message (sequence number 11) adds
// three_service_ips() to the map service-ips.
struct ServiceIpsBatch {
  ServiceIpsBatch() {
    batch.add_elements("service-ips", nullptr, pointers(elements));
    batch.finish();
  }
  ServiceIpsBatch(const ServiceIpsBatch&) = delete;  // the batch points at the elements
  ServiceIpsBatch& operator=(const ServiceIpsBatch&) = delete;
  const nlmsghdr* message() const { return header_of(batch, 1); }

  const std::vector<NftElement> elements = three_service_ips();
  NftBatch batch{IpFamily::V4, "kubenat", 10};
};

// ip daddr . meta l4proto . th dport: how kubenat's maps key a destination.
inline const std::vector<NftField> kDestination = {NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport};

}  // namespace kubenat::nft_messages
