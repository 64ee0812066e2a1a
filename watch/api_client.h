#pragma once

// An HTTP/1.1 client for the Kubernetes API server on Boost.Beast: plain TCP
// or TLS (CA and host-name verification, client certificates), bearer-token
// authentication, one keep-alive connection at a time. Beast stays in
// api_client.cpp (pimpl).

#include <chrono>
#include <cstddef>
#include <expected>
#include <memory>
#include <string>

#include "watch/api_config.h"
#include "watch/api_transport.h"

namespace kubenat {

struct ApiClientOptions {
  // Resolving plus TCP connect plus TLS handshake.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  // Sending a request and reading a whole get() response.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(60);
  // The longest a stream() may go without receiving a byte. Watches carry
  // timeoutSeconds, after which the server ends them, and bookmarks every
  // minute or so; silence far beyond that means a dead connection (a
  // half-open TCP after a partition) that would otherwise hang for ever.
  std::chrono::milliseconds stream_idle_timeout = std::chrono::seconds(360);
  std::size_t max_body_bytes = 256 * 1024 * 1024;  // a get() response; a LIST page of 500 big objects fits
  std::size_t max_line_bytes = 16 * 1024 * 1024;   // one watch event; etcd stores objects up to ~1.5 MiB
  std::string user_agent = "kubenat";
};

// Usable from one thread at a time, except abort(), which any thread may call.
// Requests are sent on one connection, opened on first use and reopened
// after an error, a response the server closes, or a stream left unfinished.
class ApiClient final : public ApiTransport {
 public:
  // Errors for a configuration that cannot work: an unparseable server URL,
  // an unreadable CA, certificate or key.
  [[nodiscard]] static std::expected<std::unique_ptr<ApiClient>, std::string> create(
      const ApiServerConfig& config, const ApiClientOptions& options = {});
  ~ApiClient() override;
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  [[nodiscard]] std::expected<HttpResponse, TransportError> get(const std::string& path_and_query) override;
  [[nodiscard]] std::expected<StreamEnd, TransportError> stream(const std::string& path_and_query,
                                                                const LineHandler& on_line) override;
  void abort() override;

 private:
  class Impl;
  explicit ApiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The parts of an API server URL.
struct ServerUrl {
  bool tls = true;
  std::string host;         // without brackets for IPv6
  std::string port;         // defaulted from the scheme
  std::string path_prefix;  // "" or "/prefix" (no trailing '/'), prepended to every request path
};
[[nodiscard]] std::expected<ServerUrl, std::string> parse_server_url(const std::string& server);

}  // namespace kubenat
