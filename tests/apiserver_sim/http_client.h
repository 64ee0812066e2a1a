#pragma once

// A minimal blocking HTTP/1.1 client over POSIX sockets for the simulator's
// tests: whole responses (Content-Length or chunked), and watch streams read
// line by line. Plain HTTP on loopback only; it knows no TLS.

#include <chrono>
#include <expected>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kubenat::apiserver_sim::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The body as JSON (null when it is not JSON).
  nlohmann::json json() const;
};

class HttpConnection {
 public:
  [[nodiscard]] static std::expected<HttpConnection, std::string> open(int port);
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&& other) noexcept;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  ~HttpConnection();

  // Sends a request and reads the whole response. The connection stays open
  // for the next one (keep-alive).
  [[nodiscard]] std::expected<HttpResponse, std::string> request(const std::string& method, const std::string& target,
                                                                 const std::string& body = "",
                                                                 const std::string& content_type = "application/json",
                                                                 const std::string& accept = "application/json");

  // Sends a request and reads only the response head; the body is then read
  // with next_line() (a watch).
  [[nodiscard]] std::expected<HttpResponse, std::string> start(const std::string& method, const std::string& target);
  // The next line of a chunked body, without its newline. nullopt when the
  // body ended cleanly (final chunk); an error when the connection was
  // closed or reset first, or nothing came within `timeout` ("timeout").
  [[nodiscard]] std::expected<std::optional<std::string>, std::string> next_line(std::chrono::milliseconds timeout);

 private:
  explicit HttpConnection(int fd) : fd_(fd) {}
  std::expected<void, std::string> send_request(const std::string& method, const std::string& target,
                                                const std::string& body, const std::string& content_type,
                                                const std::string& accept);
  std::expected<HttpResponse, std::string> read_head();
  // Reads more raw bytes into raw_; "timeout", "closed" or an errno text.
  std::expected<void, std::string> fill(std::chrono::milliseconds timeout);
  // Decodes chunks from raw_ into data_; true when the final chunk was seen.
  std::expected<bool, std::string> decode_chunks();

  int fd_ = -1;
  std::string raw_;   // bytes received, not yet parsed
  std::string data_;  // decoded chunk data not yet returned
  bool chunked_ = false;
  bool finished_ = false;
};

// One request on a fresh connection.
[[nodiscard]] std::expected<HttpResponse, std::string> http(int port, const std::string& method,
                                                            const std::string& target, const std::string& body = "",
                                                            const std::string& content_type = "application/json",
                                                            const std::string& accept = "application/json");

}  // namespace kubenat::apiserver_sim::testing
