#include "bench/dataplane_world.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "engine/process.h"

namespace kubenat::bench {
namespace {

using steady = std::chrono::steady_clock;

// Moves the calling thread into network namespace `name`.
bool enter_namespace(const std::string& name) {
  const int fd = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::setns(fd, CLONE_NEWNET) == 0;
  ::close(fd);
  return ok;
}

std::expected<void, std::string> ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv);
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected(describe_command(argv) + ": " + result->err);
  return {};
}

std::expected<void, std::string> in_ns(const std::string& ns, const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return ip(full);
}

}  // namespace

std::expected<std::unique_ptr<DataplaneWorld>, std::string> DataplaneWorld::create(const std::string& prefix) {
  std::unique_ptr<DataplaneWorld> world(new DataplaneWorld());
  if (auto built = world->build(prefix); !built) return std::unexpected(built.error());
  return world;
}

std::expected<void, std::string> DataplaneWorld::build(const std::string& prefix) {
  node_ = prefix + "-node";
  client_ = prefix + "-client";
  pod_ = prefix + "-pod";
  for (const std::string& ns : {node_, client_, pod_}) {
    if (auto ok = ip({"netns", "add", ns}); !ok) return ok;
    if (auto ok = ip({"-n", ns, "link", "set", "lo", "up"}); !ok) return ok;
    if (auto ok = in_ns(ns, {"sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"});
        !ok) {
      return ok;
    }
  }
  const std::vector<std::vector<std::string>> steps = {
      {"netns", "exec", node_, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
      {"-n", node_, "link", "add", "client0", "type", "veth", "peer", "name", "eth0", "netns", client_},
      {"-n", node_, "addr", "add", std::string(kNodeIp) + "/24", "dev", "client0"},
      {"-n", node_, "link", "set", "client0", "up"},
      {"-n", client_, "addr", "add", std::string(kClientIp) + "/24", "dev", "eth0"},
      {"-n", client_, "link", "set", "eth0", "up"},
      {"-n", client_, "route", "add", "10.96.0.0/12", "via", kNodeIp},
      {"-n", client_, "route", "add", "10.200.0.0/16", "via", kNodeIp},
      {"-n", client_, "route", "add", "172.16.0.0/12", "via", kNodeIp},
      {"-n", node_, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", pod_},
      {"-n", node_, "addr", "add", "10.200.1.1/32", "dev", "veth0"},
      {"-n", node_, "link", "set", "veth0", "up"},
      {"-n", node_, "route", "add", std::string(kPodIp) + "/32", "dev", "veth0"},
      {"-n", pod_, "addr", "add", std::string(kPodIp) + "/32", "dev", "eth0"},
      {"-n", pod_, "link", "set", "eth0", "up"},
      {"-n", pod_, "route", "add", "10.200.1.1", "dev", "eth0", "scope", "link"},
      {"-n", pod_, "route", "add", "192.168.50.0/24", "via", "10.200.1.1"},
  };
  for (const auto& step : steps) {
    if (auto ok = ip(step); !ok) return ok;
  }

  // The server: accept and close, in the pod's namespace.
  std::atomic<int> ready{0};
  server_ = std::thread([this, &ready] {
    if (!enter_namespace(pod_)) {
      ready = -1;
      return;
    }
    server_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(server_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(kPodPort);
    if (::bind(server_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(server_fd_, 4096) != 0) {
      ready = -1;
      return;
    }
    ready = 1;
    while (!stopping_) {
      pollfd p{server_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int connection = ::accept4(server_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection >= 0) ::close(connection);
    }
  });
  for (int i = 0; i < 500 && ready == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (ready != 1) return std::unexpected("the pod's server did not start");
  return {};
}

DataplaneWorld::~DataplaneWorld() {
  stopping_ = true;
  if (server_.joinable()) server_.join();
  if (server_fd_ >= 0) ::close(server_fd_);
  for (const std::string& ns : {node_, client_, pod_}) {
    if (!ns.empty()) (void)ip({"netns", "del", ns});
  }
}

ConnectionTimings DataplaneWorld::measure(const std::string& target, int port, int count) {
  ConnectionTimings timings;
  std::thread client([&] {
    if (!enter_namespace(client_)) {
      timings.failures = count;
      return;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, target.c_str(), &address.sin_addr);
    const auto start = steady::now();
    for (int i = 0; i < count; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      // Reset on close: no TIME_WAIT piling up on the client's ports.
      const linger abort_on_close{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
      const auto before = steady::now();
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        timings.connect_microseconds.push_back(
            std::chrono::duration<double, std::micro>(steady::now() - before).count());
      } else {
        ++timings.failures;
      }
      ::close(fd);
    }
    const double seconds = std::chrono::duration<double>(steady::now() - start).count();
    timings.connections_per_second = seconds > 0 ? count / seconds : 0;
  });
  client.join();
  return timings;
}

}  // namespace kubenat::bench
