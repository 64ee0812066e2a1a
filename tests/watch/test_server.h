#pragma once

// A small HTTP(S) server on a loopback port for the ApiClient tests: each
// request goes to a handler that writes raw bytes, so a test can send
// exactly the framing, timing, truncation or silence it needs. TLS uses
// OpenSSL directly, with certificates made at test time (make_test_pki).

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kubenat::testing {

struct TestRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  int connection = 0;                           // which accepted connection (1, 2, ...)
};

class TestConnection {
 public:
  virtual ~TestConnection() = default;
  // False once the peer is gone.
  virtual bool write(std::string_view bytes) = 0;
  // Writes one chunk of a chunked body (an empty string: the final chunk).
  bool chunk(std::string_view bytes);
  // After the handler returns the connection is closed, unless this is set
  // (then the next request on it is read).
  bool keep_alive = false;
};

using TestHandler = std::function<void(const TestRequest&, TestConnection&)>;

struct TestTls {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // when set, clients must present a certificate it signed
};

class TestServer {
 public:
  // Listens on 127.0.0.1, a free port.
  explicit TestServer(TestHandler handler, std::optional<TestTls> tls = std::nullopt);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT" or https
  int connections() const { return connections_.load(); }
  std::vector<TestRequest> requests() const;
  // Shuts every open connection down (the handlers' writes start failing).
  void drop_connections();

 private:
  void accept_loop();
  void serve(int fd, int number);

  TestHandler handler_;
  std::optional<TestTls> tls_;
  void* ssl_context_ = nullptr;  // SSL_CTX*
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<TestRequest> requests_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A CA and a certificate it signed, all PEM.
struct TestPki {
  std::string ca_cert_pem;
  std::string ca_key_pem;
  std::string cert_pem;  // for the SANs given
  std::string key_pem;
};

// A fresh CA (EC P-256) and a leaf certificate for `dns_names` and
// `ip_addresses`, valid for a day. Usable as server or client certificate.
TestPki make_test_pki(const std::string& common_name, const std::vector<std::string>& dns_names,
                      const std::vector<std::string>& ip_addresses);

}  // namespace kubenat::testing
