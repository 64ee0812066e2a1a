// kubenat_e2e_echo: the "pod" of the end-to-end tests. It tells every client
// who answered, so a test learns which endpoint a service sent it to.
//
//   kubenat_e2e_echo --name NAME --port P [--tcp] [--udp] [--exit-with-parent]
//
// TCP: each accepted connection gets "NAME\n" and is closed. UDP: each
// datagram is answered with "NAME\n" to its sender. Without --tcp or --udp it
// serves both. It listens on 0.0.0.0 and, when the namespace has IPv6, on ::.
// --exit-with-parent ends it when the process that started it dies, so a
// crashed test does not leave servers running in deleted namespaces.
// SIGTERM and SIGINT end it with status 0.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

struct Options {
  std::string name;
  int port = 0;
  bool tcp = false;
  bool udp = false;
  bool exit_with_parent = false;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "kubenat_e2e_echo: %s\n"
               "usage: kubenat_e2e_echo --name NAME --port P [--tcp] [--udp] [--exit-with-parent]\n",
               why);
  return 2;
}

bool parse_port(std::string_view text, int& port) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port > 0 && port < 65536;
}

struct Listener {
  int fd = -1;
  bool tcp = false;
};

// Opens one socket of `type` on the wildcard address of `family`. An IPv6
// socket that cannot be made (no IPv6 in the namespace) is not an error: the
// caller skips it.
int open_socket(int family, int type, int port, std::string& error) {
  const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int bound = -1;
  if (family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_any;
    address.sin6_port = htons(static_cast<uint16_t>(port));
    bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<uint16_t>(port));
    bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  if (bound != 0 || (type == SOCK_STREAM && ::listen(fd, 4096) != 0)) {
    error = std::string(bound != 0 ? "bind" : "listen") + " port " + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

void serve_tcp(int listener, std::string_view answer) {
  while (true) {
    const int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return;  // EAGAIN: drained; anything else: the client is gone already
    // A fresh socket's send buffer always has room for one line. MSG_NOSIGNAL:
    // a client that already reset must not kill the server with SIGPIPE.
    (void)::send(conn, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(conn);
  }
}

void serve_udp(int socket, std::string_view answer) {
  std::array<char, 2048> buffer;
  while (true) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    const ssize_t got = ::recvfrom(socket, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      continue;  // an ICMP error for an earlier answer; keep serving
    }
    (void)::sendto(socket, answer.data(), answer.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&peer), peer_len);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--name" && has_value) {
      options.name = argv[++i];
    } else if (arg == "--port" && has_value) {
      if (!parse_port(argv[++i], options.port)) return usage("--port needs a number from 1 to 65535");
    } else if (arg == "--tcp") {
      options.tcp = true;
    } else if (arg == "--udp") {
      options.udp = true;
    } else if (arg == "--exit-with-parent") {
      options.exit_with_parent = true;
    } else {
      return usage(("unknown or incomplete argument: " + std::string(arg)).c_str());
    }
  }
  if (options.name.empty() || options.port == 0) return usage("--name and --port are required");
  if (options.name.find('\n') != std::string::npos) return usage("--name must be one line");
  if (!options.tcp && !options.udp) options.tcp = options.udp = true;

  if (options.exit_with_parent) {
    const pid_t parent = ::getppid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) return 0;  // the parent died before prctl took effect
  }

  // SIGTERM stays blocked except inside ppoll, so a signal between the flag
  // check and the wait cannot be lost.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigset_t wait_mask;
  ::sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  struct sigaction action{};
  action.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);

  std::vector<Listener> listeners;
  for (const int family : {AF_INET, AF_INET6}) {
    for (const bool tcp : {true, false}) {
      if ((tcp && !options.tcp) || (!tcp && !options.udp)) continue;
      std::string error;
      const int fd = open_socket(family, tcp ? SOCK_STREAM : SOCK_DGRAM, options.port, error);
      if (fd >= 0) {
        listeners.push_back({fd, tcp});
      } else if (family == AF_INET) {
        std::fprintf(stderr, "kubenat_e2e_echo: %s\n", error.c_str());
        return 1;
      }
    }
  }

  const std::string answer = options.name + "\n";
  std::vector<pollfd> fds;
  for (const Listener& listener : listeners) fds.push_back({listener.fd, POLLIN, 0});
  while (!g_stop) {
    const int ready = ::ppoll(fds.data(), fds.size(), nullptr, &wait_mask);
    if (ready < 0) {
      if (errno == EINTR) continue;
      std::perror("kubenat_e2e_echo: ppoll");
      return 1;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (listeners[i].tcp) {
        serve_tcp(listeners[i].fd, answer);
      } else {
        serve_udp(listeners[i].fd, answer);
      }
    }
  }
  for (const Listener& listener : listeners) ::close(listener.fd);
  return 0;
}
