#pragma once

// Clients that keep opening new connections: from one network namespace, new
// TCP connections to several addresses in turn, at a bounded rate, each a
// whole exchange with kubenat_e2e_echo (connect, read its one line, see it
// close). What the clients of a node see while its proxy restarts or
// changes. Every connection is new (a new socket, a new ephemeral port), so
// the node's conntrack has no entry for it and its first packet must be
// translated by the rules in the kernel at that moment: an established flow,
// which conntrack alone keeps going, proves nothing about the rules.
//
// One thread in the namespace (setns applies to the calling thread only)
// drives every connection with epoll; a connection counts as failed only if
// it does not complete its exchange within the timeout.

#include <chrono>
#include <expected>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace kubenat::e2e {

struct LoadTarget {
  std::string ip;  // IPv4 or IPv6
  int port = 0;
  // The answers that are right (the names of the Service's endpoints);
  // empty: any line.
  std::set<std::string> answers = {};

  std::string to_string() const;  // "IP:PORT", "[IP6]:PORT"
};

struct ConnectionLoadOptions {
  std::vector<LoadTarget> targets;   // connected to in turn
  int connections_per_second = 300;  // started, over all targets
  // For connect and answer together: generous, so that a slow connection
  // (a SYN retransmitted after a second) is not counted as failed.
  std::chrono::milliseconds timeout{2000};
  // No more connections open at once; the rate waits for them.
  int max_in_flight = 1000;
};

// A connection that did not complete its exchange.
struct LoadFailure {
  std::chrono::milliseconds at{0};  // when it started, since the load started
  std::string target;               // LoadTarget::to_string()
  // "refused", "unreachable", "timeout", "reset", "closed" (no answer line),
  // "wrong answer: <line>", or "error-<ERRNO>" for anything else.
  std::string what;
};

struct LoadReport {
  int started = 0;                       // connections opened
  int succeeded = 0;                     // exchanges completed with a right answer
  std::map<std::string, int> by_target;  // target -> exchanges completed
  std::map<std::string, int> by_answer;  // answer line -> exchanges completed
  std::vector<LoadFailure> failures;     // every failure, in the order they ended

  // One line of counts, then one line per failure (the first 20).
  std::string to_string() const;
};
// For GoogleTest messages: `EXPECT_TRUE(report.failures.empty()) << report;`.
std::ostream& operator<<(std::ostream& out, const LoadReport& report);

class ConnectionLoad {
 public:
  // Starts the load from network namespace `ns` (as `ip netns` names it).
  // The error is for a load that could not start: a target that is not an
  // address, a namespace that cannot be entered.
  [[nodiscard]] static std::expected<std::unique_ptr<ConnectionLoad>, std::string> start(const std::string& ns,
                                                                                         ConnectionLoadOptions options);
  ConnectionLoad(const ConnectionLoad&) = delete;
  ConnectionLoad& operator=(const ConnectionLoad&) = delete;
  // Stops it as stop() does.
  ~ConnectionLoad();

  // What ended so far; connections in flight count in `started` alone.
  LoadReport report() const;
  // Starts no more connections, waits for those in flight to end (each
  // within the timeout), and returns the final report.
  LoadReport stop();

 private:
  struct State;
  explicit ConnectionLoad(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace kubenat::e2e
