// The HTTP(S) client against small servers in this process: request
// headers, keep-alive and its retry, incremental line delivery, streams that
// end, stop, break or go silent, abort from another thread, timeouts, limits,
// and TLS (CA and host-name verification, client certificates) with
// certificates made at test time.

#include "watch/api_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <unistd.h>

#include "tests/watch/test_server.h"

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace kubenat::testing;
using namespace std::chrono_literals;

std::string response(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

constexpr char kChunkedHeader[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

std::unique_ptr<ApiClient> client_for(const std::string& server, ApiClientOptions options = {},
                                      ApiServerConfig config = {}) {
  config.server = server;
  auto client = ApiClient::create(config, options);
  if (!client) {
    ADD_FAILURE() << client.error();
    return nullptr;
  }
  return std::move(*client);
}

// A flag one thread waits on (with a timeout) and another sets.
class Signal {
 public:
  void set() {
    {
      const std::lock_guard lock(mutex_);
      set_ = true;
    }
    cond_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return cond_.wait_for(lock, timeout, [this] { return set_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cond_;
  bool set_ = false;
};

TEST(ParseServerUrl, Forms) {
  auto https = parse_server_url("https://10.0.0.1:6443");
  ASSERT_TRUE(https);
  EXPECT_TRUE(https->tls);
  EXPECT_EQ(https->host, "10.0.0.1");
  EXPECT_EQ(https->port, "6443");
  EXPECT_EQ(https->path_prefix, "");

  auto defaults = parse_server_url("http://api.example/k8s/clusters/c-1/");
  ASSERT_TRUE(defaults);
  EXPECT_FALSE(defaults->tls);
  EXPECT_EQ(defaults->port, "80");
  EXPECT_EQ(defaults->path_prefix, "/k8s/clusters/c-1");
  EXPECT_EQ(parse_server_url("https://api.example")->port, "443");

  auto ipv6 = parse_server_url("https://[fd00::1]:6443");
  ASSERT_TRUE(ipv6);
  EXPECT_EQ(ipv6->host, "fd00::1");
  EXPECT_EQ(ipv6->port, "6443");

  EXPECT_FALSE(parse_server_url("ftp://x"));
  EXPECT_FALSE(parse_server_url("https://"));
  EXPECT_FALSE(parse_server_url("https://x:0"));
  EXPECT_FALSE(parse_server_url("https://x:99999"));
  EXPECT_FALSE(parse_server_url("https://x:12ab"));
  EXPECT_FALSE(parse_server_url("https://[fd00::1"));
  EXPECT_FALSE(parse_server_url("https://user@x"));
}

TEST(ApiClient, GetSendsTheRequestAKubernetesServerExpects) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(response(200, R"({"kind":"ServiceList"})"));
  });
  ApiServerConfig config;
  config.token = "t0ken";
  auto client = client_for(server.url() + "/prefix/", {}, config);
  auto result = client->get("/api/v1/services?limit=500");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, R"({"kind":"ServiceList"})");
  const TestRequest request = server.requests().at(0);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/prefix/api/v1/services?limit=500");
  EXPECT_EQ(request.headers.at("authorization"), "Bearer t0ken");
  EXPECT_EQ(request.headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(request.headers.at("accept"), "application/json");
  EXPECT_EQ(request.headers.at("user-agent"), "kubenat");
}

TEST(ApiClient, ErrorStatusesAreResponses) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(response(404, R"({"kind":"Status","code":404})"));
  });
  auto result = client_for(server.url())->get("/apis/discovery.k8s.io/v1");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 404);
}

TEST(ApiClient, KeepsTheConnectionAlive) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(response(200, "{}"));
    connection.keep_alive = true;
  });
  auto client = client_for(server.url());
  for (int i = 0; i < 3; ++i) {
    auto result = client->get("/api");
    ASSERT_TRUE(result) << result.error().message;
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(ApiClient, ResendsOnceWhenTheServerClosedAnIdleConnection) {
  // Answers as if keeping the connection, then closes it: the next request
  // on it fails before any response and goes out again on a new one.
  TestServer server([](const TestRequest&, TestConnection& connection) { connection.write(response(200, "{}")); });
  auto client = client_for(server.url());
  ASSERT_TRUE(client->get("/one"));
  std::this_thread::sleep_for(50ms);
  auto second = client->get("/two");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(server.connections(), 2);
}

TEST(ApiClient, HonoursConnectionClose) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(response(200, "{}", "Connection: close\r\n"));
  });
  auto client = client_for(server.url());
  ASSERT_TRUE(client->get("/one"));
  ASSERT_TRUE(client->get("/two"));
  EXPECT_EQ(server.connections(), 2);
}

TEST(ApiClient, RereadsTheTokenFileBeforeEachRequest) {
  const std::string file = (std::filesystem::temp_directory_path() / ("kubenat-token-" + std::to_string(::getpid()))).string();
  std::ofstream(file) << "first";
  struct RemoveAtExit {
    std::string path;
    ~RemoveAtExit() { std::filesystem::remove(path); }
  } remove_at_exit{file};
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(response(200, "{}"));
    connection.keep_alive = true;
  });
  ApiServerConfig config;
  config.token_file = file;
  auto client = client_for(server.url(), {}, config);
  ASSERT_TRUE(client->get("/a"));
  std::ofstream(file) << "second-token";
  ASSERT_TRUE(client->get("/b"));
  const auto requests = server.requests();
  EXPECT_EQ(requests.at(0).headers.at("authorization"), "Bearer first");
  EXPECT_EQ(requests.at(1).headers.at("authorization"), "Bearer second-token");
}

TEST(ApiClient, StreamDeliversEachLineAsSoonAsItIsComplete) {
  Signal first_line_seen;
  bool server_saw_signal = false;
  TestServer server([&](const TestRequest&, TestConnection& connection) {
    connection.write(kChunkedHeader);
    connection.chunk("{\"n\":1}\n{\"n\":");
    // The second line is sent only once the client has handled the first:
    // a client that waited for the end of the response would deadlock here.
    server_saw_signal = first_line_seen.wait();
    connection.chunk("2}\n");
    connection.chunk("{\"n\":3}");
    connection.chunk("");
    connection.keep_alive = true;
  });
  auto client = client_for(server.url());
  std::vector<std::string> lines;
  auto end = client->stream("/api/v1/services?watch=true", [&](std::string_view line) {
    lines.emplace_back(line);
    first_line_seen.set();
    return true;
  });
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_EQ(end->status, 200);
  EXPECT_FALSE(end->stopped);
  EXPECT_TRUE(server_saw_signal);
  EXPECT_THAT(lines, ElementsAre(R"({"n":1})", R"({"n":2})", R"({"n":3})"));
  // A stream that ended cleanly leaves the connection reusable.
  ASSERT_TRUE(client->stream("/again", [](std::string_view) { return true; }));
  EXPECT_EQ(server.connections(), 1);
}

TEST(ApiClient, StreamsABodyDelimitedByTheConnectionClosing) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\na\r\nb\n");
    connection.write("c");
  });
  std::vector<std::string> lines;
  auto end = client_for(server.url())->stream("/w", [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_THAT(lines, ElementsAre("a", "b", "c"));
}

TEST(ApiClient, StreamStopsWhenTheHandlerSaysSo) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(kChunkedHeader);
    connection.chunk("1\n2\n3\n");
    connection.chunk("");
    connection.keep_alive = true;
  });
  auto client = client_for(server.url());
  std::vector<std::string> lines;
  auto end = client->stream("/w", [&](std::string_view line) {
    lines.emplace_back(line);
    return lines.size() < 2;
  });
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_TRUE(end->stopped);
  EXPECT_THAT(lines, ElementsAre("1", "2"));
  // The unread rest made the connection useless: a new one is opened.
  ASSERT_TRUE(client->get("/x"));
  EXPECT_EQ(server.connections(), 2);
}

TEST(ApiClient, AnExceptionFromTheLineHandlerPropagatesAndTheConnectionIsNotReused) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(kChunkedHeader);
    connection.chunk("1\n2\n");
    connection.chunk("");
    connection.keep_alive = true;
  });
  auto client = client_for(server.url());
  EXPECT_THROW((void)client->stream("/w", [](std::string_view) -> bool { throw std::runtime_error("handler"); }),
               std::runtime_error);
  std::vector<std::string> lines;
  auto end = client->stream("/w", [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_THAT(lines, ElementsAre("1", "2"));
  EXPECT_EQ(server.connections(), 2);
}

TEST(ApiClient, StreamCutShortIsAnErrorAfterTheLinesThatArrived) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(kChunkedHeader);
    connection.chunk("1\n2");
  });
  std::vector<std::string> lines;
  auto end = client_for(server.url())->stream("/w", [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().failure, TransportFailure::Broken);
  EXPECT_THAT(end.error().message, HasSubstr("closed the connection"));
  EXPECT_THAT(lines, ElementsAre("1"));
}

TEST(ApiClient, StreamErrorStatusReturnsTheBody) {
  TestServer server([](const TestRequest&, TestConnection& connection) {
    connection.write(response(410, R"({"kind":"Status","code":410})"));
  });
  bool called = false;
  auto end = client_for(server.url())->stream("/w", [&](std::string_view) { return called = true; });
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_EQ(end->status, 410);
  EXPECT_EQ(end->body, R"({"kind":"Status","code":410})");
  EXPECT_FALSE(called);
}

TEST(ApiClient, AbortFromAnotherThreadEndsABlockedStream) {
  Signal release;
  TestServer server([&](const TestRequest&, TestConnection& connection) {
    connection.write(kChunkedHeader);
    connection.chunk("first\n");
    release.wait(10s);  // silence until the test is over
  });
  auto client = client_for(server.url());
  Signal got_line;
  auto future = std::async(std::launch::async, [&] {
    return client->stream("/w", [&](std::string_view) {
      got_line.set();
      return true;
    });
  });
  ASSERT_TRUE(got_line.wait());
  const auto start = std::chrono::steady_clock::now();
  client->abort();
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  auto end = future.get();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().failure, TransportFailure::Aborted);
  // Final: later requests fail at once.
  auto later = client->get("/x");
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().failure, TransportFailure::Aborted);
  release.set();
}

TEST(ApiClient, AbortFromAnotherThreadEndsAGetWaitingForItsResponse) {
  Signal release;
  TestServer server([&](const TestRequest&, TestConnection&) { release.wait(10s); });
  auto client = client_for(server.url());
  auto future = std::async(std::launch::async, [&] { return client->get("/x"); });
  std::this_thread::sleep_for(100ms);
  client->abort();
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(future.get().error().failure, TransportFailure::Aborted);
  release.set();
}

TEST(ApiClient, RefusedConnectionIsUnreachable) {
  std::string url;
  {
    TestServer gone([](const TestRequest&, TestConnection&) {});
    url = gone.url();
  }
  auto result = client_for(url)->get("/x");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().failure, TransportFailure::Unreachable);
  EXPECT_THAT(result.error().message, HasSubstr("connecting to http://127.0.0.1:"));
}

TEST(ApiClient, SilentServerTimesOut) {
  Signal release;
  TestServer server([&](const TestRequest& request, TestConnection& connection) {
    if (request.target == "/stream") {
      connection.write(kChunkedHeader);
    }
    release.wait(10s);
  });
  ApiClientOptions options;
  options.request_timeout = 200ms;
  options.stream_idle_timeout = 300ms;
  auto client = client_for(server.url(), options);
  const auto start = std::chrono::steady_clock::now();
  auto result = client->get("/get");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().failure, TransportFailure::Broken);
  EXPECT_THAT(result.error().message, HasSubstr("timed out"));
  auto end = client->stream("/stream", [](std::string_view) { return true; });
  ASSERT_FALSE(end);
  EXPECT_THAT(end.error().message, HasSubstr("timed out"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  release.set();
}

TEST(ApiClient, LimitsLineAndBodySizes) {
  const std::string big(5000, 'x');
  TestServer server([&](const TestRequest& request, TestConnection& connection) {
    if (request.target == "/stream") {
      connection.write(kChunkedHeader);
      connection.chunk(big);
      connection.chunk("");
    } else {
      connection.write(response(200, big));
    }
  });
  ApiClientOptions options;
  options.max_line_bytes = 1000;
  options.max_body_bytes = 1000;
  auto client = client_for(server.url(), options);
  auto result = client->get("/get");
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("larger than 1000 bytes"));
  auto end = client->stream("/stream", [](std::string_view) { return true; });
  ASSERT_FALSE(end);
  EXPECT_THAT(end.error().message, HasSubstr("longer than 1000 bytes"));
}

TEST(ApiClient, RejectsUnusableConfigurations) {
  ApiServerConfig config;
  config.server = "https://127.0.0.1:6443";
  config.ca_pem = "not a certificate";
  auto client = ApiClient::create(config);
  ASSERT_FALSE(client);
  EXPECT_THAT(client.error(), HasSubstr("certificate authority"));
  config.ca_pem.clear();
  config.client_cert_pem = "junk";
  config.client_key_pem = "junk";
  EXPECT_THAT(ApiClient::create(config).error(), HasSubstr("client certificate"));
  config.server = "127.0.0.1:6443";
  EXPECT_THAT(ApiClient::create(config).error(), HasSubstr("https://"));
}

class ApiClientTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_pki_ = new TestPki(make_test_pki("apiserver", {"kubernetes.default", "localhost"}, {"127.0.0.1"}));
    dns_only_pki_ = new TestPki(make_test_pki("apiserver", {"kubernetes.default"}, {}));
    other_pki_ = new TestPki(make_test_pki("other", {"localhost"}, {"127.0.0.1"}));
    client_pki_ = new TestPki(make_test_pki("kubenat-client", {}, {}));
  }
  static void TearDownTestSuite() {
    delete server_pki_;
    delete dns_only_pki_;
    delete other_pki_;
    delete client_pki_;
  }

  static TestHandler ok() {
    return [](const TestRequest&, TestConnection& connection) { connection.write(response(200, "{}")); };
  }
  static std::expected<HttpResponse, TransportError> get(const std::string& url, ApiServerConfig config) {
    config.server = url;
    auto client = ApiClient::create(config);
    if (!client) {
      return std::unexpected(TransportError{TransportFailure::Unreachable, "create: " + client.error()});
    }
    return (*client)->get("/version");
  }

  static TestPki* server_pki_;
  static TestPki* dns_only_pki_;
  static TestPki* other_pki_;
  static TestPki* client_pki_;
};

TestPki* ApiClientTls::server_pki_ = nullptr;
TestPki* ApiClientTls::dns_only_pki_ = nullptr;
TestPki* ApiClientTls::other_pki_ = nullptr;
TestPki* ApiClientTls::client_pki_ = nullptr;

TEST_F(ApiClientTls, VerifiesTheServerAgainstTheConfiguredCa) {
  TestServer server(ok(), TestTls{server_pki_->cert_pem, server_pki_->key_pem, ""});
  ApiServerConfig config;
  config.ca_pem = server_pki_->ca_cert_pem;
  auto result = get(server.url(), config);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 200);
  // By name too: localhost is in the certificate.
  auto by_name = get("https://localhost:" + std::to_string(server.port()), config);
  ASSERT_TRUE(by_name) << by_name.error().message;
}

TEST_F(ApiClientTls, RejectsAServerSignedByAnotherCa) {
  TestServer server(ok(), TestTls{server_pki_->cert_pem, server_pki_->key_pem, ""});
  ApiServerConfig config;
  config.ca_pem = other_pki_->ca_cert_pem;
  auto result = get(server.url(), config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().failure, TransportFailure::Unreachable);
  EXPECT_THAT(result.error().message, HasSubstr("certificate verify failed"));
  EXPECT_TRUE(server.requests().empty());

  config.insecure_skip_tls_verify = true;
  auto insecure = get(server.url(), config);
  ASSERT_TRUE(insecure) << insecure.error().message;
}

TEST_F(ApiClientTls, VerifiesTheHostNameOrTheConfiguredServerName) {
  // The certificate names kubernetes.default only, not 127.0.0.1.
  TestServer server(ok(), TestTls{dns_only_pki_->cert_pem, dns_only_pki_->key_pem, ""});
  ApiServerConfig config;
  config.ca_pem = dns_only_pki_->ca_cert_pem;
  auto by_ip = get(server.url(), config);
  ASSERT_FALSE(by_ip);
  EXPECT_THAT(by_ip.error().message, HasSubstr("mismatch"));
  config.tls_server_name = "kubernetes.default";
  auto by_name = get(server.url(), config);
  ASSERT_TRUE(by_name) << by_name.error().message;
  config.tls_server_name = "kubernetes.evil";
  EXPECT_FALSE(get(server.url(), config));
}

TEST_F(ApiClientTls, PresentsTheClientCertificate) {
  TestServer server(ok(), TestTls{server_pki_->cert_pem, server_pki_->key_pem, client_pki_->ca_cert_pem});
  ApiServerConfig config;
  config.ca_pem = server_pki_->ca_cert_pem;
  EXPECT_FALSE(get(server.url(), config));  // the server wants a certificate
  config.client_cert_pem = client_pki_->cert_pem;
  config.client_key_pem = client_pki_->key_pem;
  auto result = get(server.url(), config);
  ASSERT_TRUE(result) << result.error().message;
  config.client_key_pem = other_pki_->key_pem;
  config.server = server.url();
  auto mismatched = ApiClient::create(config);
  ASSERT_FALSE(mismatched);
  EXPECT_THAT(mismatched.error(), HasSubstr("client key"));
}

TEST_F(ApiClientTls, StreamsOverTls) {
  TestServer server(
      [](const TestRequest&, TestConnection& connection) {
        connection.write(kChunkedHeader);
        connection.chunk("a\nb\n");
        connection.chunk("");
      },
      TestTls{server_pki_->cert_pem, server_pki_->key_pem, ""});
  ApiServerConfig config;
  config.ca_pem = server_pki_->ca_cert_pem;
  std::vector<std::string> lines;
  auto end = client_for(server.url(), {}, config)->stream("/w", [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_THAT(lines, ElementsAre("a", "b"));
}

}  // namespace
}  // namespace kubenat
