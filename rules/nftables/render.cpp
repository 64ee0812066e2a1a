#include "rules/nftables/render.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <type_traits>
#include <utility>

namespace kubenat {
namespace {

std::string_view family_name(IpFamily family) { return family == IpFamily::V4 ? "ip" : "ip6"; }

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// Clang before 17 does not deduce an aggregate's template arguments (the
// fuzz and sanitizer builds use Clang 16).
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string hex32(std::uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", value);
  return buffer;
}

std::string join_fields(const std::vector<NftField>& fields, IpFamily family) {
  std::string out;
  for (const NftField field : fields) {
    if (!out.empty()) out += " . ";
    out += nft_field_text(field, family);
  }
  return out;
}

// The expression a typeof declaration names for a key or data type.
std::string typeof_text(NftType type, bool in_key) {
  switch (type) {
    case NftType::Ipv4Addr: return "ip daddr";
    case NftType::Ipv6Addr: return "ip6 daddr";
    case NftType::InetProto: return "meta l4proto";
    case NftType::InetService: return "th dport";
    case NftType::Mark: return in_key ? "numgen random mod 1" : "meta mark";
    case NftType::Verdict: return "verdict";
  }
  return "";
}

std::string join_types(const std::vector<NftType>& types, bool use_typeof, bool in_key) {
  std::string out;
  for (const NftType type : types) {
    if (!out.empty()) out += " . ";
    out += use_typeof ? typeof_text(type, in_key) : std::string(nft_type_name(type));
  }
  return out;
}

std::string quoted_comment(std::string_view comment) { return "comment \"" + nft_comment(comment) + "\""; }

std::string priority_text(const NftHook& hook) {
  using Type = NftHook::Type;
  using Point = NftHook::Point;
  // nft 1.0.6 names these priorities for these hooks only; others are
  // printed as numbers, which nft reads back the same.
  if (hook.type == Type::Nat && hook.hook == Point::Prerouting && hook.priority == -100) return "dstnat";
  if (hook.type == Type::Nat && hook.hook == Point::Postrouting && hook.priority == 100) return "srcnat";
  if (hook.type == Type::Filter && hook.priority == 0) return "filter";
  return std::to_string(hook.priority);
}

std::string_view hook_point_name(NftHook::Point point) {
  switch (point) {
    case NftHook::Point::Prerouting: return "prerouting";
    case NftHook::Point::Input: return "input";
    case NftHook::Point::Forward: return "forward";
    case NftHook::Point::Output: return "output";
    case NftHook::Point::Postrouting: return "postrouting";
  }
  return "";
}

std::string hook_text(const NftHook& hook) {
  return std::string("type ") + (hook.type == NftHook::Type::Nat ? "nat" : "filter") + " hook " +
         std::string(hook_point_name(hook.hook)) + " priority " + priority_text(hook) + "; policy accept;";
}

std::string statement_text(const NftStatement& statement, IpFamily family) {
  const std::string ip = std::string(family_name(family));
  return std::visit(
      Overloaded{
          [&](const nft::Match& s) {
            return nft_field_text(s.field, family) + (s.negate ? " != " : " ") + render_nft_value(s.value);
          },
          [&](const nft::InSet& s) {
            return join_fields(s.fields, family) + (s.negate ? " != @" : " @") + s.set;
          },
          [&](const nft::FibLocal& s) {
            return std::string("fib ") + (s.source ? "saddr" : "daddr") + " type " + (s.negate ? "!= " : "") + "local";
          },
          [&](const nft::IifName& s) {
            return std::string("iifname ") + (s.negate ? "!= " : "") + "\"" + s.name + (s.prefix ? "*" : "") + "\"";
          },
          [&](const nft::CtStateNew&) { return std::string("ct state new"); },
          [&](const nft::CtStatusDnat&) { return std::string("ct status dnat"); },
          [&](const nft::MarkTest& s) {
            return "meta mark & " + hex32(s.mask) + (s.negate ? " != " : " == ") + hex32(0);
          },
          [&](const nft::MarkOr& s) { return "meta mark set meta mark | " + hex32(s.bits); },
          [&](const nft::MarkXor& s) { return "meta mark set meta mark ^ " + hex32(s.bits); },
          [&](const nft::Vmap& s) { return join_fields(s.fields, family) + " vmap @" + s.map; },
          [&](const nft::DnatMap& s) {
            std::string key = join_fields(s.fields, family);
            if (s.modulus != 0) key += (key.empty() ? "" : " . ") + ("numgen random mod " + std::to_string(s.modulus));
            return "dnat " + ip + " to " + key + " map @" + s.map;
          },
          [&](const nft::Dnat& s) {
            std::string target = s.address.to_string();
            if (s.port != 0) {
              target = s.address.is_v4() ? target + ":" + std::to_string(s.port)
                                         : "[" + target + "]:" + std::to_string(s.port);
            }
            return "dnat " + ip + " to " + target;
          },
          [&](const nft::UpdateSet& s) {
            std::string element = join_fields(s.fields, family);
            if (s.timeout_seconds) element += " timeout " + std::to_string(*s.timeout_seconds) + "s";
            if (!s.data.empty()) element += " : " + join_fields(s.data, family);
            return "update @" + s.set + " { " + element + " }";
          },
          [&](const nft::Masquerade& s) { return std::string(s.fully_random ? "masquerade fully-random" : "masquerade"); },
          [&](const nft::Reject&) { return std::string("reject"); },
          [&](const NftVerdict& s) { return render_nft_verdict(s); },
      },
      statement);
}

// What the sets of a plan hold: the elements the service ports put in them,
// by set name, sorted.
// `shared` holds the elements no service port owns (the configuration's and
// the hairpin pairs), built by the caller so that the pointers stay valid.
std::map<NftSetName, std::vector<const NftElement*>> elements_by_set(const NftPlan& plan,
                                                                      std::vector<NftSetElement>& shared) {
  std::map<NftSetName, std::vector<const NftElement*>> out;
  shared = plan.fixed_elements;
  for (const auto& [ip, refs] : plan.hairpin_refs) shared.emplace_back(kNftHairpinSet, NftElement{{ip, ip}, {}});
  for (const auto& [set, element] : shared) out[set].push_back(&element);
  for (const auto& [name, rules] : plan.service_ports) {
    if (!rules) continue;
    for (const auto& [set, element] : rules->elements) out[set].push_back(&element);
  }
  for (auto& [set, elements] : out) {
    std::sort(elements.begin(), elements.end(), [](const NftElement* a, const NftElement* b) { return *a < *b; });
  }
  return out;
}

// The declaration lines of a set, without the braces.
std::vector<std::string> set_declaration(const NftSet& set) {
  std::vector<std::string> lines;
  const bool use_typeof = nft_set_uses_typeof(set);
  std::string type = use_typeof ? "typeof " : "type ";
  type += join_types(set.key, use_typeof, true);
  if (!set.data.empty()) type += " : " + join_types(set.data, use_typeof, false);
  lines.push_back(std::move(type));
  std::vector<std::string> flags;
  if (set.interval) flags.push_back("interval");
  if (set.timeout_seconds) {
    flags.push_back("dynamic");
    flags.push_back("timeout");
  }
  if (!flags.empty()) {
    std::string line = "flags ";
    for (std::size_t i = 0; i < flags.size(); ++i) line += (i ? "," : "") + flags[i];
    lines.push_back(std::move(line));
  }
  if (set.timeout_seconds) lines.push_back("timeout " + std::to_string(*set.timeout_seconds) + "s");
  if (set.size) lines.push_back("size " + std::to_string(*set.size));
  if (!set.comment.empty()) lines.push_back(quoted_comment(set.comment));
  return lines;
}

std::string_view set_keyword(const NftSet& set) { return set.data.empty() ? "set" : "map"; }

void append_element_list(std::string& out, const std::vector<const NftElement*>& elements, std::string_view indent) {
  for (std::size_t i = 0; i < elements.size(); ++i) {
    out += indent;
    out += render_nft_element(*elements[i]);
    out += i + 1 < elements.size() ? ",\n" : "\n";
  }
}

}  // namespace

std::string_view nft_type_name(NftType type) {
  switch (type) {
    case NftType::Ipv4Addr: return "ipv4_addr";
    case NftType::Ipv6Addr: return "ipv6_addr";
    case NftType::InetProto: return "inet_proto";
    case NftType::InetService: return "inet_service";
    case NftType::Mark: return "mark";
    case NftType::Verdict: return "verdict";
  }
  return "";
}

std::string nft_field_text(NftField field, IpFamily family) {
  const std::string ip(family_name(family));
  switch (field) {
    case NftField::IpSaddr: return ip + " saddr";
    case NftField::IpDaddr: return ip + " daddr";
    case NftField::MetaL4proto: return "meta l4proto";
    case NftField::ThDport: return "th dport";
    case NftField::CtOriginalDaddr: return "ct original " + ip + " daddr";
    case NftField::CtOriginalProtoDst: return "ct original proto-dst";
  }
  return "";
}

std::string render_nft_verdict(const NftVerdict& verdict) {
  switch (verdict.kind) {
    case NftVerdict::Kind::Accept: return "accept";
    case NftVerdict::Kind::Drop: return "drop";
    case NftVerdict::Kind::Return: return "return";
    case NftVerdict::Kind::Jump: return "jump " + verdict.chain;
    case NftVerdict::Kind::Goto: return "goto " + verdict.chain;
  }
  return "";
}

std::string render_nft_value(const NftValue& value, bool in_key) {
  return std::visit(Overloaded{
                        [](const IpAddress& v) { return v.to_string(); },
                        [](const Cidr& v) { return v.to_string(); },
                        [](const Protocol& v) { return std::string(protocol_lower(v)); },
                        [](std::uint16_t v) { return std::to_string(v); },
                        [&](std::uint32_t v) { return in_key ? std::to_string(v) : hex32(v); },
                        [](const NftVerdict& v) { return render_nft_verdict(v); },
                    },
                    value);
}

std::string render_nft_values(const std::vector<NftValue>& values, bool in_key) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += " . ";
    out += render_nft_value(values[i], in_key);
  }
  return out;
}

std::string render_nft_element(const NftElement& element) {
  std::string out = render_nft_values(element.key, true);
  if (!element.data.empty()) out += " : " + render_nft_values(element.data, false);
  return out;
}

std::string render_nft_rule(const NftRule& rule, IpFamily family) {
  std::string out;
  for (const NftStatement& statement : rule.statements) {
    if (!out.empty()) out += ' ';
    out += statement_text(statement, family);
  }
  if (!rule.comment.empty()) {
    if (!out.empty()) out += ' ';
    out += quoted_comment(rule.comment);
  }
  return out;
}

std::string render_nft(const NftPlan& plan) {
  std::vector<NftSetElement> shared;
  const auto elements = elements_by_set(plan, shared);
  std::string out = "table " + std::string(family_name(plan.family)) + " " + plan.table + " {\n";
  bool first = true;
  for (const NftSet& set : plan.sets) {
    if (!first) out += '\n';
    first = false;
    out += "\t" + std::string(set_keyword(set)) + " " + set.name + " {\n";
    for (const std::string& line : set_declaration(set)) out += "\t\t" + line + "\n";
    if (auto it = elements.find(set.name); it != elements.end() && !it->second.empty()) {
      out += "\t\telements = {\n";
      append_element_list(out, it->second, "\t\t\t");
      out += "\t\t}\n";
    }
    out += "\t}\n";
  }
  for (const NftChain& chain : plan.chains) {
    if (!first) out += '\n';
    first = false;
    out += "\tchain " + chain.name + " {\n";
    if (chain.hook) out += "\t\t" + hook_text(*chain.hook) + "\n";
    for (const NftRule& rule : chain.rules) out += "\t\t" + render_nft_rule(rule, plan.family) + "\n";
    out += "\t}\n";
  }
  out += "}\n";
  return out;
}

std::string render_nft_change(const NftChange& change) {
  const std::string where = std::string(family_name(change.family)) + " " + change.table + " ";
  std::string out;
  for (const NftSet& set : change.sets_added) {
    out += "add " + std::string(set_keyword(set)) + " " + where + set.name + " { ";
    for (const std::string& line : set_declaration(set)) out += line + "; ";
    out += "}\n";
  }
  for (const NftChain& chain : change.chains_added) {
    out += "add chain " + where + chain.name;
    if (chain.hook) out += " { " + hook_text(*chain.hook) + " }";
    out += "\n";
  }
  const auto add_rules = [&](const NftChain& chain) {
    for (const NftRule& rule : chain.rules) {
      out += "add rule " + where + chain.name + " " + render_nft_rule(rule, change.family) + "\n";
    }
  };
  for (const NftChain& chain : change.chains_added) add_rules(chain);
  for (const NftChain& chain : change.chains_replaced) {
    out += "flush chain " + where + chain.name + "\n";
    add_rules(chain);
  }
  // A deletion names keys only: that is all the kernel matches on.
  const auto elements = [&](std::string_view verb, const std::vector<NftSetElement>& list, bool keys_only) {
    for (std::size_t i = 0; i < list.size();) {
      std::size_t end = i;
      while (end < list.size() && list[end].first == list[i].first) ++end;
      out += std::string(verb) + " element " + where + list[i].first.str() + " { ";
      for (std::size_t k = i; k < end; ++k) {
        const NftElement& element = list[k].second;
        out += (k != i ? ", " : "") + (keys_only ? render_nft_values(element.key, true) : render_nft_element(element));
      }
      out += " }\n";
      i = end;
    }
  };
  elements("delete", change.elements_removed, true);
  elements("add", change.elements_added, false);
  for (const std::string& chain : change.chains_removed) out += "delete chain " + where + chain + "\n";
  for (const std::string& set : change.sets_removed) out += "delete set " + where + set + "\n";
  return out;
}

}  // namespace kubenat
