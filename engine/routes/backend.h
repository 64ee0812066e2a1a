#pragma once

// The kernel's routing table, as far as static pod-CIDR routes need it:
// RouteBackend is the seam the route syncer (engine/routes/proxier.h) is
// tested through; NetlinkRouteBackend is the real one, rtnetlink over the
// netlink socket layer (engine/netlink/socket.h; no `ip` subprocess). Only the main table is read or written, IPv4
// and IPv6 alike.
//
// Our routes are told from everyone else's by their protocol number
// (rtm_protocol, the "proto" of `ip route`): kubenat only ever changes or
// deletes routes carrying its own.

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/netlink/socket.h"
#include "rules/ip.h"

namespace kubenat {

// The default route protocol number of kubenat's routes (--route-protocol).
// 0-4 are the kernel's own (unspec, redirect, kernel, boot, static); 214 is
// in neither iproute2's rt_protos list (gated 8, ra 9, mrt 10, zebra 11,
// bird 12, dnrouted 13, xorp 14, ntk 15, dhcp 16, keepalived 18, babel 42,
// openr 99, FRR's bgp/isis/ospf/rip/eigrp 186-192) nor used by Calico (80),
// so no common routing daemon claims or flushes these routes, and none of
// theirs is mistaken for ours.
inline constexpr int kDefaultRouteProtocol = 214;
// The protocols the kernel reserves (RTPROT_UNSPEC..RTPROT_STATIC): never ours.
inline constexpr int kMaxReservedRouteProtocol = 4;

// A route of the main table, as a dump reports it and as kubenat writes it.
struct KernelRoute {
  Cidr destination;
  std::optional<IpAddress> gateway;  // nullopt: no single gateway (a device route, multipath)
  int protocol = 0;                  // rtm_protocol
  std::uint32_t priority = 0;        // RTA_PRIORITY, the metric (IPv6 reports 1024 for a route added with 0)
  int type = 1;                      // rtm_type; 1 is RTN_UNICAST
  std::uint32_t table = 254;         // RT_TABLE_MAIN
  int interface = 0;                 // RTA_OIF; 0: none
  std::uint32_t flags = 0;           // rtm_flags (RTNH_F_LINKDOWN, ...)
  // Reached on `interface` itself: no gateway of any kind (RTA_GATEWAY,
  // RTA_VIA, RTA_MULTIPATH, RTA_NH_ID). Set by parse_route_message().
  bool direct = false;

  // "10.200.2.0/24 via 10.240.0.12 proto 214", as `ip route` would print it
  // (plus "metric N" when not 0, "dev #N" for a device route).
  std::string to_string() const;
  bool operator==(const KernelRoute&) const = default;
};

// A failed kernel operation: what was attempted (naming the route) and why.
struct RouteError {
  int code = 0;         // errno; 0 when the failure is not the kernel's
  std::string message;  // "adding route 10.200.2.0/24 via 10.240.0.12 proto 214: Network is unreachable (ENETUNREACH)"
};

class RouteBackend {
 public:
  virtual ~RouteBackend() = default;

  // Every route of protocol `protocol` in the main table, IPv4 then IPv6.
  // Reads only.
  [[nodiscard]] virtual std::expected<std::vector<KernelRoute>, RouteError> list_routes(int protocol) = 0;
  // Every route in the main table, of any protocol, whose destination is
  // exactly one of `destinations` (same address and prefix length). Reads
  // only; one table dump per family however many destinations are asked.
  [[nodiscard]] virtual std::expected<std::vector<KernelRoute>, RouteError> routes_to(
      const std::vector<Cidr>& destinations) = 0;
  // The subnets this host reaches without a gateway: the destinations of the
  // main table's unicast routes that have an outgoing interface and no
  // gateway ("10.240.0.0/24 dev eth0 proto kernel scope link"), except
  // default routes and routes whose link is down. A gateway on one of them
  // is accepted by the kernel. Reads only.
  [[nodiscard]] virtual std::expected<std::vector<Cidr>, RouteError> connected_subnets() = 0;
  // Adds `route` (unicast, `route.table`, its gateway, protocol and metric).
  // Never overwrites: fails with EEXIST when the table already has a route
  // with the same destination and metric, whoever owns it.
  [[nodiscard]] virtual std::expected<void, RouteError> add(const KernelRoute& route) = 0;
  // Puts `route` in place of the route with the same destination and metric
  // (or adds it when there is none). Callers pass the metric of a route of
  // theirs, so that only that route is replaced.
  [[nodiscard]] virtual std::expected<void, RouteError> replace(const KernelRoute& route) = 0;
  // Deletes the route with `route`'s destination, metric, protocol and
  // gateway; a route of another protocol is never deleted. ESRCH when there
  // is none.
  [[nodiscard]] virtual std::expected<void, RouteError> remove(const KernelRoute& route) = 0;
};

class NetlinkRouteBackend final : public RouteBackend {
 public:
  // Opens a NETLINK_ROUTE socket in the caller's network namespace (the
  // socket stays in it whatever the thread does later).
  [[nodiscard]] static std::expected<std::unique_ptr<NetlinkRouteBackend>, RouteError> open();

  std::expected<std::vector<KernelRoute>, RouteError> list_routes(int protocol) override;
  std::expected<std::vector<KernelRoute>, RouteError> routes_to(const std::vector<Cidr>& destinations) override;
  std::expected<std::vector<Cidr>, RouteError> connected_subnets() override;
  std::expected<void, RouteError> add(const KernelRoute& route) override;
  std::expected<void, RouteError> replace(const KernelRoute& route) override;
  std::expected<void, RouteError> remove(const KernelRoute& route) override;

 private:
  explicit NetlinkRouteBackend(NetlinkSocket socket) : socket_(std::move(socket)) {}
  // The main table's routes of both families; with `protocol`, only those.
  std::expected<std::vector<KernelRoute>, RouteError> dump(std::optional<int> protocol);
  std::expected<void, RouteError> change(int message_type, std::uint16_t flags, const KernelRoute& route,
                                         const char* verb);

  NetlinkSocket socket_;
};

// The messages, built and parsed apart from any socket (so that tests can
// check them byte for byte without a kernel).

// RTM_NEWROUTE or RTM_DELROUTE for `route`, with NLM_F_REQUEST | NLM_F_ACK |
// `flags`.
[[nodiscard]] std::vector<std::uint8_t> build_route_request(int message_type, std::uint16_t flags,
                                                            const KernelRoute& route, std::uint32_t sequence);
// An RTM_GETROUTE dump of `family`'s main table (AF_INET or AF_INET6),
// asking the kernel to leave out other protocols than `protocol` when given
// (kernels with strict checking do; callers filter again).
[[nodiscard]] std::vector<std::uint8_t> build_route_dump_request(int family, std::optional<int> protocol,
                                                                 std::uint32_t sequence);
// An RTM_NEWROUTE message (as dumps carry them) as a route; nullopt for
// another message type, a family other than IPv4 and IPv6, or a malformed one.
[[nodiscard]] std::optional<KernelRoute> parse_route_message(std::span<const std::uint8_t> message);

}  // namespace kubenat
