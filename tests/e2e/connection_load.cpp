#include "tests/e2e/connection_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

namespace kubenat::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The echo server's answer is one short line; anything longer is wrong.
constexpr std::size_t kMaxAnswer = 256;

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

std::expected<Address, std::string> parse_address(const LoadTarget& target) {
  Address out;
  if (target.port <= 0 || target.port > 65535) {
    return std::unexpected("load target " + target.to_string() + ": port out of range");
  }
  const auto port = htons(static_cast<std::uint16_t>(target.port));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (::inet_pton(AF_INET, target.ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    out.length = sizeof(sockaddr_in);
    return out;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET6, target.ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = port;
    out.length = sizeof(sockaddr_in6);
    out.family = AF_INET6;
    return out;
  }
  return std::unexpected("load target " + target.to_string() + ": not an IP address");
}

// The words of kubenat_e2e_probe for the same errors.
std::string describe_error(int error) {
  switch (error) {
    case ECONNREFUSED:
      return "refused";
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EPROTO:
    case EACCES:
      return "unreachable";
    case ETIMEDOUT:
      return "timeout";
    case ECONNRESET:
    case EPIPE:
      return "reset";
    default: {
      const char* name = ::strerrorname_np(error);
      return std::string("error-") + (name != nullptr ? name : std::to_string(error));
    }
  }
}

struct Connection {
  std::size_t target = 0;
  Clock::time_point started;
  bool connected = false;
  std::string received;
};

}  // namespace

std::string LoadTarget::to_string() const {
  const bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::string LoadReport::to_string() const {
  std::ostringstream out;
  out << started << " connections started, " << succeeded << " succeeded, " << failures.size() << " failed;";
  for (const auto& [target, count] : by_target) out << " " << target << " " << count;
  out << "; answers:";
  for (const auto& [answer, count] : by_answer) out << " " << answer << " " << count;
  out << "\n";
  constexpr std::size_t kShown = 20;
  for (std::size_t i = 0; i < failures.size() && i < kShown; ++i) {
    out << "  at " << failures[i].at.count() << " ms: " << failures[i].target << " " << failures[i].what << "\n";
  }
  if (failures.size() > kShown) out << "  ... and " << failures.size() - kShown << " more\n";
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const LoadReport& report) {
  return out << "connection load: " << report.to_string();
}

struct ConnectionLoad::State {
  ConnectionLoadOptions options;
  std::vector<Address> addresses;
  std::atomic<bool> stopping{false};
  std::thread thread;
  mutable std::mutex mutex;
  LoadReport report;  // under mutex
  Clock::time_point began;

  void run(int epoll);
  void open_one(int epoll, std::size_t target, std::map<int, Connection>& open);
  // Reads what the socket has; true once the connection ended (and is
  // counted), false while it waits for more.
  bool on_ready(int fd, Connection& connection);
  void finish(const Connection& connection, const std::string& failure);
};

void ConnectionLoad::State::finish(const Connection& connection, const std::string& failure) {
  const std::string target = options.targets[connection.target].to_string();
  std::lock_guard lock(mutex);
  if (failure.empty()) {
    ++report.succeeded;
    ++report.by_target[target];
    ++report.by_answer[connection.received.substr(0, connection.received.size() - 1)];
  } else {
    report.failures.push_back({std::chrono::duration_cast<milliseconds>(connection.started - began), target, failure});
  }
}

void ConnectionLoad::State::open_one(int epoll, std::size_t target, std::map<int, Connection>& open) {
  const Address& address = addresses[target];
  Connection connection{.target = target, .started = Clock::now(), .connected = false, .received = {}};
  {
    std::lock_guard lock(mutex);
    ++report.started;
  }
  const int fd = ::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    finish(connection, describe_error(errno));
    return;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0) {
    connection.connected = true;
  } else if (errno != EINPROGRESS) {
    finish(connection, describe_error(errno));
    ::close(fd);
    return;
  }
  epoll_event event{};
  event.events = connection.connected ? EPOLLIN : EPOLLOUT;
  event.data.fd = fd;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
    finish(connection, describe_error(errno));
    ::close(fd);
    return;
  }
  open.emplace(fd, std::move(connection));
}

bool ConnectionLoad::State::on_ready(int fd, Connection& connection) {
  if (!connection.connected) {
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error == EINPROGRESS || error == EALREADY) return false;
    if (error != 0) {
      finish(connection, describe_error(error));
      return true;
    }
    connection.connected = true;
    // The server may have answered and closed already: read at once.
  }
  std::array<char, 512> buffer;
  while (true) {
    const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (got > 0) {
      connection.received.append(buffer.data(), static_cast<std::size_t>(got));
      if (connection.received.size() > kMaxAnswer) {
        finish(connection, "wrong answer: " + connection.received.substr(0, 40) + "...");
        return true;
      }
      continue;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      finish(connection, describe_error(errno));
      return true;
    }
    // The server closed: its one line must be there, and right.
    const std::string& text = connection.received;
    if (text.empty() || text.back() != '\n' || text.find('\n') != text.size() - 1) {
      finish(connection, text.empty() ? "closed" : "wrong answer: " + text);
      return true;
    }
    const std::set<std::string>& right = options.targets[connection.target].answers;
    const std::string line = text.substr(0, text.size() - 1);
    finish(connection, right.empty() || right.contains(line) ? "" : "wrong answer: " + line);
    return true;
  }
}

void ConnectionLoad::State::run(int epoll) {
  const Clock::duration interval = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) /
                                   std::max(1, options.connections_per_second);
  std::map<int, Connection> open;  // by socket
  std::size_t next_target = 0;
  Clock::time_point next_start = began;
  std::array<epoll_event, 64> events;
  while (true) {
    Clock::time_point now = Clock::now();
    const bool starting = !stopping.load();
    if (!starting && open.empty()) break;
    if (starting) {
      while (next_start <= now && static_cast<int>(open.size()) < options.max_in_flight) {
        open_one(epoll, next_target, open);
        next_target = (next_target + 1) % addresses.size();
        next_start += interval;
      }
      // After a stall (a full table, a slow scheduler) the rate goes on
      // from now rather than catching up in a burst: it stays bounded.
      if (now - next_start > milliseconds(100)) next_start = now;
    }
    for (auto it = open.begin(); it != open.end();) {
      if (now - it->second.started >= options.timeout) {
        finish(it->second, "timeout");
        ::close(it->first);
        it = open.erase(it);
      } else {
        ++it;
      }
    }
    // Until the next start is due (rounded up, so the loop never spins), at
    // most 10 ms, so timeouts and stop() are seen promptly.
    int wait_ms = 10;
    if (starting && static_cast<int>(open.size()) < options.max_in_flight) {
      const auto until = std::chrono::ceil<milliseconds>(next_start - now).count();
      wait_ms = static_cast<int>(std::clamp<long long>(until, 0, 10));
    }
    const int ready = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), wait_ms);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      auto it = open.find(fd);
      if (it == open.end()) continue;
      if (!it->second.connected) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = fd;
        (void)::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event);
      }
      if (on_ready(fd, it->second)) {
        ::close(fd);  // closing also takes it out of the epoll set
        open.erase(it);
      }
    }
  }
}

std::expected<std::unique_ptr<ConnectionLoad>, std::string> ConnectionLoad::start(const std::string& ns,
                                                                                  ConnectionLoadOptions options) {
  if (options.targets.empty()) return std::unexpected(std::string("connection load: no targets"));
  auto state = std::make_shared<State>();
  for (const LoadTarget& target : options.targets) {
    auto address = parse_address(target);
    if (!address) return std::unexpected(address.error());
    state->addresses.push_back(*address);
  }
  state->options = std::move(options);
  std::promise<std::string> entered;  // empty: in the namespace
  std::future<std::string> entered_future = entered.get_future();
  // The promise moves into the thread: the caller may return (and would
  // destroy it) as soon as the value is set.
  state->thread = std::thread([state = state.get(), ns, entered = std::move(entered)]() mutable {
    const std::string path = "/run/netns/" + ns;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      const int error = errno;
      if (fd >= 0) ::close(fd);
      entered.set_value("connection load: entering network namespace " + ns + ": " + std::strerror(error));
      return;
    }
    ::close(fd);
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) {
      entered.set_value(std::string("connection load: epoll_create1: ") + std::strerror(errno));
      return;
    }
    state->began = Clock::now();
    entered.set_value("");
    state->run(epoll);
    ::close(epoll);
  });
  const std::string error = entered_future.get();
  if (!error.empty()) {
    state->thread.join();
    return std::unexpected(error);
  }
  return std::unique_ptr<ConnectionLoad>(new ConnectionLoad(std::move(state)));
}

ConnectionLoad::~ConnectionLoad() { (void)stop(); }

LoadReport ConnectionLoad::report() const {
  std::lock_guard lock(state_->mutex);
  return state_->report;
}

LoadReport ConnectionLoad::stop() {
  state_->stopping = true;
  if (state_->thread.joinable()) state_->thread.join();
  return report();
}

}  // namespace kubenat::e2e
