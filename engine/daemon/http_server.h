#pragma once

// Tiny HTTP/1.1 servers. HttpServer: /healthz, /livez, /metrics and the
// like, GET (and HEAD) on fixed paths, each answered by a handler, on a
// thread of its own. HttpListeners: any number of ports on one thread,
// opened and closed while it runs, each answering every request with one
// handler (the health-check node ports of Services). Every connection has a
// 10 s deadline per request and at most 64 are open at once per port, so a
// stuck client cannot starve the probes. The network code (Boost.Beast)
// stays inside http_server.cpp.

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kubenat {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Further headers, in order (X-Content-Type-Options: nosniff is always sent).
  std::vector<std::pair<std::string, std::string>> headers = {};
};

// Called on the server's thread, one request at a time; must be
// thread-safe with respect to the rest of the program. An exception becomes
// a 500 reply.
using HttpHandler = std::function<HttpReply()>;

// "host:port" as kube-proxy's --healthz-bind-address and
// --metrics-bind-address take it: "0.0.0.0:10256", "127.0.0.1:0" (0 picks a
// free port), "[::]:10256", "[::1]:10249", ":10256" (all IPv4 interfaces),
// "localhost:10249" (127.0.0.1). Other host names are not resolved.
struct BindAddress {
  std::string host;  // an IP literal, without brackets
  std::uint16_t port = 0;
};
[[nodiscard]] std::expected<BindAddress, std::string> parse_bind_address(std::string_view text);

class HttpServer {
 public:
  // Does not bind yet; see start().
  explicit HttpServer(std::string bind_address);
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes GET and HEAD requests for exactly `path` (a query string is
  // ignored) to `handler`. Call before start(). Other paths get 404, other
  // methods 405.
  void handle(std::string path, HttpHandler handler);

  // Parses the bind address, binds, listens and starts serving on a thread
  // of its own. The error names the address: "listen on 127.0.0.1:10256:
  // Address already in use". Call at most once.
  [[nodiscard]] std::expected<void, std::string> start();

  // Stops accepting, closes open connections and joins the thread.
  // Idempotent; safe before start().
  void stop();

  // The bound port (the chosen one when the address said 0); 0 before start().
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Listening sockets served by one thread. Thread-safe: listen() and close()
// may be called from any thread while it serves.
class HttpListeners {
 public:
  using Id = std::uint64_t;

  HttpListeners();
  ~HttpListeners();  // closes every listener and stops the thread
  HttpListeners(const HttpListeners&) = delete;
  HttpListeners& operator=(const HttpListeners&) = delete;

  // Binds and listens on `bind_address` (as HttpServer takes it; "[::]" is
  // IPv6 alone here, so that each family has its own socket) and answers
  // every request, whatever its method and path, with `handler`, called on
  // the serving thread. The error names the address: "listen on
  // 0.0.0.0:32000: Address already in use".
  struct Listening {
    Id id = 0;
    std::uint16_t port = 0;  // the bound port (the chosen one when the address said 0)
  };
  [[nodiscard]] std::expected<Listening, std::string> listen(const std::string& bind_address, HttpHandler handler);
  // Stops accepting on the listener; requests already read are answered.
  // Unknown ids are ignored.
  void close(Id id);
  // How many listeners are open.
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubenat
