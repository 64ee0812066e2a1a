#include "tests/apiserver_sim/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace kubenat::apiserver_sim::testing {

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body, nullptr, false); }

std::expected<HttpConnection, std::string> HttpConnection::open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return std::unexpected("connect: " + why);
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return HttpConnection(fd);
}

HttpConnection::HttpConnection(HttpConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      raw_(std::move(other.raw_)),
      data_(std::move(other.data_)),
      chunked_(other.chunked_),
      finished_(other.finished_) {}

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    raw_ = std::move(other.raw_);
    data_ = std::move(other.data_);
    chunked_ = other.chunked_;
    finished_ = other.finished_;
  }
  return *this;
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

std::expected<void, std::string> HttpConnection::send_request(const std::string& method, const std::string& target,
                                                              const std::string& body, const std::string& content_type,
                                                              const std::string& accept) {
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: " + accept + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    text += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  text += "\r\n" + body;
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(std::string("send: ") + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  return {};
}

std::expected<void, std::string> HttpConnection::fill(std::chrono::milliseconds timeout) {
  pollfd poller{fd_, POLLIN, 0};
  const int ready = ::poll(&poller, 1, static_cast<int>(timeout.count()));
  if (ready == 0) return std::unexpected("timeout");
  if (ready < 0) return std::unexpected(std::string("poll: ") + std::strerror(errno));
  char buffer[65536];
  const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
  if (n == 0) return std::unexpected("closed");
  if (n < 0) return std::unexpected(errno == ECONNRESET ? "reset" : std::string("recv: ") + std::strerror(errno));
  raw_.append(buffer, static_cast<std::size_t>(n));
  return {};
}

std::expected<HttpResponse, std::string> HttpConnection::read_head() {
  std::size_t end = std::string::npos;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (auto filled = fill(std::chrono::seconds(30)); !filled) return std::unexpected(filled.error());
  }
  HttpResponse response;
  const std::string head = raw_.substr(0, end);
  raw_.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return std::unexpected("bad status line: " + status_line);
  response.status = std::stoi(status_line.substr(9, 3));
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    response.headers[name] = value;
  }
  chunked_ = response.headers["transfer-encoding"] == "chunked";
  finished_ = false;
  data_.clear();
  return response;
}

std::expected<bool, std::string> HttpConnection::decode_chunks() {
  while (true) {
    const std::size_t line_end = raw_.find("\r\n");
    if (line_end == std::string::npos) return false;
    std::size_t size = 0;
    try {
      size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
    } catch (const std::exception&) {
      return std::unexpected("bad chunk size line: " + raw_.substr(0, line_end));
    }
    if (size == 0) {
      if (raw_.size() < line_end + 4) return false;  // the empty trailer line
      raw_.erase(0, line_end + 4);
      finished_ = true;
      return true;
    }
    if (raw_.size() < line_end + 2 + size + 2) return false;
    data_.append(raw_, line_end + 2, size);
    raw_.erase(0, line_end + 2 + size + 2);
  }
}

std::expected<HttpResponse, std::string> HttpConnection::request(const std::string& method, const std::string& target,
                                                                 const std::string& body,
                                                                 const std::string& content_type,
                                                                 const std::string& accept) {
  if (auto sent = send_request(method, target, body, content_type, accept); !sent) return std::unexpected(sent.error());
  auto response = read_head();
  if (!response) return response;
  if (chunked_) {
    while (true) {
      auto done = decode_chunks();
      if (!done) return std::unexpected(done.error());
      if (*done) break;
      if (auto filled = fill(std::chrono::seconds(30)); !filled) return std::unexpected(filled.error());
    }
    response->body = std::move(data_);
    data_.clear();
    return response;
  }
  const std::size_t length = response->headers.contains("content-length")
                                 ? std::stoul(response->headers["content-length"])
                                 : 0;
  while (raw_.size() < length) {
    if (auto filled = fill(std::chrono::seconds(30)); !filled) return std::unexpected(filled.error());
  }
  response->body = raw_.substr(0, length);
  raw_.erase(0, length);
  return response;
}

std::expected<HttpResponse, std::string> HttpConnection::start(const std::string& method, const std::string& target) {
  if (auto sent = send_request(method, target, "", "", "application/json"); !sent) return std::unexpected(sent.error());
  return read_head();
}

std::expected<std::optional<std::string>, std::string> HttpConnection::next_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (const std::size_t newline = data_.find('\n'); newline != std::string::npos) {
      std::string line = data_.substr(0, newline);
      data_.erase(0, newline + 1);
      return line;
    }
    if (finished_) {
      if (data_.empty()) return std::optional<std::string>();
      return std::optional<std::string>(std::exchange(data_, {}));
    }
    auto done = decode_chunks();
    if (!done) return std::unexpected(done.error());
    if (*done || data_.find('\n') != std::string::npos) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::unexpected("timeout");
    if (auto filled = fill(left); !filled) return std::unexpected(filled.error());
  }
}

std::expected<HttpResponse, std::string> http(int port, const std::string& method, const std::string& target,
                                              const std::string& body, const std::string& content_type,
                                              const std::string& accept) {
  auto connection = HttpConnection::open(port);
  if (!connection) return std::unexpected(connection.error());
  return connection->request(method, target, body, content_type, accept);
}

}  // namespace kubenat::apiserver_sim::testing
