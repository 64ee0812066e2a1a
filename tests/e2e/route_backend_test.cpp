// The rtnetlink route backend against a real kernel, in a network namespace
// of its own with one link (d0 of a veth pair: 10.240.0.1/24,
// fd00:240::1/64): IPv4 and IPv6 routes added, listed, replaced and
// deleted; other protocols' routes never overwritten or deleted; errors that
// name the route and errno.

#include "engine/routes/backend.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "engine/network_namespace.h"
#include "engine/process.h"
#include "tests/e2e/netns_world.h"

namespace kubenat::e2e {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
bool contains(const std::vector<Cidr>& list, const std::string& cidr) {
  return std::find(list.begin(), list.end(), *Cidr::parse(cidr)) != list.end();
}

constexpr int kProto = 214;
std::atomic<int> g_next{0};

// The backend's socket is opened by a thread that entered the namespace; a
// netlink socket stays in the namespace it was made in, so the test thread
// then uses it from its own.
std::expected<std::unique_ptr<NetlinkRouteBackend>, std::string> open_in(const std::string& ns) {
  std::expected<std::unique_ptr<NetlinkRouteBackend>, std::string> out = std::unexpected(std::string("not run"));
  std::thread([&] {
    const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      out = std::unexpected("entering " + ns + ": " + describe_errno(errno));
      if (fd >= 0) ::close(fd);
      return;
    }
    ::close(fd);
    auto backend = NetlinkRouteBackend::open();
    if (backend) {
      out = std::move(*backend);
    } else {
      out = std::unexpected(backend.error().message);
    }
  }).join();
  return out;
}

KernelRoute route(const std::string& destination, const std::string& gateway, int protocol = kProto,
                  std::uint32_t priority = 0) {
  KernelRoute out;
  out.destination = *Cidr::parse(destination);
  out.gateway = *IpAddress::parse(gateway);
  out.protocol = protocol;
  out.priority = priority;
  return out;
}

std::vector<std::string> summary(const std::vector<KernelRoute>& routes) {
  std::vector<std::string> out;
  for (const KernelRoute& r : routes) out.push_back(r.to_string());
  return out;
}

class RouteBackendKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto ns = ScopedNetworkNamespace::create("kn" + std::to_string(::getpid()) + "rb" + std::to_string(g_next++) + "-ns");
    ASSERT_TRUE(ns) << ns.error();
    ns_.emplace(std::move(*ns));
    auto configured = run_process({"ip", "-n", ns_->name(), "-batch", "-"},
                                  {.input = "link set lo up\n"
                                            "link add d0 type veth peer name d1\n"
                                            "link set d1 up\n"
                                            "link set d0 up\n"
                                            "addr add 10.240.0.1/24 dev d0\n"
                                            "addr add fd00:240::1/64 dev d0 nodad\n"});
    ASSERT_TRUE(configured) << configured.error();
    ASSERT_TRUE(configured->ok()) << configured->err;
    auto backend = open_in(ns_->name());
    ASSERT_TRUE(backend) << backend.error();
    backend_ = std::move(*backend);
  }

  std::string ip_route(std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "-n", ns_->name()});
    auto ran = run_process(args);
    EXPECT_TRUE(ran && ran->ok()) << describe_command(args) << ": " << (ran ? ran->err : ran.error());
    return ran ? ran->out : "";
  }

  std::optional<ScopedNetworkNamespace> ns_;
  std::unique_ptr<NetlinkRouteBackend> backend_;
};

TEST_F(RouteBackendKernelTest, AddsListsReplacesAndDeletesIpv4AndIpv6Routes) {
  ASSERT_TRUE(backend_->add(route("10.200.2.0/24", "10.240.0.12")));
  ASSERT_TRUE(backend_->add(route("fd00:200:2::/64", "fd00:240::12")));
  auto listed = backend_->list_routes(kProto);
  ASSERT_TRUE(listed) << listed.error().message;
  // The kernel stores an IPv6 route added with metric 0 at 1024.
  EXPECT_EQ(summary(*listed), (std::vector<std::string>{"10.200.2.0/24 via 10.240.0.12 proto 214",
                                                        "fd00:200:2::/64 via fd00:240::12 proto 214 metric 1024"}));
  EXPECT_TRUE(contains(ip_route({"route", "show", "proto", "214"}), "10.200.2.0/24 via 10.240.0.12 dev d0"));

  ASSERT_TRUE(backend_->replace(route("10.200.2.0/24", "10.240.0.22")));
  ASSERT_TRUE(backend_->replace(route("fd00:200:2::/64", "fd00:240::22", kProto, 1024)));
  listed = backend_->list_routes(kProto);
  ASSERT_TRUE(listed);
  EXPECT_EQ(summary(*listed), (std::vector<std::string>{"10.200.2.0/24 via 10.240.0.22 proto 214",
                                                        "fd00:200:2::/64 via fd00:240::22 proto 214 metric 1024"}));

  for (const KernelRoute& r : *listed) ASSERT_TRUE(backend_->remove(r)) << r.to_string();
  listed = backend_->list_routes(kProto);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty()) << summary(*listed).front();
}

TEST_F(RouteBackendKernelTest, ListsOnlyItsProtocol) {
  ip_route({"route", "add", "10.200.7.0/24", "via", "10.240.0.17", "proto", "215"});
  ASSERT_TRUE(backend_->add(route("10.200.2.0/24", "10.240.0.12")));
  auto listed = backend_->list_routes(kProto);
  ASSERT_TRUE(listed);
  EXPECT_EQ(summary(*listed), std::vector<std::string>{"10.200.2.0/24 via 10.240.0.12 proto 214"});
}

TEST_F(RouteBackendKernelTest, NeverOverwritesOrDeletesAnotherProtocolsRoute) {
  ip_route({"route", "add", "10.200.3.0/24", "via", "10.240.0.13", "proto", "static"});
  auto added = backend_->add(route("10.200.3.0/24", "10.240.0.33"));
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, EEXIST);
  auto removed = backend_->remove(route("10.200.3.0/24", "10.240.0.13"));
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, ESRCH);
  EXPECT_TRUE(contains(ip_route({"route", "show", "10.200.3.0/24"}), "via 10.240.0.13 dev d0 proto static"));

  auto found = backend_->routes_to({*Cidr::parse("10.200.3.0/24"), *Cidr::parse("10.200.4.0/24")});
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(summary(*found), std::vector<std::string>{"10.200.3.0/24 via 10.240.0.13 proto 4"});
}

TEST_F(RouteBackendKernelTest, ConnectedSubnetsAreTheLinksRoutesWithoutAGateway) {
  ip_route({"route", "add", "10.200.3.0/24", "via", "10.240.0.13"});
  auto subnets = backend_->connected_subnets();
  ASSERT_TRUE(subnets) << subnets.error().message;
  EXPECT_TRUE(contains(*subnets, "10.240.0.0/24"));
  EXPECT_TRUE(contains(*subnets, "fd00:240::/64"));
  EXPECT_FALSE(contains(*subnets, "10.200.3.0/24"));
}

TEST_F(RouteBackendKernelTest, ErrorsNameTheRouteAndErrno) {
  auto added = backend_->add(route("10.200.4.0/24", "10.9.9.9"));
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ENETUNREACH);
  EXPECT_TRUE(contains(added.error().message,
                       "adding route 10.200.4.0/24 via 10.9.9.9 proto 214: Network is unreachable (ENETUNREACH)"))
      << added.error().message;
}

}  // namespace
}  // namespace kubenat::e2e
