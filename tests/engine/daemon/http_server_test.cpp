// The health and metrics HTTP server, spoken to over real loopback sockets
// with a plain POSIX client.

#include "engine/daemon/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace kubenat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A connected TCP socket to 127.0.0.1:port, closed on destruction.
class Client {
 public:
  explicit Client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  void send(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads until the server closes the connection (or 5 s pass).
  std::string read_all() {
    std::string out;
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return out;
      out.append(buffer, static_cast<std::size_t>(n));
    }
  }

  // Reads one response whose body length is given by Content-Length.
  std::string read_response() {
    std::string out;
    char buffer[4096];
    for (;;) {
      const std::size_t end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::size_t length_at = out.find("Content-Length: ");
        const std::size_t length = length_at == std::string::npos ? 0 : std::stoul(out.substr(length_at + 16));
        if (out.size() >= end + 4 + length) return out;
      }
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return out;
      out.append(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

std::string get(std::uint16_t port, std::string_view path, std::string_view method = "GET") {
  Client client(port);
  if (!client.connected()) return "connect failed";
  client.send(std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  return client.read_all();
}

std::string body_of(const std::string& response) {
  const std::size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.handle("/healthz", [] { return HttpReply{200, "application/json", R"({"healthy":true})"}; });
    server_.handle("/metrics", [] { return HttpReply{200, "text/plain; version=0.0.4", "up 1\n"}; });
    server_.handle("/boom", []() -> HttpReply { throw std::runtime_error("kaput"); });
    auto started = server_.start();
    ASSERT_TRUE(started.has_value()) << started.error();
  }

  HttpServer server_{"127.0.0.1:0"};
};

TEST_F(HttpServerTest, PicksAFreePortForPortZero) { EXPECT_NE(server_.port(), 0); }

TEST_F(HttpServerTest, ServesARegisteredPath) {
  const std::string response = get(server_.port(), "/healthz");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_EQ(body_of(response), R"({"healthy":true})");
}

TEST_F(HttpServerTest, AnswersUnknownPathsWith404) {
  const std::string response = get(server_.port(), "/nope");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_EQ(body_of(response), "404 page not found\n");
}

TEST_F(HttpServerTest, IgnoresTheQueryString) {
  EXPECT_EQ(body_of(get(server_.port(), "/metrics?name[]=up")), "up 1\n");
}

TEST_F(HttpServerTest, AnswersOtherMethodsWith405) {
  const std::string response = get(server_.port(), "/healthz", "POST");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(response, HasSubstr("Allow: GET, HEAD\r\n"));
}

TEST_F(HttpServerTest, AnswersHeadWithHeadersOnly) {
  const std::string response = get(server_.port(), "/metrics", "HEAD");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Length: 5\r\n"));
  EXPECT_EQ(body_of(response), "");
}

TEST_F(HttpServerTest, TurnsAHandlerExceptionInto500) {
  const std::string response = get(server_.port(), "/boom");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_THAT(body_of(response), HasSubstr("kaput"));
}

TEST_F(HttpServerTest, ServesSeveralRequestsOnAKeptAliveConnection) {
  Client client(server_.port());
  ASSERT_TRUE(client.connected());
  client.send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
  EXPECT_EQ(body_of(client.read_response()), R"({"healthy":true})");
  client.send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
  EXPECT_EQ(body_of(client.read_response()), "up 1\n");
}

TEST_F(HttpServerTest, ClosesTheConnectionOnABadRequest) {
  Client client(server_.port());
  ASSERT_TRUE(client.connected());
  client.send("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_THAT(client.read_all(), Not(HasSubstr("200 OK")));
}

TEST_F(HttpServerTest, StopsPromptlyWithAnIdleConnectionOpen) {
  Client idle(server_.port());
  ASSERT_TRUE(idle.connected());
  const auto start = std::chrono::steady_clock::now();
  server_.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(idle.read_all(), "");  // closed by the server, not timed out
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(HttpServerTest, StopCanBeCalledTwice) {
  server_.stop();
  server_.stop();
  EXPECT_EQ(get(server_.port(), "/healthz"), "connect failed");
}

TEST_F(HttpServerTest, FailsToBindATakenPortNamingTheAddress) {
  const std::string address = "127.0.0.1:" + std::to_string(server_.port());
  HttpServer second(address);
  auto started = second.start();
  ASSERT_FALSE(started.has_value());
  EXPECT_THAT(started.error(), StartsWith("listen on " + address + ": "));
}

TEST(HttpServer, RejectsAMalformedBindAddressAtStart) {
  HttpServer server("nonsense");
  auto started = server.start();
  ASSERT_FALSE(started.has_value());
  EXPECT_THAT(started.error(), HasSubstr("\"nonsense\""));
}

TEST(HttpServer, StopBeforeStartDoesNothing) {
  HttpServer server("127.0.0.1:0");
  server.stop();
  EXPECT_EQ(server.port(), 0);
}

TEST(HttpServer, ServesOnIpv6Loopback) {
  HttpServer server("[::1]:0");
  server.handle("/livez", [] { return HttpReply{200, "text/plain", "ok"}; });
  auto started = server.start();
  if (!started) GTEST_SKIP() << "no IPv6 loopback here: " << started.error();
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(server.port());
  address.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request = "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[1024];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_EQ(body_of(response), "ok");
}

// --- parse_bind_address ------------------------------------------------

TEST(ParseBindAddress, ReadsIpv4AndPort) {
  auto bind = parse_bind_address("0.0.0.0:10256");
  ASSERT_TRUE(bind.has_value()) << bind.error();
  EXPECT_EQ(bind->host, "0.0.0.0");
  EXPECT_EQ(bind->port, 10256);
}

TEST(ParseBindAddress, ReadsBracketedIpv6) {
  auto bind = parse_bind_address("[::]:10256");
  ASSERT_TRUE(bind.has_value()) << bind.error();
  EXPECT_EQ(bind->host, "::");
  EXPECT_EQ(bind->port, 10256);
}

TEST(ParseBindAddress, ReadsAnEmptyHostAsAllIpv4Addresses) {
  auto bind = parse_bind_address(":10249");
  ASSERT_TRUE(bind.has_value()) << bind.error();
  EXPECT_EQ(bind->host, "0.0.0.0");
}

TEST(ParseBindAddress, ReadsLocalhostAsIpv4Loopback) {
  auto bind = parse_bind_address("localhost:10249");
  ASSERT_TRUE(bind.has_value()) << bind.error();
  EXPECT_EQ(bind->host, "127.0.0.1");
}

TEST(ParseBindAddress, RejectsIpv6WithoutBrackets) {
  auto bind = parse_bind_address("::1:10256");
  ASSERT_FALSE(bind.has_value());
  EXPECT_THAT(bind.error(), HasSubstr("brackets"));
}

TEST(ParseBindAddress, RejectsABadPort) {
  for (const char* text : {"127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1"}) {
    EXPECT_FALSE(parse_bind_address(text).has_value()) << text;
  }
}

TEST(ParseBindAddress, RejectsHostNames) {
  auto bind = parse_bind_address("example.com:80");
  ASSERT_FALSE(bind.has_value());
  EXPECT_THAT(bind.error(), HasSubstr("not an IP address"));
}

}  // namespace
}  // namespace kubenat

namespace kubenat {
namespace {

// --- HttpListeners: ports opened and closed while one thread serves them.

HttpHandler answering(std::string text) {
  return [text] { return HttpReply{503, "application/json", text, {{"X-Load-Balancing-Endpoint-Weight", "0"}}}; };
}

TEST(HttpListeners, AnswersEveryPathAndMethodWithItsHandlerAndHeaders) {
  HttpListeners listeners;
  auto listening = listeners.listen("127.0.0.1:0", answering("{}"));
  ASSERT_TRUE(listening) << listening.error();
  for (const char* path : {"/", "/healthz", "/anything?x=1"}) {
    for (const char* method : {"GET", "POST"}) {
      const std::string response = get(listening->port, path, method);
      EXPECT_THAT(response, StartsWith("HTTP/1.1 503")) << path << " " << method;
      EXPECT_THAT(response, HasSubstr("X-Load-Balancing-Endpoint-Weight: 0\r\n"));
      EXPECT_THAT(response, HasSubstr("X-Content-Type-Options: nosniff\r\n"));
      EXPECT_EQ(body_of(response), "{}");
    }
  }
}

TEST(HttpListeners, ServesSeveralPortsAndClosesOneAlone) {
  HttpListeners listeners;
  auto a = listeners.listen("127.0.0.1:0", answering("a"));
  auto b = listeners.listen("127.0.0.1:0", answering("b"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(listeners.size(), 2u);
  EXPECT_EQ(body_of(get(a->port, "/")), "a");
  EXPECT_EQ(body_of(get(b->port, "/")), "b");
  listeners.close(a->id);
  EXPECT_EQ(listeners.size(), 1u);
  EXPECT_EQ(get(a->port, "/"), "connect failed");
  EXPECT_EQ(body_of(get(b->port, "/")), "b");
  listeners.close(a->id);  // again: nothing
  EXPECT_EQ(listeners.size(), 1u);
}

TEST(HttpListeners, ATakenPortIsAnErrorNamingTheAddressAndHarmsNoOtherListener) {
  HttpListeners listeners;
  auto first = listeners.listen("127.0.0.1:0", answering("first"));
  ASSERT_TRUE(first);
  const std::string address = "127.0.0.1:" + std::to_string(first->port);
  auto second = listeners.listen(address, answering("second"));
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error(), StartsWith("listen on " + address + ": "));
  EXPECT_EQ(body_of(get(first->port, "/")), "first");
}

TEST(HttpListeners, AHandlerExceptionIsA500) {
  HttpListeners listeners;
  auto listening = listeners.listen("127.0.0.1:0", []() -> HttpReply { throw std::runtime_error("kaput"); });
  ASSERT_TRUE(listening);
  EXPECT_THAT(get(listening->port, "/"), StartsWith("HTTP/1.1 500"));
}

}  // namespace
}  // namespace kubenat
