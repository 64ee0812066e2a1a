#pragma once

// Runs a piece of work in a forked child process, so that its peak memory
// is its own and a crash ends that piece of work only. The child talks back
// over a pipe, one JSON document per line: any number of messages (progress),
// then its result.

#include <chrono>
#include <expected>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace kubenat::bench {

// The child's end of the pipe.
class ChildChannel {
 public:
  explicit ChildChannel(int fd) : fd_(fd) {}
  // Sends one message to the parent's on_message; false when the parent is
  // gone (the pipe is closed).
  bool send(const nlohmann::json& message);
  // The child's last line, {"result": ...} or {"error": ...}: every message
  // goes inside {"message": ...}, so that a message's own keys are never
  // taken for the outcome.
  bool send_outcome(const nlohmann::json& line);

 private:
  int fd_;
};

struct IsolatedRunHooks {
  // Each message the child sent, as it arrives.
  std::function<void(const nlohmann::json& message)> on_message;
  // Called about every `idle_interval` while the child sends nothing: for
  // redrawing a progress display.
  std::function<void()> on_idle;
  std::chrono::milliseconds idle_interval = std::chrono::seconds(1);
  // Asked when a signal interrupts the wait and at each idle interval: true
  // kills the child (SIGKILL); run_isolated then returns its death.
  std::function<bool()> cancelled;
};

// Forks; the child runs `work` and exits with _exit (no atexit handlers, no
// flushing of the parent's buffered output a second time). The child gets
// the default actions for SIGINT and SIGTERM back, whatever the parent
// installed, so that Ctrl-C ends it. The parent must
// not be running other threads: the child would inherit their locks held.
// Returns the child's result; the error says what went wrong: the error
// `work` returned, an exception it threw, or the way the child died ("the
// child was killed by signal 11 (Segmentation fault) before sending a
// result", "... exited with status 3 before ..."). Never throws for the child's failures.
[[nodiscard]] std::expected<nlohmann::json, std::string> run_isolated(
    const std::function<std::expected<nlohmann::json, std::string>(ChildChannel& channel)>& work,
    const IsolatedRunHooks& hooks = {});

}  // namespace kubenat::bench
