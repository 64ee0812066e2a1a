// kubenat_e2e_probe: the client of the end-to-end tests. It makes N attempts
// to reach IP:PORT and says what each one got.
//
//   kubenat_e2e_probe tcp|udp IP PORT [--count N] [--timeout-ms T]
//                     [--source-port P] [--interval-ms I]
//
// tcp: every attempt is a new connection (new ephemeral port) that reads the
// answer line up to the server's close. udp: every attempt sends one datagram
// from a new ephemeral socket and waits for the answer; with --source-port
// (udp only) one socket bound to that port is reused, so conntrack sees a
// single flow. Each attempt gets T ms (default 1000) for connect and answer.
//
// Output: one line per distinct result, sorted by result, "<count> <result>":
//   <answer>       the first line the server sent (the echo server's name)
//   refused        ECONNREFUSED: a TCP reset, or ICMP port unreachable (udp)
//   unreachable    ICMP host/net/protocol unreachable or administratively
//                  prohibited, or no route in the probe's own namespace
//   timeout        nothing within T ms
//   reset          the connection was reset after it was established
//   closed         the server closed without sending a line
//   error-<ERRNO>  any other error, e.g. error-EPERM
// Exit status 0 whatever the results; 2 for bad arguments.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  bool tcp = true;
  sockaddr_storage destination{};
  socklen_t destination_len = 0;
  int count = 1;
  int timeout_ms = 1000;
  int source_port = 0;
  int interval_ms = 0;
};

int usage(const std::string& why) {
  std::fprintf(stderr,
               "kubenat_e2e_probe: %s\n"
               "usage: kubenat_e2e_probe tcp|udp IP PORT [--count N] [--timeout-ms T] [--source-port P] "
               "[--interval-ms I]\n",
               why.c_str());
  return 2;
}

bool parse_int(std::string_view text, int min, int max, int& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value >= min && value <= max;
}

bool parse_destination(const std::string& ip, int port, Options& options) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&options.destination);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    options.destination_len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&options.destination);
  if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    options.destination_len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::string classify(int error) {
  switch (error) {
    case ECONNREFUSED:
      return "refused";
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ENONET:
    case ENOPROTOOPT:  // ICMP protocol unreachable
      return "unreachable";
    case ETIMEDOUT:
      return "timeout";
    case ECONNRESET:
      return "reset";
    default: {
      const char* name = ::strerrorname_np(error);
      return std::string("error-") + (name != nullptr ? name : std::to_string(error));
    }
  }
}

int milliseconds_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, milliseconds_until(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// The first line of `text`, or "closed" when there is none.
std::string answer_from(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "closed" : line;
}

std::string tcp_attempt(const Options& options) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(options.timeout_ms);
  Socket socket(::socket(options.destination.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket.get() < 0) return classify(errno);
  // An ICMP error that comes back while connect() still holds the socket
  // (always, between namespaces: the SYN's whole round trip runs in the
  // sender's softirq) is kept only as a soft error, and poll() learns of it
  // only when the error is queued. IPv4 queues a SYN's ICMP error anyway;
  // IPv6 only with IPV6_RECVERR. Without it every "unreachable" would wait
  // for the SYN's retransmission, a second later.
  if (options.destination.ss_family == AF_INET6) {
    const int one = 1;
    ::setsockopt(socket.get(), IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
  }
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&options.destination), options.destination_len) != 0) {
    if (errno != EINPROGRESS) return classify(errno);
    if (!wait_for(socket.get(), POLLOUT, deadline)) return "timeout";
    int error = 0;
    socklen_t error_len = sizeof error;
    ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &error_len);
    if (error != 0) return classify(error);
  }
  // Read up to the server's close, so that the server, not the probe, holds
  // the TIME_WAIT and thousands of attempts do not exhaust local ports.
  std::string text;
  std::array<char, 512> buffer;
  while (true) {
    if (!wait_for(socket.get(), POLLIN, deadline)) {
      return text.find('\n') != std::string::npos ? answer_from(text) : "timeout";
    }
    const ssize_t got = ::recv(socket.get(), buffer.data(), buffer.size(), 0);
    if (got > 0) {
      text.append(buffer.data(), static_cast<std::size_t>(got));
    } else if (got == 0) {
      return answer_from(text);
    } else if (errno != EINTR && errno != EAGAIN) {
      return text.find('\n') != std::string::npos ? answer_from(text) : classify(errno);
    }
  }
}

// Makes a UDP socket that reports ICMP errors and connects it to the
// destination; bound to `source_port` when it is not 0.
std::expected<Socket, std::string> udp_socket(const Options& options) {
  Socket socket(::socket(options.destination.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket.get() < 0) return std::unexpected(classify(errno));
  // Without IP_RECVERR a connected UDP socket reports only "hard" ICMP
  // errors (port and protocol unreachable); net and host unreachable would
  // look like timeouts.
  const int one = 1;
  if (options.destination.ss_family == AF_INET6) {
    ::setsockopt(socket.get(), IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
  } else {
    ::setsockopt(socket.get(), IPPROTO_IP, IP_RECVERR, &one, sizeof one);
  }
  if (options.source_port != 0) {
    ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage local{};
    local.ss_family = options.destination.ss_family;
    socklen_t local_len = options.destination_len;
    if (local.ss_family == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(&local)->sin6_port = htons(static_cast<uint16_t>(options.source_port));
    } else {
      reinterpret_cast<sockaddr_in*>(&local)->sin_port = htons(static_cast<uint16_t>(options.source_port));
    }
    if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&local), local_len) != 0) {
      return std::unexpected(classify(errno));
    }
  }
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&options.destination), options.destination_len) != 0) {
    return std::unexpected(classify(errno));
  }
  return socket;
}

// Throws away late answers and queued ICMP errors of earlier attempts on a
// reused socket, so that they are not counted for the next one.
void drain(int fd) {
  std::array<char, 2048> buffer;
  while (::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT) >= 0 || errno == ECONNREFUSED ||
         errno == EHOSTUNREACH || errno == ENETUNREACH || errno == EINTR) {
  }
  while (::recv(fd, buffer.data(), buffer.size(), MSG_ERRQUEUE | MSG_DONTWAIT) >= 0) {
  }
  int error = 0;
  socklen_t error_len = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
}

std::string udp_attempt(int fd, int timeout_ms) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  static constexpr std::string_view kPayload = "kubenat-probe\n";
  if (::send(fd, kPayload.data(), kPayload.size(), MSG_NOSIGNAL) < 0) return classify(errno);
  std::array<char, 2048> buffer;
  while (true) {
    if (!wait_for(fd, POLLIN, deadline)) return "timeout";
    const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got >= 0) return answer_from(std::string(buffer.data(), static_cast<std::size_t>(got)));
    if (errno == EINTR || errno == EAGAIN) continue;
    const int error = errno;
    drain(fd);
    return classify(error);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage("needs a protocol, an IP and a port");
  Options options;
  const std::string_view protocol = argv[1];
  if (protocol != "tcp" && protocol != "udp") return usage("the protocol is tcp or udp");
  options.tcp = protocol == "tcp";
  int port = 0;
  if (!parse_int(argv[3], 1, 65535, port)) return usage("bad port: " + std::string(argv[3]));
  if (!parse_destination(argv[2], port, options)) return usage("bad IP address: " + std::string(argv[2]));
  for (int i = 4; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return usage("missing value after " + std::string(flag));
    const std::string_view value = argv[++i];
    bool ok = false;
    if (flag == "--count") {
      ok = parse_int(value, 0, 100'000'000, options.count);
    } else if (flag == "--timeout-ms") {
      ok = parse_int(value, 1, 3'600'000, options.timeout_ms);
    } else if (flag == "--source-port") {
      ok = parse_int(value, 1, 65535, options.source_port);
    } else if (flag == "--interval-ms") {
      ok = parse_int(value, 0, 3'600'000, options.interval_ms);
    } else {
      return usage("unknown option: " + std::string(flag));
    }
    if (!ok) return usage("bad value for " + std::string(flag) + ": " + std::string(value));
  }
  if (options.tcp && options.source_port != 0) {
    return usage("--source-port is for udp only: a fixed TCP source port would hit TIME_WAIT");
  }

  std::map<std::string, int> results;
  std::optional<Socket> shared;
  std::string shared_error;
  if (!options.tcp && options.source_port != 0) {
    auto made = udp_socket(options);
    if (made) {
      shared.emplace(std::move(*made));
    } else {
      shared_error = made.error();
    }
  }
  for (int attempt = 0; attempt < options.count; ++attempt) {
    if (attempt > 0 && options.interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.interval_ms));
    if (options.tcp) {
      ++results[tcp_attempt(options)];
    } else if (options.source_port != 0) {
      if (shared) drain(shared->get());
      ++results[shared ? udp_attempt(shared->get(), options.timeout_ms) : shared_error];
    } else {
      auto socket = udp_socket(options);
      ++results[socket ? udp_attempt(socket->get(), options.timeout_ms) : socket.error()];
    }
  }
  for (const auto& [result, count] : results) std::printf("%d %s\n", count, result.c_str());
  return 0;
}
