#include "engine/routes/backend.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace kubenat {
namespace {

// A dump the kernel marks as interrupted (the table changed while it was
// read) is read again; a table that keeps changing fails the sync, and the
// next sync tries again.
constexpr int kDumpAttempts = 4;

RouteError error(int code, std::string message) { return RouteError{code, std::move(message)}; }

int family_of(const Cidr& cidr) { return cidr.family() == IpFamily::V4 ? AF_INET : AF_INET6; }

// What the parser collects from a route message's attributes.
struct RouteAttributes {
  const nlattr* table = nullptr;
  const nlattr* destination = nullptr;
  const nlattr* gateway = nullptr;
  const nlattr* priority = nullptr;
  const nlattr* interface = nullptr;
  bool elsewhere = false;  // RTA_VIA, RTA_MULTIPATH or RTA_NH_ID: reached through a gateway we do not read
};

int collect_route_attribute(const nlattr* attribute, void* data) {
  auto* out = static_cast<RouteAttributes*>(data);
  switch (mnl_attr_get_type(attribute)) {
    case RTA_TABLE: out->table = attribute; break;
    case RTA_DST: out->destination = attribute; break;
    case RTA_GATEWAY: out->gateway = attribute; break;
    case RTA_PRIORITY: out->priority = attribute; break;
    case RTA_OIF: out->interface = attribute; break;
    case RTA_VIA:
    case RTA_MULTIPATH:
    case RTA_NH_ID: out->elsewhere = true; break;
    default: break;
  }
  return MNL_CB_OK;
}

std::optional<IpAddress> address_attribute(const nlattr* attribute, IpFamily family) {
  const std::size_t length = family == IpFamily::V4 ? 4 : 16;
  if (attribute == nullptr || mnl_attr_get_payload_len(attribute) != length) return std::nullopt;
  auto address = IpAddress::from_bytes(
      std::span(static_cast<const std::uint8_t*>(mnl_attr_get_payload(attribute)), length));
  // An IPv4-mapped IPv6 address reads as IPv4 (rules/ip.h); it is not an
  // IPv6 route kubenat could have written.
  if (!address || address->family() != family) return std::nullopt;
  return address;
}

bool u32_attribute(const nlattr* attribute, std::uint32_t& out) {
  if (attribute == nullptr || mnl_attr_get_payload_len(attribute) != sizeof(std::uint32_t)) return false;
  out = mnl_attr_get_u32(attribute);
  return true;
}

}  // namespace

std::string KernelRoute::to_string() const {
  std::string out = destination.to_string();
  if (gateway) {
    out += " via " + gateway->to_string();
  } else if (interface != 0) {
    out += " dev #" + std::to_string(interface);
  }
  out += " proto " + std::to_string(protocol);
  if (priority != 0) out += " metric " + std::to_string(priority);
  if (table != RT_TABLE_MAIN) out += " table " + std::to_string(table);
  return out;
}

std::vector<std::uint8_t> build_route_request(int message_type, std::uint16_t flags, const KernelRoute& route,
                                              std::uint32_t sequence) {
  std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data());
  header->nlmsg_type = static_cast<std::uint16_t>(message_type);
  header->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
  header->nlmsg_seq = sequence;
  auto* message = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(rtmsg)));
  message->rtm_family = static_cast<std::uint8_t>(family_of(route.destination));
  message->rtm_dst_len = static_cast<std::uint8_t>(route.destination.prefix_length());
  message->rtm_table = static_cast<std::uint8_t>(route.table < 256 ? route.table : RT_TABLE_UNSPEC);
  message->rtm_protocol = static_cast<std::uint8_t>(route.protocol);
  if (message_type == RTM_DELROUTE) {
    // Any scope and type: the destination, metric, protocol and gateway
    // pick the route (as `ip route del` asks).
    message->rtm_scope = RT_SCOPE_NOWHERE;
    message->rtm_type = RTN_UNSPEC;
  } else {
    message->rtm_scope = route.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    message->rtm_type = static_cast<std::uint8_t>(route.type);
  }
  mnl_attr_put_u32(header, RTA_TABLE, route.table);
  const std::size_t length = route.destination.network().byte_length();
  if (route.destination.prefix_length() > 0) {
    mnl_attr_put(header, RTA_DST, length, route.destination.network().bytes().data());
  }
  if (route.gateway) mnl_attr_put(header, RTA_GATEWAY, length, route.gateway->bytes().data());
  if (route.priority != 0) mnl_attr_put_u32(header, RTA_PRIORITY, route.priority);
  if (route.interface != 0) mnl_attr_put_u32(header, RTA_OIF, static_cast<std::uint32_t>(route.interface));
  buffer.resize(header->nlmsg_len);
  return buffer;
}

std::vector<std::uint8_t> build_route_dump_request(int family, std::optional<int> protocol, std::uint32_t sequence) {
  std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data());
  header->nlmsg_type = RTM_GETROUTE;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  header->nlmsg_seq = sequence;
  auto* message = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(rtmsg)));
  message->rtm_family = static_cast<std::uint8_t>(family);
  // With NETLINK_GET_STRICT_CHK these filter in the kernel: one table, one
  // protocol. Older kernels ignore them and the caller filters.
  message->rtm_table = RT_TABLE_MAIN;
  message->rtm_protocol = static_cast<std::uint8_t>(protocol.value_or(0));
  buffer.resize(header->nlmsg_len);
  return buffer;
}

std::optional<KernelRoute> parse_route_message(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < mnl_nlmsg_size(sizeof(rtmsg))) return std::nullopt;
  const auto* header = reinterpret_cast<const nlmsghdr*>(bytes.data());
  if (header->nlmsg_type != RTM_NEWROUTE || header->nlmsg_len > bytes.size() ||
      header->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) {
    return std::nullopt;
  }
  const auto* message = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(header));
  if (message->rtm_family != AF_INET && message->rtm_family != AF_INET6) return std::nullopt;
  const IpFamily family = message->rtm_family == AF_INET ? IpFamily::V4 : IpFamily::V6;
  RouteAttributes attributes;
  if (mnl_attr_parse(header, sizeof(rtmsg), collect_route_attribute, &attributes) < 0) return std::nullopt;

  KernelRoute route;
  std::optional<IpAddress> destination = address_attribute(attributes.destination, family);
  if (attributes.destination == nullptr) {
    destination = family == IpFamily::V4 ? IpAddress::v4(0, 0, 0, 0) : *IpAddress::parse("::");
  }
  const int max_length = family == IpFamily::V4 ? 32 : 128;
  if (!destination || message->rtm_dst_len > max_length) return std::nullopt;
  route.destination = Cidr(*destination, message->rtm_dst_len);
  if (attributes.gateway != nullptr) {
    route.gateway = address_attribute(attributes.gateway, family);
    if (!route.gateway) return std::nullopt;
  }
  route.protocol = message->rtm_protocol;
  route.type = message->rtm_type;
  route.flags = message->rtm_flags;
  route.table = message->rtm_table;
  // Tables beyond 255 are only in the attribute.
  (void)u32_attribute(attributes.table, route.table);
  (void)u32_attribute(attributes.priority, route.priority);
  std::uint32_t interface = 0;
  if (u32_attribute(attributes.interface, interface)) route.interface = static_cast<int>(interface);
  route.direct = !route.gateway && !attributes.elsewhere && route.interface != 0;
  return route;
}

// --- NetlinkRouteBackend --------------------------------------------------

std::expected<std::unique_ptr<NetlinkRouteBackend>, RouteError> NetlinkRouteBackend::open() {
  NetlinkSocket::Options options;
  options.strict_check = true;
  auto socket = NetlinkSocket::open(NETLINK_ROUTE, options);
  if (!socket) return std::unexpected(error(socket.error().code, socket.error().message));
  return std::unique_ptr<NetlinkRouteBackend>(new NetlinkRouteBackend(std::move(*socket)));
}

std::expected<std::vector<KernelRoute>, RouteError> NetlinkRouteBackend::dump(std::optional<int> protocol) {
  std::vector<KernelRoute> all;
  for (const IpFamily family : {IpFamily::V4, IpFamily::V6}) {
    const int af = family == IpFamily::V4 ? AF_INET : AF_INET6;
    for (int attempt = 1;; ++attempt) {
      std::vector<KernelRoute> routes;
      const std::uint32_t sequence = socket_.next_sequence();
      const std::vector<std::uint8_t> request = build_route_dump_request(af, protocol, sequence);
      auto done = socket_.exchange(std::as_bytes(std::span(request)), sequence, [&](const nlmsghdr& message) {
        std::optional<KernelRoute> route =
            parse_route_message(std::span(reinterpret_cast<const std::uint8_t*>(&message), message.nlmsg_len));
        // Filtered here too: without strict checking the kernel sends every
        // table and protocol, and without IPv6 it may answer an IPv6 dump
        // with every family's routes.
        if (!route || route->table != RT_TABLE_MAIN || route->destination.family() != family) return;
        if (protocol && route->protocol != *protocol) return;
        routes.push_back(std::move(*route));
      });
      if (done) {
        all.insert(all.end(), routes.begin(), routes.end());
        break;
      }
      if (done.error().code == EINTR && attempt < kDumpAttempts) continue;
      // A kernel built without IPv6 has no IPv6 routes to list.
      if (family == IpFamily::V6 && done.error().code == EAFNOSUPPORT) break;
      return std::unexpected(error(done.error().code, "listing the " + std::string(ip_family_name(family)) +
                                                          " main routing table: " + done.error().message));
    }
  }
  return all;
}

std::expected<std::vector<KernelRoute>, RouteError> NetlinkRouteBackend::list_routes(int protocol) {
  return dump(protocol);
}

std::expected<std::vector<KernelRoute>, RouteError> NetlinkRouteBackend::routes_to(
    const std::vector<Cidr>& destinations) {
  if (destinations.empty()) return std::vector<KernelRoute>{};
  // Dumps cannot be filtered by destination; the main table is read whole.
  auto all = dump(std::nullopt);
  if (!all) return all;
  std::vector<KernelRoute> matching;
  for (KernelRoute& route : *all) {
    if (std::find(destinations.begin(), destinations.end(), route.destination) != destinations.end()) {
      matching.push_back(std::move(route));
    }
  }
  return matching;
}

std::expected<std::vector<Cidr>, RouteError> NetlinkRouteBackend::connected_subnets() {
  auto all = dump(std::nullopt);
  if (!all) return std::unexpected(all.error());
  std::vector<Cidr> subnets;
  for (const KernelRoute& route : *all) {
    if (route.type != RTN_UNICAST || !route.direct || route.destination.prefix_length() == 0) continue;
    if ((route.flags & (RTNH_F_LINKDOWN | RTNH_F_DEAD)) != 0) continue;
    if (std::find(subnets.begin(), subnets.end(), route.destination) == subnets.end()) {
      subnets.push_back(route.destination);
    }
  }
  return subnets;
}

std::expected<void, RouteError> NetlinkRouteBackend::change(int message_type, std::uint16_t flags,
                                                           const KernelRoute& route, const char* verb) {
  const std::uint32_t sequence = socket_.next_sequence();
  const std::vector<std::uint8_t> request = build_route_request(message_type, flags, route, sequence);
  auto done = socket_.exchange(std::as_bytes(std::span(request)), sequence, [](const nlmsghdr&) {});
  if (!done) {
    return std::unexpected(error(done.error().code, std::string(verb) + " route " + route.to_string() + ": " +
                                                        done.error().message));
  }
  return {};
}

std::expected<void, RouteError> NetlinkRouteBackend::add(const KernelRoute& route) {
  return change(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route, "adding");
}

std::expected<void, RouteError> NetlinkRouteBackend::replace(const KernelRoute& route) {
  return change(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, "replacing");
}

std::expected<void, RouteError> NetlinkRouteBackend::remove(const KernelRoute& route) {
  return change(RTM_DELROUTE, 0, route, "deleting");
}

}  // namespace kubenat
