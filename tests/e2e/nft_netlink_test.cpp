// The nftables netlink backend against a real kernel, in network namespaces
// of the test's own ("kn<pid>n<k>-<role>", removed even when a test fails):
// what NftBackend puts into the kernel must be what `nft -f` makes of the
// text renderer's output for the same plan, compared as `nft list table`
// prints them (handles stripped, set elements sorted). Also: a change applied
// over netlink equals a fresh apply of the plan it leads to (and the rendered
// change run through `nft -f`), `nft -c` accepts every rendering, a refused
// batch names the element at fault and changes nothing, table_intact()
// notices a flushed, deleted or recreated table, a full apply split into
// several transactions ends the same, and the time to load large tables.

#include "engine/nftables/backend.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <thread>

#include "engine/network_namespace.h"
#include "engine/process.h"
#include "rules/nftables/render.h"
#include "tests/e2e/netns_world.h"

namespace kubenat::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::atomic<int> g_next_namespace{0};

std::string namespace_name(const std::string& role) {
  return "kn" + std::to_string(::getpid()) + "n" + std::to_string(g_next_namespace++) + "-" + role;
}

// The transport's socket is opened by a thread that entered the namespace;
// a netlink socket stays in the namespace it was made in.
std::expected<std::unique_ptr<KernelNftTransport>, std::string> transport_in(const std::string& ns) {
  std::expected<std::unique_ptr<KernelNftTransport>, std::string> out = std::unexpected(std::string("not run"));
  std::thread([&] {
    const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      out = std::unexpected("entering " + ns + ": " + std::strerror(errno));
      if (fd >= 0) ::close(fd);
      return;
    }
    ::close(fd);
    auto transport = KernelNftTransport::open();
    if (transport) {
      out = std::make_unique<KernelNftTransport>(std::move(*transport));
    } else {
      out = std::unexpected(transport.error());
    }
  }).join();
  return out;
}

std::expected<std::string, std::string> nft(const std::string& ns, std::vector<std::string> args,
                                            const std::string& input = {}) {
  std::vector<std::string> argv = {"ip", "netns", "exec", ns, "nft"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.input = input;
  auto result = run_process(argv, options);
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected(describe_command(argv) + ": " + result->err);
  return result->out;
}

std::expected<std::string, std::string> nft_file(const std::string& ns, const std::string& text, bool check = false) {
  std::vector<std::string> args;
  if (check) args.push_back("-c");
  args.insert(args.end(), {"-f", "/dev/stdin"});
  return nft(ns, args, text);
}

// `nft list table`, normalized: no handles, no indentation, the elements of
// each set one per line and sorted (hash sets list them in hash order, which
// differs between two namespaces), sets and chains sorted by name (the
// kernel lists them in creation order, and a change creates its new ones
// after the others). The rules of a chain keep their order.
std::string normalize(const std::string& listing) {
  std::vector<std::string> lines;
  std::istringstream in(listing);
  std::string line;
  std::string pending;  // an `elements = {` block being gathered
  bool in_elements = false;
  const auto trim = [](std::string s) {
    const auto first = s.find_first_not_of(" \t");
    const auto last = s.find_last_not_of(" \t");
    return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
  };
  while (std::getline(in, line)) {
    if (auto handle = line.find(" # handle"); handle != std::string::npos) line.resize(handle);
    line = trim(line);
    if (!in_elements && line.starts_with("elements = {")) {
      in_elements = true;
      pending = line.substr(std::strlen("elements = {"));
    } else if (in_elements) {
      pending += " " + line;
    } else if (!line.empty()) {
      lines.push_back(line);
    }
    if (in_elements && pending.find('}') != std::string::npos) {
      pending.resize(pending.rfind('}'));
      std::vector<std::string> elements;
      std::istringstream items(pending);
      std::string item;
      while (std::getline(items, item, ',')) {
        if (!trim(item).empty()) elements.push_back(trim(item));
      }
      std::sort(elements.begin(), elements.end());
      lines.push_back("elements = {");
      for (const std::string& element : elements) lines.push_back("  " + element);
      lines.push_back("}");
      in_elements = false;
    }
  }
  // Group the table's blocks: `set|map|chain <name> {` ... `}`.
  std::vector<std::string> outside;  // `table ip kubenat {` and its `}`
  std::vector<std::pair<std::string, std::string>> sets;
  std::vector<std::pair<std::string, std::string>> chains;
  int depth = 0;
  std::string block;
  for (const std::string& l : lines) {
    const int before = depth;
    if (l.ends_with("{")) ++depth;
    if (l == "}") --depth;
    if (before == 0 || depth == 0) {
      outside.push_back(l);
      continue;
    }
    block += l + "\n";
    if (depth == 1) {
      (block.starts_with("chain ") ? chains : sets).emplace_back(block.substr(block.find(' ')), block);
      block.clear();
    }
  }
  std::sort(sets.begin(), sets.end());
  std::sort(chains.begin(), chains.end());
  std::string out;
  if (!outside.empty()) out += outside.front() + "\n";
  for (const auto& [name, text] : sets) out += text;
  for (const auto& [name, text] : chains) out += text;
  for (std::size_t i = 1; i < outside.size(); ++i) out += outside[i] + "\n";
  return out;
}

std::expected<std::string, std::string> listing(const std::string& ns, IpFamily family = IpFamily::V4) {
  auto out = nft(ns, {"list", "table", family == IpFamily::V4 ? "ip" : "ip6", "kubenat"});
  if (!out) return out;
  return normalize(*out);
}

// --- The representative plan: every kind of set and every statement.

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }
Cidr cidr(const std::string& text) { return *Cidr::parse(text); }
NftVerdict goto_chain(const std::string& chain) { return {NftVerdict::Kind::Goto, chain}; }
NftVerdict jump(const std::string& chain) { return {NftVerdict::Kind::Jump, chain}; }
NftVerdict verdict(NftVerdict::Kind kind) { return {kind, {}}; }
ServicePortName port_name(const std::string& ns, const std::string& name, const std::string& port,
                          Protocol protocol = Protocol::Tcp) {
  return ServicePortName{{ns, name}, port, protocol};
}

NftRule rule(std::vector<NftStatement> statements, std::string comment = {}) {
  return NftRule{std::move(statements), std::move(comment)};
}

const std::vector<NftField> kDestination = {NftField::IpDaddr, NftField::MetaL4proto, NftField::ThDport};

// `changed` gives the plan after the change of representative_change().
NftPlan representative_plan(bool changed) {
  using F = NftField;
  using K = NftVerdict::Kind;
  NftPlan plan;
  plan.sets = {
      NftSet{"cluster-ips", {NftType::Ipv4Addr}, {}, false, std::nullopt, "cluster IPs"},
      NftSet{"no-endpoint-services", {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService}, {}, false,
             std::nullopt, ""},
      NftSet{"service-ips", {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService}, {NftType::Verdict}, false,
             std::nullopt, "service dispatch"},
      NftSet{"service-nodeports", {NftType::InetProto, NftType::InetService}, {NftType::Verdict}, false, std::nullopt,
             ""},
      NftSet{"endpoints",
             {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Mark},
             {NftType::Ipv4Addr, NftType::InetService},
             false,
             std::nullopt,
             "endpoint by index"},
      NftSet{"service-addresses", {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService},
             {NftType::Ipv4Addr, NftType::InetService}, false, std::nullopt, ""},
      NftSet{"firewall-ranges",
             {NftType::Ipv4Addr, NftType::InetProto, NftType::InetService, NftType::Ipv4Addr},
             {NftType::Verdict},
             true,
             std::nullopt,
             "loadBalancerSourceRanges"},
      NftSet{"local-cidrs", {NftType::Ipv4Addr}, {}, true, std::nullopt, ""},
      NftSet{"protocols", {NftType::InetProto}, {}, false, std::nullopt, ""},
      NftSet{"ports", {NftType::InetService}, {NftType::Verdict}, false, std::nullopt, ""},
  };
  if (!changed) plan.sets.push_back(NftSet{"obsolete-set", {NftType::Ipv4Addr}, {}, false, std::nullopt, ""});

  const NftHook prerouting{NftHook::Type::Nat, NftHook::Point::Prerouting, -100};
  const NftHook output{NftHook::Type::Nat, NftHook::Point::Output, -100};
  const NftHook postrouting{NftHook::Type::Nat, NftHook::Point::Postrouting, 100};
  const NftHook forward{NftHook::Type::Filter, NftHook::Point::Forward, 0};
  plan.chains = {
      NftChain{"mark-for-masquerade", std::nullopt, {rule({nft::MarkOr{0x4000}})}},
      NftChain{"pick-1", std::nullopt, {rule({nft::DnatMap{kDestination, 1, "endpoints"}})}},
      NftChain{"pick-2", std::nullopt, {rule({nft::DnatMap{kDestination, 2, "endpoints"}})}},
      NftChain{"direct", std::nullopt, {rule({nft::DnatMap{kDestination, 0, "service-addresses"}})}},
      NftChain{"class-cluster-ip",
               std::nullopt,
               changed ? std::vector<NftRule>{rule({nft::Match{F::IpSaddr, true, cidr("10.0.0.0/8")},
                                                    NftVerdict{jump("mark-for-masquerade")}},
                                                   "not from a pod"),
                                              rule({NftVerdict{goto_chain("pick-1")}})}
                       : std::vector<NftRule>{rule({nft::Match{F::IpSaddr, true, cidr("10.244.0.0/16")},
                                                    NftVerdict{jump("mark-for-masquerade")}}),
                                              rule({nft::InSet{{F::IpSaddr}, "obsolete-set", false},
                                                    verdict(K::Drop)}),
                                              rule({NftVerdict{goto_chain("pick-2")}})}},
      NftChain{"external",
               std::nullopt,
               {
                   rule({nft::FibLocal{false, false}, NftVerdict{jump("mark-for-masquerade")}}, "local destination"),
                   rule({nft::FibLocal{true, true}, verdict(K::Return)}),
                   rule({nft::Match{F::IpDaddr, false, cidr("10.96.0.0/12")},
                         nft::Match{F::IpSaddr, false, cidr("192.168.0.0/24")},
                         nft::Match{F::IpDaddr, true, ip("10.96.0.1")}, verdict(K::Accept)}),
                   rule({nft::Match{F::IpSaddr, false, cidr("0.0.0.0/0")}, nft::Match{F::MetaL4proto, false, Protocol::Udp},
                         nft::Match{F::ThDport, true, std::uint16_t{53}}, verdict(K::Drop)}),
                   rule({nft::InSet{kDestination, "no-endpoint-services", true}, nft::InSet{{F::IpSaddr}, "local-cidrs",
                                                                                            false},
                         verdict(K::Return)}),
                   rule({nft::InSet{{F::MetaL4proto}, "protocols", false}, nft::Vmap{{F::ThDport}, "ports"}}),
               }},
      NftChain{"prerouting",
               prerouting,
               {rule({nft::Vmap{kDestination, "service-ips"}}, "services"),
                rule({nft::FibLocal{false, false}, nft::Vmap{{F::MetaL4proto, F::ThDport}, "service-nodeports"}}),
                rule({nft::Match{F::IpDaddr, false, cidr("203.0.113.0/24")}, NftVerdict{jump("external")}})}},
      NftChain{"output", output, {rule({nft::Vmap{kDestination, "service-ips"}})}},
      NftChain{"postrouting",
               postrouting,
               {rule({nft::MarkTest{0x4000, false}, verdict(K::Return)}), rule({nft::MarkXor{0x4000}}),
                rule({nft::Masquerade{true}}, "masquerade"), rule({nft::MarkTest{0x8000, true}, nft::Masquerade{false}})}},
      NftChain{"filter-forward",
               forward,
               {rule({nft::CtStateNew{}, nft::InSet{kDestination, "no-endpoint-services", false}, nft::Reject{}},
                     "no endpoints"),
                rule({nft::CtStatusDnat{}, verdict(K::Accept)}),
                rule({nft::Vmap{{F::IpDaddr, F::MetaL4proto, F::ThDport, F::IpSaddr}, "firewall-ranges"}})}},
  };
  if (!changed) plan.chains.push_back(NftChain{"obsolete-chain", std::nullopt, {rule({verdict(K::Drop)})}});

  // default/web:http: two endpoints, a firewall range, session affinity.
  auto web = std::make_shared<NftServicePortRules>();
  web->elements = {
      {"cluster-ips", NftElement{{ip("10.96.0.10")}, {}}},
      {"service-ips", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}}, {goto_chain("pick-2")}}},
      {"endpoints", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{0}},
                               {ip("10.200.1.10"), std::uint16_t{8080}}}},
      {"endpoints", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                               {ip("10.200.1.11"), std::uint16_t{8080}}}},
      {"firewall-ranges",
       NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, cidr("192.168.0.0/16")}, {verdict(K::Accept)}}},
      {"service-nodeports", NftElement{{Protocol::Tcp, std::uint16_t{30080}}, {goto_chain("external")}}},
  };
  plan.sets.push_back(NftSet{"affinity-web", {NftType::Ipv4Addr}, {}, false, std::uint32_t{10800}, "affinity"});
  plan.chains.push_back(NftChain{"svc-web",
                                 std::nullopt,
                                 {rule({nft::InSet{{F::IpSaddr}, "affinity-web", false},
                                        nft::Match{F::MetaL4proto, false, Protocol::Tcp},
                                        nft::Dnat{ip("10.200.1.10"), 8080}}),
                                  rule({nft::UpdateSet{{F::IpSaddr}, "affinity-web"}, nft::Dnat{ip("10.200.1.11"), 0}})}});
  web->endpoint_count = 2;
  plan.service_ports[port_name("default", "web", "http")] = web;

  // kube-system/dns:dns (UDP): no endpoints.
  auto dns = std::make_shared<NftServicePortRules>();
  dns->elements = {
      {"cluster-ips", NftElement{{ip("10.96.0.53")}, {}}},
      {"no-endpoint-services", NftElement{{ip("10.96.0.53"), Protocol::Udp, std::uint16_t{53}}, {}}},
  };
  plan.service_ports[port_name("kube-system", "dns", "dns", Protocol::Udp)] = dns;

  // shop/cart (SCTP): one endpoint, reached through the address.port map;
  // the local CIDRs (a prefix, a single address, a range up to the last
  // address); a protocol and a port.
  auto cart = std::make_shared<NftServicePortRules>();
  cart->elements = {
      {"cluster-ips", NftElement{{ip("10.96.0.77")}, {}}},
      {"service-ips", NftElement{{ip("10.96.0.77"), Protocol::Sctp, std::uint16_t{9}}, {goto_chain("direct")}}},
      {"service-addresses", NftElement{{ip("10.96.0.77"), Protocol::Sctp, std::uint16_t{9}},
                                       {ip("10.200.1.12"), std::uint16_t{9999}}}},
      {"local-cidrs", NftElement{{cidr("10.0.0.0/8")}, {}}},
      {"local-cidrs", NftElement{{ip("172.16.0.1")}, {}}},
      {"local-cidrs", NftElement{{cidr("240.0.0.0/4")}, {}}},
      {"protocols", NftElement{{Protocol::Sctp}, {}}},
      {"ports", NftElement{{std::uint16_t{9}}, {NftVerdict{jump("class-cluster-ip")}}}},
  };
  if (!changed) {
    cart->elements.push_back({"service-ips", NftElement{{ip("10.96.0.78"), Protocol::Tcp, std::uint16_t{1}},
                                                        {goto_chain("obsolete-chain")}}});
    cart->elements.push_back({"obsolete-set", NftElement{{ip("192.0.2.1")}, {}}});
  }
  plan.service_ports[port_name("shop", "cart", "", Protocol::Sctp)] = cart;

  if (changed) {
    // default/web gains a third endpoint and loses its second; a new range.
    web->elements[3] = {"endpoints", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{2}},
                                                {ip("10.200.1.13"), std::uint16_t{8080}}}};
    web->elements.push_back({"firewall-ranges", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80},
                                                            cidr("172.16.0.0/12")},
                                                           {verdict(K::Drop)}}});
    // kube-system/dns leaves cluster-ips; cart's local CIDRs change.
    dns->elements.erase(dns->elements.begin());
    cart->elements[4] = {"local-cidrs", NftElement{{cidr("192.168.5.0/24")}, {}}};
    // A new service port, and a set and a chain the layout gains.
    auto api = std::make_shared<NftServicePortRules>();
    api->elements = {{"service-ips", NftElement{{ip("10.96.0.99"), Protocol::Tcp, std::uint16_t{443}},
                                                {goto_chain("svc-api")}}}};
    plan.sets.push_back(NftSet{"affinity-api", {NftType::Ipv4Addr}, {}, false, std::uint32_t{60}, ""});
    plan.chains.push_back(NftChain{"svc-api",
                                   std::nullopt,
                                   {rule({nft::UpdateSet{{F::IpSaddr}, "affinity-api"},
                                          nft::Match{F::MetaL4proto, false, Protocol::Tcp},
                                          nft::Dnat{ip("10.200.1.20"), 6443}})}});
    plan.service_ports[port_name("default", "api", "https")] = api;
  }
  return plan;
}

// From representative_plan(false) to representative_plan(true), by hand.
NftChange representative_change() {
  const NftPlan after = representative_plan(true);
  const auto chain_of = [&](const std::string& name) {
    for (const NftChain& chain : after.chains) {
      if (chain.name == name) return chain;
    }
    return NftChain{};
  };
  NftChange change;
  change.sets_added = {NftSet{"affinity-api", {NftType::Ipv4Addr}, {}, false, std::uint32_t{60}, ""}};
  change.chains_added = {chain_of("svc-api")};
  change.chains_replaced = {chain_of("class-cluster-ip")};
  change.elements_removed = {
      {"cluster-ips", NftElement{{ip("10.96.0.53")}, {}}},
      {"endpoints", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                               {ip("10.200.1.11"), std::uint16_t{8080}}}},
      {"local-cidrs", NftElement{{ip("172.16.0.1")}, {}}},
      {"obsolete-set", NftElement{{ip("192.0.2.1")}, {}}},
      {"service-ips", NftElement{{ip("10.96.0.78"), Protocol::Tcp, std::uint16_t{1}}, {goto_chain("obsolete-chain")}}},
  };
  change.elements_added = {
      {"endpoints", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{2}},
                               {ip("10.200.1.13"), std::uint16_t{8080}}}},
      {"firewall-ranges", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, cidr("172.16.0.0/12")},
                                     {verdict(NftVerdict::Kind::Drop)}}},
      {"local-cidrs", NftElement{{cidr("192.168.5.0/24")}, {}}},
      {"service-ips", NftElement{{ip("10.96.0.99"), Protocol::Tcp, std::uint16_t{443}}, {goto_chain("svc-api")}}},
  };
  change.chains_removed = {"obsolete-chain"};
  change.sets_removed = {"obsolete-set"};
  change.changed_service_ports = {port_name("default", "api", "https"), port_name("default", "web", "http"),
                                  port_name("kube-system", "dns", "dns", Protocol::Udp),
                                  port_name("shop", "cart", "", Protocol::Sctp)};
  return change;
}

// An IPv6 plan: the family-specific parts (addresses, offsets, registers of
// a 16-byte key, reject code, `dnat ip6`).
NftPlan ipv6_plan() {
  using F = NftField;
  NftPlan plan;
  plan.family = IpFamily::V6;
  plan.sets = {
      NftSet{"service-ips", {NftType::Ipv6Addr, NftType::InetProto, NftType::InetService}, {NftType::Verdict}, false,
             std::nullopt, ""},
      NftSet{"endpoints",
             {NftType::Ipv6Addr, NftType::InetProto, NftType::InetService, NftType::Mark},
             {NftType::Ipv6Addr, NftType::InetService},
             false,
             std::nullopt,
             ""},
      NftSet{"firewall-ranges",
             {NftType::Ipv6Addr, NftType::InetProto, NftType::InetService, NftType::Ipv6Addr},
             {NftType::Verdict},
             true,
             std::nullopt,
             ""},
      NftSet{"local-cidrs", {NftType::Ipv6Addr}, {}, true, std::nullopt, ""},
  };
  plan.chains = {
      NftChain{"pick-2", std::nullopt, {rule({nft::DnatMap{kDestination, 2, "endpoints"}})}},
      NftChain{"prerouting",
               NftHook{NftHook::Type::Nat, NftHook::Point::Prerouting, -100},
               {rule({nft::Vmap{kDestination, "service-ips"}}),
                rule({nft::Match{F::IpSaddr, false, cidr("fd00:10::/33")},
                      nft::Match{F::IpDaddr, true, cidr("fd00:96::/64")}, nft::InSet{{F::IpSaddr}, "local-cidrs", false},
                      nft::Match{F::MetaL4proto, false, Protocol::Tcp}, nft::Dnat{ip("fd00:200::5"), 80}})}},
      NftChain{"filter-forward",
               NftHook{NftHook::Type::Filter, NftHook::Point::Forward, 0},
               {rule({nft::CtStateNew{}, nft::Reject{}}),
                rule({nft::Vmap{{F::IpDaddr, F::MetaL4proto, F::ThDport, F::IpSaddr}, "firewall-ranges"}})}},
      NftChain{"postrouting", NftHook{NftHook::Type::Nat, NftHook::Point::Postrouting, 100},
               {rule({nft::Masquerade{true}})}},
  };
  auto web = std::make_shared<NftServicePortRules>();
  web->elements = {
      {"service-ips", NftElement{{ip("fd00:96::10"), Protocol::Tcp, std::uint16_t{80}}, {goto_chain("pick-2")}}},
      {"endpoints", NftElement{{ip("fd00:96::10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{0}},
                               {ip("fd00:200::10"), std::uint16_t{8080}}}},
      {"endpoints", NftElement{{ip("fd00:96::10"), Protocol::Tcp, std::uint16_t{80}, std::uint32_t{1}},
                               {ip("fd00:200::11"), std::uint16_t{8080}}}},
      {"firewall-ranges", NftElement{{ip("fd00:96::10"), Protocol::Tcp, std::uint16_t{80}, cidr("2001:db8::/32")},
                                     {verdict(NftVerdict::Kind::Accept)}}},
      {"local-cidrs", NftElement{{cidr("fd00::/8")}, {}}},
      {"local-cidrs", NftElement{{cidr("ff00::/8")}, {}}},
  };
  plan.sets.push_back(NftSet{"affinity-web", {NftType::Ipv6Addr}, {}, false, std::uint32_t{10800}, ""});
  plan.chains.push_back(NftChain{"svc-web", std::nullopt, {rule({nft::UpdateSet{{F::IpSaddr}, "affinity-web"}})}});
  plan.service_ports[port_name("default", "web", "http")] = web;
  return plan;
}

// Two namespaces, one per way into the kernel.
class NftNetlinkKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto a = ScopedNetworkNamespace::create(namespace_name("netlink"));
    ASSERT_TRUE(a) << a.error();
    netlink_ns_ = std::make_unique<ScopedNetworkNamespace>(std::move(*a));
    auto b = ScopedNetworkNamespace::create(namespace_name("text"));
    ASSERT_TRUE(b) << b.error();
    text_ns_ = std::make_unique<ScopedNetworkNamespace>(std::move(*b));
    auto transport = transport_in(netlink_ns_->name());
    ASSERT_TRUE(transport) << transport.error();
    transport_ = std::move(*transport);
  }

  const std::string& netlink_ns() const { return netlink_ns_->name(); }
  const std::string& text_ns() const { return text_ns_->name(); }

  // The table as `nft -f render_nft(plan)` leaves it in the text namespace,
  // after `nft flush ruleset`.
  std::string listed_from_text(const NftPlan& plan) {
    auto flushed = nft(text_ns(), {"flush", "ruleset"});
    EXPECT_TRUE(flushed) << flushed.error();
    auto loaded = nft_file(text_ns(), render_nft(plan));
    EXPECT_TRUE(loaded) << loaded.error() << "\n" << render_nft(plan);
    auto listed = listing(text_ns(), plan.family);
    EXPECT_TRUE(listed) << listed.error();
    return listed.value_or("");
  }

  std::string listed_from_netlink(IpFamily family = IpFamily::V4) {
    auto listed = listing(netlink_ns(), family);
    EXPECT_TRUE(listed) << listed.error();
    return listed.value_or("");
  }

  std::unique_ptr<ScopedNetworkNamespace> netlink_ns_;
  std::unique_ptr<ScopedNetworkNamespace> text_ns_;
  std::unique_ptr<KernelNftTransport> transport_;
};

TEST_F(NftNetlinkKernel, FullApplyHoldsWhatNftMakesOfTheRendering) {
  const NftPlan plan = representative_plan(false);
  NftBackend backend(*transport_, IpFamily::V4, "kubenat");
  auto applied = backend.apply_full(plan);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(applied->transactions, 1u);
  EXPECT_EQ(applied->elements_added, 18u);
  EXPECT_EQ(applied->chains_written, plan.chains.size());
  const std::string from_text = listed_from_text(plan);
  EXPECT_EQ(listed_from_netlink(), from_text);
  // The listing is the real thing, not two empty tables.
  EXPECT_THAT(from_text, HasSubstr("dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @endpoints"));
  EXPECT_THAT(from_text, HasSubstr("10.96.0.10 . tcp . 80 . 192.168.0.0/16 : accept"));
}

TEST_F(NftNetlinkKernel, Ipv6FullApplyHoldsWhatNftMakesOfTheRendering) {
  const NftPlan plan = ipv6_plan();
  NftBackend backend(*transport_, IpFamily::V6, "kubenat");
  auto applied = backend.apply_full(plan);
  ASSERT_TRUE(applied) << applied.error().message;
  const std::string from_text = listed_from_text(plan);
  EXPECT_EQ(listed_from_netlink(IpFamily::V6), from_text);
  EXPECT_THAT(from_text, HasSubstr("fd00:96::10 . tcp . 80 . 1 : fd00:200::11 . 8080"));
}

TEST_F(NftNetlinkKernel, ChangeEndsWhereAFreshApplyOfTheNewPlanStarts) {
  const NftPlan before = representative_plan(false);
  const NftPlan after = representative_plan(true);
  const NftChange change = representative_change();
  NftBackend backend(*transport_, IpFamily::V4, "kubenat");
  auto applied = backend.apply_full(before);
  ASSERT_TRUE(applied) << applied.error().message;

  auto changed = backend.apply(change, {&before, &after});
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(changed->transactions, 1u);
  EXPECT_EQ(changed->elements_added, 4u);
  EXPECT_EQ(changed->elements_removed, 5u);
  EXPECT_EQ(changed->chains_written, 2u);
  const std::string after_change = listed_from_netlink();
  EXPECT_EQ(after_change, listed_from_text(after));
  EXPECT_THAT(after_change, Not(HasSubstr("obsolete")));

  // The rendered change, run through nft over the old table, ends the same.
  auto flushed = nft(text_ns(), {"flush", "ruleset"});
  ASSERT_TRUE(flushed) << flushed.error();
  auto loaded = nft_file(text_ns(), render_nft(before));
  ASSERT_TRUE(loaded) << loaded.error();
  auto checked = nft_file(text_ns(), render_nft_change(change), true);
  EXPECT_TRUE(checked) << checked.error() << "\n" << render_nft_change(change);
  auto ran = nft_file(text_ns(), render_nft_change(change));
  ASSERT_TRUE(ran) << ran.error() << "\n" << render_nft_change(change);
  auto listed = listing(text_ns());
  ASSERT_TRUE(listed) << listed.error();
  EXPECT_EQ(*listed, after_change);

  // And the backend keeps working from there: the change undone by hand.
  NftChange back;
  back.elements_added = change.elements_removed;
  back.elements_removed = change.elements_added;
  std::erase_if(back.elements_added, [](const NftSetElement& e) {
    return e.first == "obsolete-set" || e.second.data == std::vector<NftValue>{goto_chain("obsolete-chain")};
  });
  auto undone = backend.apply(back);
  ASSERT_TRUE(undone) << undone.error().message;
}

TEST_F(NftNetlinkKernel, NftCheckAcceptsEveryRendering) {
  for (const NftPlan& plan : {representative_plan(false), representative_plan(true), ipv6_plan()}) {
    auto checked = nft_file(text_ns(), render_nft(plan), true);
    EXPECT_TRUE(checked) << checked.error() << "\n" << render_nft(plan);
  }
}

TEST_F(NftNetlinkKernel, RefusedBatchNamesTheElementAndChangesNothing) {
  const NftPlan plan = representative_plan(false);
  NftBackend backend(*transport_, IpFamily::V4, "kubenat");
  auto applied = backend.apply_full(plan);
  ASSERT_TRUE(applied) << applied.error().message;
  const std::string before = listed_from_netlink();

  NftChange change;
  change.elements_added = {
      {"service-ips", NftElement{{ip("10.96.0.11"), Protocol::Tcp, std::uint16_t{80}}, {goto_chain("pick-1")}}},
      {"missing-map", NftElement{{ip("10.96.0.12"), Protocol::Tcp, std::uint16_t{81}}, {goto_chain("pick-1")}}},
  };
  change.chains_added = {NftChain{"new-chain", std::nullopt, {rule({verdict(NftVerdict::Kind::Accept)})}}};
  auto refused = backend.apply(change);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("10.96.0.12 . tcp . 81 in map missing-map"));
  EXPECT_THAT(refused.error().message, HasSubstr("No such file or directory"));
  ASSERT_TRUE(refused.error().object);
  EXPECT_THAT(*refused.error().object, HasSubstr("missing-map"));
  EXPECT_EQ(listed_from_netlink(), before);

  // An element the kernel finds at fault inside a message of several: a
  // duplicate range in a concatenation with ranges, named with its service.
  NftChange overlapping;
  const NftElement taken{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{80}, cidr("192.168.0.0/16")},
                         {verdict(NftVerdict::Kind::Drop)}};
  overlapping.elements_added = {
      {"firewall-ranges", NftElement{{ip("10.96.0.10"), Protocol::Tcp, std::uint16_t{81}, cidr("10.0.0.0/8")},
                                     {verdict(NftVerdict::Kind::Drop)}}},
      {"firewall-ranges", taken},
  };
  NftPlan owners = plan;
  auto web = std::make_shared<NftServicePortRules>(*plan.service_ports.at(port_name("default", "web", "http")));
  web->elements.push_back({"firewall-ranges", taken});
  owners.service_ports[port_name("default", "web", "http")] = web;
  auto refused_again = backend.apply(overlapping, {nullptr, &owners});
  ASSERT_FALSE(refused_again);
  EXPECT_THAT(refused_again.error().message,
              HasSubstr("element 10.96.0.10 . tcp . 80 . 192.168.0.0/16 in map firewall-ranges "
                        "(service default/web:http)"));
  EXPECT_EQ(listed_from_netlink(), before);
}

TEST_F(NftNetlinkKernel, TableIntactUntilFlushedDeletedOrRecreated) {
  const NftPlan plan = representative_plan(false);
  NftBackend backend(*transport_, IpFamily::V4, "kubenat");
  auto intact = backend.table_intact();
  ASSERT_TRUE(intact) << intact.error();
  EXPECT_FALSE(*intact) << "nothing applied yet";

  ASSERT_TRUE(backend.apply_full(plan));
  intact = backend.table_intact();
  ASSERT_TRUE(intact) << intact.error();
  EXPECT_TRUE(*intact);

  ASSERT_TRUE(nft(netlink_ns(), {"flush", "ruleset"}));
  intact = backend.table_intact();
  ASSERT_TRUE(intact) << intact.error();
  EXPECT_FALSE(*intact) << "after nft flush ruleset";

  ASSERT_TRUE(backend.apply_full(plan));
  EXPECT_EQ(backend.table_intact().value_or(false), true);
  ASSERT_TRUE(nft(netlink_ns(), {"delete", "table", "ip", "kubenat"}));
  EXPECT_EQ(backend.table_intact().value_or(true), false) << "after nft delete table";

  ASSERT_TRUE(backend.apply_full(plan));
  EXPECT_EQ(backend.table_intact().value_or(false), true);
  ASSERT_TRUE(nft(netlink_ns(), {"delete", "table", "ip", "kubenat"}));
  ASSERT_TRUE(nft(netlink_ns(), {"add", "table", "ip", "kubenat"}));
  EXPECT_EQ(backend.table_intact().value_or(true), false) << "recreated by someone else";

  // An ip6 table of the same name is another table.
  ASSERT_TRUE(backend.apply_full(plan));
  ASSERT_TRUE(nft(netlink_ns(), {"add", "table", "ip6", "kubenat"}));
  EXPECT_EQ(backend.table_intact().value_or(false), true);
}

TEST_F(NftNetlinkKernel, FullApplyReplacesATableLeftBehind) {
  // What an earlier run (or anyone) left: other chains, other sets.
  auto seeded = nft_file(netlink_ns(), "table ip kubenat {\n\tset stale { type ipv4_addr; }\n\tchain stale-chain {\n"
                                       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tdrop\n\t}\n}\n");
  ASSERT_TRUE(seeded) << seeded.error();
  const NftPlan plan = representative_plan(false);
  NftBackend backend(*transport_, IpFamily::V4, "kubenat");
  auto applied = backend.apply_full(plan);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(listed_from_netlink(), listed_from_text(plan));
}

TEST_F(NftNetlinkKernel, ChunkedFullApplyEndsTheSame) {
  NftPlan plan = representative_plan(false);
  // Enough service ports that a 16 KiB budget splits them.
  for (int i = 0; i < 400; ++i) {
    auto rules = std::make_shared<NftServicePortRules>();
    const IpAddress address = IpAddress::v4(10, 97, static_cast<std::uint8_t>(i / 200), static_cast<std::uint8_t>(i % 200));
    rules->elements = {
        {"service-ips", NftElement{{address, Protocol::Tcp, std::uint16_t{80}}, {goto_chain("pick-1")}}},
        {"endpoints", NftElement{{address, Protocol::Tcp, std::uint16_t{80}, std::uint32_t{0}},
                                 {IpAddress::v4(10, 201, static_cast<std::uint8_t>(i / 200),
                                                static_cast<std::uint8_t>(i % 200)),
                                  std::uint16_t{8080}}}},
    };
    plan.service_ports[port_name("bulk", "svc" + std::to_string(i), "p")] = rules;
  }
  NftBackend backend(*transport_, IpFamily::V4, "kubenat", NftBackend::Options{16 * 1024});
  auto applied = backend.apply_full(plan);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_GT(applied->transactions, 2u);
  EXPECT_EQ(applied->elements_added, 818u);
  EXPECT_EQ(listed_from_netlink(), listed_from_text(plan));
  EXPECT_EQ(backend.table_intact().value_or(false), true);
}

// The time to load a table of N services (a service-ips element and
// `endpoints` endpoint elements each, in the representative layout) and to
// apply a four-element change to it. The number of elements comes from
// KUBENAT_NFT_TIMING_ELEMENTS (default 100,000), the full apply's
// transaction budget from KUBENAT_NFT_TIMING_BUDGET (bytes; default the
// backend's).
TEST_F(NftNetlinkKernel, LargeTableTimings) {
  const char* env = std::getenv("KUBENAT_NFT_TIMING_ELEMENTS");
  const int elements = env ? std::atoi(env) : 100'000;
  constexpr int kEndpoints = 9;  // + 1 service-ips element: 10 elements per service
  const int services = std::max(1, elements / (kEndpoints + 1));
  NftPlan plan = representative_plan(false);
  for (int i = 0; i < services; ++i) {
    auto rules = std::make_shared<NftServicePortRules>();
    const IpAddress address = IpAddress::v4(10, static_cast<std::uint8_t>(100 + i / 65536),
                                            static_cast<std::uint8_t>(i / 256 % 256), static_cast<std::uint8_t>(i % 256));
    rules->elements.push_back(
        {"service-ips", NftElement{{address, Protocol::Tcp, std::uint16_t{80}}, {goto_chain("pick-2")}}});
    for (int k = 0; k < kEndpoints; ++k) {
      rules->elements.push_back(
          {"endpoints", NftElement{{address, Protocol::Tcp, std::uint16_t{80}, static_cast<std::uint32_t>(k)},
                                   {IpAddress::v4(11, static_cast<std::uint8_t>(i / 65536 + k * 10),
                                                  static_cast<std::uint8_t>(i / 256 % 256),
                                                  static_cast<std::uint8_t>(i % 256)),
                                    std::uint16_t{8080}}}});
    }
    plan.service_ports[port_name("bulk", "svc" + std::to_string(i), "p")] = rules;
  }
  NftBackend::Options options;
  if (const char* budget = std::getenv("KUBENAT_NFT_TIMING_BUDGET")) options.max_transaction_bytes = std::stoull(budget);
  NftBackend backend(*transport_, IpFamily::V4, "kubenat", options);
  const auto start = std::chrono::steady_clock::now();
  auto applied = backend.apply_full(plan);
  const auto loaded = std::chrono::steady_clock::now();
  ASSERT_TRUE(applied) << applied.error().message;

  NftChange change;
  const auto endpoint = [](std::uint8_t last, std::uint32_t index) {
    return NftElement{{IpAddress::v4(10, 100, 0, 7), Protocol::Tcp, std::uint16_t{80}, index},
                      {IpAddress::v4(12, 0, 0, last), std::uint16_t{8080}}};
  };
  change.elements_added = {{"endpoints", endpoint(1, 100)}, {"endpoints", endpoint(2, 101)}};
  auto first_change = backend.apply(change);
  ASSERT_TRUE(first_change) << first_change.error().message;
  // The measured change: two endpoints out, two in (4 elements).
  NftChange swap;
  swap.elements_removed = change.elements_added;
  swap.elements_added = {{"endpoints", endpoint(3, 102)}, {"endpoints", endpoint(4, 103)}};
  const auto change_start = std::chrono::steady_clock::now();
  auto swapped = backend.apply(swap);
  const auto change_end = std::chrono::steady_clock::now();
  ASSERT_TRUE(swapped) << swapped.error().message;
  // The kernel holds the new elements and not the old ones (checked by
  // deleting them: `nft get element` would read the whole map first).
  NftChange check_new;
  check_new.elements_removed = swap.elements_added;
  EXPECT_TRUE(backend.apply(check_new));
  NftChange check_old;
  check_old.elements_removed = {swap.elements_removed[0]};
  auto gone = backend.apply(check_old);
  ASSERT_FALSE(gone);
  EXPECT_THAT(gone.error().message, HasSubstr("No such file or directory"));
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf("nft netlink: %d elements (%d services): full apply %.0f ms, %zu transaction(s), %zu messages, "
              "%zu bytes; 4-element change %.2f ms, %zu bytes\n",
              services * (kEndpoints + 1), services, ms(loaded - start), applied->transactions, applied->messages,
              applied->bytes, ms(change_end - change_start), swapped->bytes);
}

}  // namespace
}  // namespace kubenat::e2e
