#pragma once

// The smallest world for timing new connections through a node's rules:
// a client namespace, a node namespace (where the rules under test go) and
// one pod namespace with a server, routed through the node. Connections are
// made and accepted by threads of this process that enter the namespaces
// (setns is per thread), so the timing is the kernel's, not a process
// start's. Root needed; the namespaces go away with the object.

#include <atomic>
#include <expected>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace kubenat::bench {

struct ConnectionTimings {
  std::vector<double> connect_microseconds;  // SYN sent to connection established, per connection
  double connections_per_second = 0;         // whole connect-accept-close cycles, sequential
  int failures = 0;
};

class DataplaneWorld {
 public:
  static constexpr const char* kPodIp = "10.200.1.10";
  static constexpr int kPodPort = 8080;
  static constexpr const char* kNodeIp = "192.168.50.1";
  static constexpr const char* kClientIp = "192.168.50.2";
  static constexpr const char* kPodCidr = "10.200.0.0/16";

  // Namespaces "<prefix>-node", "<prefix>-client", "<prefix>-pod"; a server
  // accepting on kPodIp:kPodPort. The error names the step that failed.
  [[nodiscard]] static std::expected<std::unique_ptr<DataplaneWorld>, std::string> create(const std::string& prefix);
  ~DataplaneWorld();
  DataplaneWorld(const DataplaneWorld&) = delete;
  DataplaneWorld& operator=(const DataplaneWorld&) = delete;

  const std::string& node_ns() const { return node_; }

  // `count` connections, one after the other, from the client to ip:port.
  ConnectionTimings measure(const std::string& ip, int port, int count);

 private:
  DataplaneWorld() = default;
  std::expected<void, std::string> build(const std::string& prefix);

  std::string node_, client_, pod_;
  std::atomic<bool> stopping_{false};
  std::thread server_;
  int server_fd_ = -1;
};

}  // namespace kubenat::bench
