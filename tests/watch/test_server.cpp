#include "tests/watch/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace kubenat::testing {
namespace {

class PlainConnection final : public TestConnection {
 public:
  explicit PlainConnection(int fd) : fd_(fd) {}
  bool write(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  ssize_t read(char* buffer, std::size_t size) { return ::recv(fd_, buffer, size, 0); }

 private:
  int fd_;
};

class TlsConnection final : public TestConnection {
 public:
  explicit TlsConnection(SSL* ssl) : ssl_(ssl) {}
  bool write(std::string_view bytes) override {
    while (!bytes.empty()) {
      const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      if (n <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  ssize_t read(char* buffer, std::size_t size) { return SSL_read(ssl_, buffer, static_cast<int>(size)); }

 private:
  SSL* ssl_;
};

std::string lower(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// Reads one request head (GET requests have no body) from `read`, keeping
// bytes past it in `pending`.
template <class Connection>
std::optional<TestRequest> read_request(Connection& connection, std::string& pending) {
  char buffer[4096];
  std::size_t end;
  while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = connection.read(buffer, sizeof buffer);
    if (n <= 0) {
      return std::nullopt;
    }
    pending.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string head = pending.substr(0, end);
  pending.erase(0, end + 4);
  TestRequest request;
  std::size_t line_end = head.find("\r\n");
  const std::string request_line = head.substr(0, line_end);
  const std::size_t space1 = request_line.find(' ');
  const std::size_t space2 = request_line.find(' ', space1 + 1);
  request.method = request_line.substr(0, space1);
  request.target = request_line.substr(space1 + 1, space2 - space1 - 1);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      request.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
  }
  return request;
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) {
    throw std::runtime_error("X509V3_EXT_conf_nid " + value);
  }
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

X509* make_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer, long serial) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return cert;
}

}  // namespace

bool TestConnection::chunk(std::string_view bytes) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  return write(std::string(size) + std::string(bytes) + "\r\n");
}

TestServer::TestServer(TestHandler handler, std::optional<TestTls> tls)
    : handler_(std::move(handler)), tls_(std::move(tls)) {
  if (tls_) {
    SSL_CTX* context = SSL_CTX_new(TLS_server_method());
    BIO* cert_bio = BIO_new_mem_buf(tls_->cert_pem.data(), static_cast<int>(tls_->cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    BIO_free(cert_bio);
    BIO* key_bio = BIO_new_mem_buf(tls_->key_pem.data(), static_cast<int>(tls_->key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(key_bio);
    if (cert == nullptr || key == nullptr || SSL_CTX_use_certificate(context, cert) != 1 ||
        SSL_CTX_use_PrivateKey(context, key) != 1) {
      throw std::runtime_error("test server: bad certificate or key");
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!tls_->client_ca_pem.empty()) {
      BIO* ca_bio = BIO_new_mem_buf(tls_->client_ca_pem.data(), static_cast<int>(tls_->client_ca_pem.size()));
      X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr);
      BIO_free(ca_bio);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(context), ca);
      X509_free(ca);
      SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    ssl_context_ = context;
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("test server: bind/listen failed");
  }
  socklen_t length = sizeof address;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestServer::~TestServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  drop_connections();
  for (std::thread& thread : threads_) {
    thread.join();
  }
  ::close(listen_fd_);
  if (ssl_context_ != nullptr) {
    SSL_CTX_free(static_cast<SSL_CTX*>(ssl_context_));
  }
}

std::string TestServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<TestRequest> TestServer::requests() const {
  const std::lock_guard lock(mutex_);
  return requests_;
}

void TestServer::drop_connections() {
  const std::lock_guard lock(mutex_);
  for (const int fd : open_fds_) {
    ::shutdown(fd, SHUT_RDWR);
  }
}

void TestServer::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) {
        return;
      }
      continue;
    }
    const int number = ++connections_;
    const std::lock_guard lock(mutex_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd, number] { serve(fd, number); });
  }
}

void TestServer::serve(int fd, int number) {
  auto run = [&](auto& connection) {
    std::string pending;
    while (!stopping_) {
      std::optional<TestRequest> request = read_request(connection, pending);
      if (!request) {
        return;
      }
      request->connection = number;
      {
        const std::lock_guard lock(mutex_);
        requests_.push_back(*request);
      }
      connection.keep_alive = false;
      handler_(*request, connection);
      if (!connection.keep_alive) {
        return;
      }
    }
  };
  if (ssl_context_ != nullptr) {
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ssl_context_));
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      TlsConnection connection(ssl);
      run(connection);
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ERR_clear_error();
  } else {
    PlainConnection connection(fd);
    run(connection);
  }
  {
    const std::lock_guard lock(mutex_);
    std::erase(open_fds_, fd);
  }
  ::close(fd);
}

TestPki make_test_pki(const std::string& common_name, const std::vector<std::string>& dns_names,
                      const std::vector<std::string>& ip_addresses) {
  static long serial = 1;
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  X509* ca = make_cert(ca_key, common_name + " CA", nullptr, serial++);
  add_extension(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(ca, ca, NID_subject_key_identifier, "hash");
  X509_sign(ca, ca_key, EVP_sha256());

  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = make_cert(key, common_name, ca, serial++);
  add_extension(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(cert, ca, NID_ext_key_usage, "serverAuth,clientAuth");
  std::string san;
  for (const std::string& name : dns_names) {
    san += (san.empty() ? "" : ",") + std::string("DNS:") + name;
  }
  for (const std::string& ip : ip_addresses) {
    san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  }
  if (!san.empty()) {
    add_extension(cert, ca, NID_subject_alt_name, san);
  }
  X509_sign(cert, ca_key, EVP_sha256());

  TestPki pki{pem_of(ca), pem_of(ca_key), pem_of(cert), pem_of(key)};
  X509_free(cert);
  EVP_PKEY_free(key);
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  return pki;
}

}  // namespace kubenat::testing
