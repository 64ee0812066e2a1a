// The rtnetlink messages of the route backend, built and parsed without a
// socket: what goes to the kernel, byte for byte where it matters, and what
// is read back from a dump.

#include "engine/routes/backend.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "tests/support/cluster_builder.h"

namespace kubenat {
namespace {

using namespace kubenat::testing;

KernelRoute route(const std::string& destination, const std::string& gateway, int protocol = 214) {
  KernelRoute out;
  out.destination = cidr(destination);
  out.gateway = ip(gateway);
  out.protocol = protocol;
  return out;
}

const nlmsghdr* header_of(const std::vector<std::uint8_t>& message) {
  return reinterpret_cast<const nlmsghdr*>(message.data());
}

const rtmsg* rtmsg_of(const std::vector<std::uint8_t>& message) {
  return reinterpret_cast<const rtmsg*>(message.data() + NLMSG_HDRLEN);
}

// Turns a request into what a dump would carry: RTM_NEWROUTE, no flags.
std::vector<std::uint8_t> as_dump_entry(std::vector<std::uint8_t> message) {
  auto* header = reinterpret_cast<nlmsghdr*>(message.data());
  header->nlmsg_type = RTM_NEWROUTE;
  header->nlmsg_flags = NLM_F_MULTI;
  return message;
}

TEST(RouteMessages, AnAddIsAnExclusiveNewRouteWithAnAck) {
  const auto message = build_route_request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route("10.200.2.0/24", "10.240.0.12"), 7);
  const nlmsghdr* header = header_of(message);
  EXPECT_EQ(header->nlmsg_len, message.size());
  EXPECT_EQ(header->nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(header->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(header->nlmsg_seq, 7u);
  const rtmsg* rt = rtmsg_of(message);
  EXPECT_EQ(rt->rtm_family, AF_INET);
  EXPECT_EQ(rt->rtm_dst_len, 24);
  EXPECT_EQ(rt->rtm_table, RT_TABLE_MAIN);
  EXPECT_EQ(rt->rtm_protocol, 214);
  EXPECT_EQ(rt->rtm_scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(rt->rtm_type, RTN_UNICAST);
}

TEST(RouteMessages, ADeleteMatchesAnyScopeAndType) {
  const auto message = build_route_request(RTM_DELROUTE, 0, route("10.200.2.0/24", "10.240.0.12"), 8);
  EXPECT_EQ(header_of(message)->nlmsg_type, RTM_DELROUTE);
  EXPECT_EQ(header_of(message)->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(rtmsg_of(message)->rtm_scope, RT_SCOPE_NOWHERE);
  EXPECT_EQ(rtmsg_of(message)->rtm_type, RTN_UNSPEC);
  EXPECT_EQ(rtmsg_of(message)->rtm_protocol, 214);
}

TEST(RouteMessages, ARouteReadsBackAsItWasWritten) {
  for (KernelRoute written : {route("10.200.2.0/24", "10.240.0.12"), route("fd00:200:2::/64", "fd00:240::12"),
                              route("10.0.0.0/8", "192.168.1.1", 4)}) {
    written.priority = 1024;
    written.interface = 3;
    auto read = parse_route_message(as_dump_entry(build_route_request(RTM_NEWROUTE, 0, written, 1)));
    ASSERT_TRUE(read) << written.to_string();
    EXPECT_FALSE(read->direct);
    EXPECT_EQ(*read, written) << written.to_string() << " read as " << read->to_string();
  }
}

TEST(RouteMessages, ADeviceRouteIsDirect) {
  KernelRoute subnet;
  subnet.destination = cidr("10.240.0.0/24");
  subnet.protocol = 2;
  subnet.interface = 2;
  auto read = parse_route_message(as_dump_entry(build_route_request(RTM_NEWROUTE, 0, subnet, 1)));
  ASSERT_TRUE(read);
  EXPECT_TRUE(read->direct);
  EXPECT_FALSE(read->gateway);
  EXPECT_EQ(read->destination, cidr("10.240.0.0/24"));
}

TEST(RouteMessages, ADefaultRouteHasNoDestinationAttribute) {
  auto read = parse_route_message(as_dump_entry(build_route_request(RTM_NEWROUTE, 0, route("0.0.0.0/0", "10.240.0.1", 3), 1)));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->destination, cidr("0.0.0.0/0"));
  EXPECT_EQ(read->gateway, ip("10.240.0.1"));
}

TEST(RouteMessages, OtherMessagesAreNotRoutes) {
  auto message = as_dump_entry(build_route_request(RTM_NEWROUTE, 0, route("10.200.2.0/24", "10.240.0.12"), 1));
  EXPECT_FALSE(parse_route_message(std::span(message).first(10)));
  reinterpret_cast<nlmsghdr*>(message.data())->nlmsg_type = RTM_NEWADDR;
  EXPECT_FALSE(parse_route_message(message));
  reinterpret_cast<nlmsghdr*>(message.data())->nlmsg_type = RTM_NEWROUTE;
  reinterpret_cast<rtmsg*>(message.data() + NLMSG_HDRLEN)->rtm_family = AF_BRIDGE;
  EXPECT_FALSE(parse_route_message(message));
}

TEST(RouteMessages, ADumpRequestAsksForTheMainTableAndOurProtocol) {
  const auto message = build_route_dump_request(AF_INET6, 214, 9);
  EXPECT_EQ(header_of(message)->nlmsg_type, RTM_GETROUTE);
  EXPECT_EQ(header_of(message)->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(rtmsg_of(message)->rtm_family, AF_INET6);
  EXPECT_EQ(rtmsg_of(message)->rtm_table, RT_TABLE_MAIN);
  EXPECT_EQ(rtmsg_of(message)->rtm_protocol, 214);
  EXPECT_EQ(rtmsg_of(build_route_dump_request(AF_INET, std::nullopt, 10))->rtm_protocol, 0);
}

TEST(RouteMessages, KernelRoutesPrintAsIpRouteWould) {
  KernelRoute r = route("10.200.2.0/24", "10.240.0.12");
  EXPECT_EQ(r.to_string(), "10.200.2.0/24 via 10.240.0.12 proto 214");
  r.priority = 100;
  EXPECT_EQ(r.to_string(), "10.200.2.0/24 via 10.240.0.12 proto 214 metric 100");
}

TEST(RouteMessages, ErrnoIsNamed) {
  EXPECT_EQ(describe_errno(ENETUNREACH), "Network is unreachable (ENETUNREACH)");
}

}  // namespace
}  // namespace kubenat
