#include "bench/daemon_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>
#include <utility>

#include "engine/network_namespace.h"

namespace kubenat::bench {
namespace {

std::string single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// A TCP socket that belongs to namespace `netns` (a socket stays in the
// namespace it was made in), closed with the object.
class NamespaceSocket {
 public:
  static std::expected<NamespaceSocket, std::string> open(const std::string& netns) {
    int fd = -1;
    int error = 0;
    auto entered = run_in_network_namespace(netns, [&] {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      error = errno;
    });
    if (!entered) return std::unexpected(entered.error());
    if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(error));
    return NamespaceSocket(fd);
  }
  NamespaceSocket(NamespaceSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  NamespaceSocket& operator=(NamespaceSocket&&) = delete;
  ~NamespaceSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  explicit NamespaceSocket(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

std::expected<std::string, std::string> http_get_in_namespace(const std::string& netns, int port,
                                                              const std::string& path,
                                                              std::chrono::milliseconds timeout) {
  const std::string where = "GET http://127.0.0.1:" + std::to_string(port) + path + " in " + netns;
  auto socket = NamespaceSocket::open(netns);
  if (!socket) return std::unexpected(where + ": " + socket.error());
  // The timeout bounds each connect, send and receive.
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  limit.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(socket->fd(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(socket->fd(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket->fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return std::unexpected(where + ": connect: " + std::strerror(errno));
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(socket->fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::unexpected(where + ": send: " + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(socket->fd(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(where + ": receive: " + std::strerror(errno));
    if (n == 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  const std::size_t header_end = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.") || header_end == std::string::npos || answer.size() < 12) {
    return std::unexpected(where + ": not an HTTP answer");
  }
  const std::string status = answer.substr(9, 3);
  if (status != "200") return std::unexpected(where + ": status " + status);
  return answer.substr(header_end + 4);
}

std::vector<std::string> daemon_arguments(const DaemonProcessOptions& options) {
  return {"run",
          "--kubeconfig",
          options.kubeconfig,
          "--hostname-override",
          options.node_name,
          "--cluster-cidr",
          options.cluster_cidr,
          "--proxy-mode",
          std::string(backend_name(options.backend)),
          "--healthz-bind-address",
          "127.0.0.1:" + std::to_string(DaemonProcess::kHealthzPort),
          "--metrics-bind-address",
          "127.0.0.1:" + std::to_string(DaemonProcess::kMetricsPort),
          "--conntrack-max-per-core",
          "0",
          "-v",
          std::to_string(options.verbosity)};
}

std::string file_tail(const std::string& path, std::size_t lines) {
  std::ifstream file(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(file, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string text;
  for (const std::string& line : last) text += line + "\n";
  return text;
}

std::expected<DaemonProcess, std::string> DaemonProcess::start(const DaemonProcessOptions& options,
                                                               std::chrono::seconds ready_within) {
  if (options.backend == BenchBackend::KubeProxy) {
    return std::unexpected("kubenat run has no kube-proxy backend: iptables or nftables");
  }
  // The shell only redirects the output and then becomes the daemon (exec),
  // as setsid does when it is not a process group leader: the pid is the
  // daemon's.
  std::string script = "exec ";
  if (program_in_path("setsid")) script += "setsid ";
  script += "\"$@\" >>" + single_quoted(options.log_path) + " 2>&1";
  std::vector<std::string> argv = {"sh", "-c", script, "sh", options.kubenat_binary};
  for (std::string& argument : daemon_arguments(options)) argv.push_back(std::move(argument));

  // A child starts in the network namespace of the thread that spawns it.
  std::expected<BackgroundProcess, std::string> started = std::unexpected("not started");
  auto entered = run_in_network_namespace(options.netns, [&] { started = BackgroundProcess::start(argv); });
  if (!entered) return std::unexpected(entered.error());
  if (!started) return std::unexpected(started.error());
  DaemonProcess daemon(options, std::move(*started));

  const auto deadline = std::chrono::steady_clock::now() + ready_within;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!daemon.running()) {
      return std::unexpected("kubenat run exited at start-up; its log ends:\n" + daemon.log_tail());
    }
    auto answer = daemon.metrics_text();
    if (answer) return daemon;
    last_error = answer.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::unexpected("kubenat run did not answer /metrics within " + std::to_string(ready_within.count()) + " s (" +
                         last_error + "); its log ends:\n" + daemon.log_tail());
}

std::expected<std::string, std::string> DaemonProcess::metrics_text() const {
  return http_get_in_namespace(options_.netns, kMetricsPort, "/metrics");
}

std::expected<DaemonCounters, std::string> DaemonProcess::counters() const {
  auto text = metrics_text();
  if (!text) return std::unexpected(text.error());
  return read_daemon_counters(*text);
}

std::string DaemonProcess::log_tail(std::size_t lines) const { return file_tail(options_.log_path, lines); }

std::expected<DaemonCounters, std::string> DaemonProcess::wait_for(
    const std::function<bool(const DaemonCounters&)>& done, std::chrono::seconds limit, const std::string& what,
    const std::function<bool()>& cancelled) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return std::unexpected("kubenat run exited while " + what + "; its log ends:\n" + log_tail());
    if (cancelled && cancelled()) return std::unexpected("interrupted while " + what);
    auto answer = counters();
    if (answer && done(*answer)) return *answer;
    if (!answer) last_error = answer.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return std::unexpected("gave up " + what + " after " + std::to_string(limit.count()) + " s" +
                         (last_error.empty() ? "" : " (" + last_error + ")"));
}

}  // namespace kubenat::bench
