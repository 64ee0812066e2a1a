// The health-check node ports of LoadBalancer Services with
// externalTrafficPolicy Local, served on loopback.

#include "engine/daemon/service_health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/cluster_builder.h"
#include "tests/support/fake_clock.h"

namespace kubenat {
namespace {

using namespace kubenat::testing;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

// A port nobody listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// One GET; "" when nothing answers.
std::string get(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET /anything HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n";
    (void)::send(fd, request.data(), request.size(), 0);
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

class ServiceHealthServerTest : public ::testing::Test {
 protected:
  ServiceHealthServerTest() : health_(clock_, 60s), server_(listeners_, health_, config()) {}

  static ProxyConfig config() {
    ProxyConfig c;
    c.node_name = "node-a";
    c.nodeport_addresses = {cidr("127.0.0.0/8")};
    c.local_addresses = {ip("127.0.0.1"), ip("10.240.0.11")};
    return c;
  }

  // A LoadBalancer Service with externalTrafficPolicy Local and one endpoint
  // on `node`.
  void put(const std::string& name, int port, const std::string& node) {
    state_.services[{"shop", name}] = ServiceBuilder("shop", name)
                                           .type(ServiceType::LoadBalancer)
                                           .cluster_ip("10.96.0." + std::to_string(10 + name.size()))
                                           .port("http", 80, Protocol::Tcp, 30080)
                                           .external_local()
                                           .health_check_node_port(port);
    state_.slices.erase({"shop", name});
    state_.put_slice(SliceBuilder("shop", name).port("http", 8080).endpoint("10.200.1.10", node));
  }
  SyncResult sync(std::set<ObjectName> changed) {
    server_.compile(state_, &changed);
    return server_.apply();
  }

  FakeClock clock_;
  ProxyHealth health_;
  HttpListeners listeners_;
  ServiceHealthServer server_;
  ClusterState state_;
};

TEST_F(ServiceHealthServerTest, AnswersEveryRequestWithTheLocalEndpointsAndKubeProxysBody) {
  const int port = free_port();
  put("web", port, "node-a");
  const SyncResult result = sync({{"shop", "web"}});
  EXPECT_TRUE(result.ok);
  EXPECT_THAT(result.warnings, IsEmpty());
  EXPECT_EQ(server_.open_ports(), 1u);
  const std::string answer = get(port);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(answer, HasSubstr("X-Load-Balancing-Endpoint-Weight: 1\r\n"));
  EXPECT_THAT(answer, HasSubstr("\r\n\r\n{\n\t\"service\": {\n\t\t\"namespace\": \"shop\",\n\t\t\"name\": \"web\"\n\t},\n"
                                "\t\"localEndpoints\": 1,\n\t\"serviceProxyHealthy\": true\n}"));
}

TEST_F(ServiceHealthServerTest, AnswersUnavailableOnceTheEndpointIsElsewhereAndAgainWhenItReturns) {
  const int port = free_port();
  put("web", port, "node-a");
  sync({{"shop", "web"}});
  put("web", port, "node-b");
  sync({{"shop", "web"}});
  EXPECT_THAT(get(port), StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(get(port), HasSubstr("\"localEndpoints\": 0"));
  put("web", port, "node-a");
  sync({{"shop", "web"}});
  EXPECT_THAT(get(port), StartsWith("HTTP/1.1 200"));
}

TEST_F(ServiceHealthServerTest, AnswersUnavailableWhileTheProxyIsUnhealthy) {
  const int port = free_port();
  put("web", port, "node-a");
  sync({{"shop", "web"}});
  health_.queued_update(IpFamily::V4);
  clock_.advance(61s);
  EXPECT_THAT(get(port), StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(get(port), HasSubstr("\"serviceProxyHealthy\": false"));
}

TEST_F(ServiceHealthServerTest, ClosesThePortOfADeletedServiceAndMovesAChangedOne) {
  const int first = free_port();
  put("web", first, "node-a");
  sync({{"shop", "web"}});
  const int second = free_port();
  put("web", second, "node-a");
  sync({{"shop", "web"}});
  EXPECT_EQ(get(first), "");
  EXPECT_THAT(get(second), StartsWith("HTTP/1.1 200"));
  state_.services.erase({"shop", "web"});
  sync({{"shop", "web"}});
  EXPECT_EQ(get(second), "");
  EXPECT_EQ(server_.open_ports(), 0u);
}

TEST_F(ServiceHealthServerTest, ATakenPortIsAWarningOnceRetriedAtEverySyncAndHarmsNoOtherService) {
  const int taken = free_port();
  HttpListeners other_program;
  auto squatter = other_program.listen("127.0.0.1:" + std::to_string(taken), [] { return HttpReply{}; });
  ASSERT_TRUE(squatter);
  const int port = free_port();
  put("web", port, "node-a");
  put("api", taken, "node-a");
  const SyncResult first = sync({{"shop", "web"}, {"shop", "api"}});
  EXPECT_TRUE(first.ok) << "a taken port fails no sync";
  ASSERT_THAT(first.warnings, SizeIs(1));
  EXPECT_THAT(first.warnings[0], HasSubstr("FailedToStartServiceHealthcheck Service shop/api"));
  EXPECT_THAT(first.warnings[0], HasSubstr("on port " + std::to_string(taken) + ": listen on 127.0.0.1:"));
  EXPECT_THAT(get(port), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(sync({}).warnings, IsEmpty()) << "said once";
  EXPECT_EQ(server_.failed_binds(), 2u) << "tried again";

  other_program.close(squatter->id);
  sync({});
  EXPECT_THAT(get(taken), HasSubstr("\"name\": \"api\""));
  EXPECT_EQ(server_.open_ports(), 2u);
}

TEST_F(ServiceHealthServerTest, CountsLocalPolicyPortsWithoutAnEndpointHere) {
  put("web", free_port(), "node-b");
  state_.services[{"shop", "api"}] = ServiceBuilder("shop", "api").cluster_ip("10.96.0.99").port("http", 80).internal_local();
  sync({{"shop", "web"}, {"shop", "api"}});
  EXPECT_EQ(server_.no_local_external(), 1u);
  EXPECT_EQ(server_.no_local_internal(), 1u);
  state_.services.erase({"shop", "api"});
  sync({{"shop", "api"}});
  EXPECT_EQ(server_.no_local_internal(), 0u);
  EXPECT_EQ(server_.no_local_external(), 1u);
}

}  // namespace
}  // namespace kubenat
