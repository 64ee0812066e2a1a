#pragma once

// Running a program to completion: argv in, exit status and output out. The
// kernel-facing tools kubenat drives (iptables-restore, iptables-save,
// conntrack) go through this; errors are values.

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubenat {

struct ProcessResult {
  int exit_status = 0;  // the program's exit code; 128+N when killed by signal N
  std::string out;      // standard output
  std::string err;      // standard error

  bool ok() const { return exit_status == 0; }
};

struct ProcessOptions {
  std::string input;  // written to the program's standard input
  // Killed (SIGKILL) when it runs longer; std::nullopt waits for ever.
  std::optional<std::chrono::milliseconds> timeout = std::chrono::seconds(120);
};

// Runs argv[0] (looked up in PATH) with argv and waits for it. The error is
// for failures to run it at all (no such program, fork failure, timeout),
// with the program's name and the reason; a program that runs and fails is a
// ProcessResult with a non-zero exit_status.
[[nodiscard]] std::expected<ProcessResult, std::string> run_process(const std::vector<std::string>& argv,
                                                                    const ProcessOptions& options = {});

// A program started in the background, stopped (SIGTERM, then SIGKILL) when
// the handle goes away. For tests and demos that need servers.
class BackgroundProcess {
 public:
  [[nodiscard]] static std::expected<BackgroundProcess, std::string> start(const std::vector<std::string>& argv);
  BackgroundProcess(BackgroundProcess&& other) noexcept;
  BackgroundProcess& operator=(BackgroundProcess&& other) noexcept;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess();

  int pid() const { return pid_; }
  // True while the process has not exited.
  bool running();
  // Sends SIGTERM, waits up to `grace`, then SIGKILL; returns the exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

 private:
  explicit BackgroundProcess(int pid) : pid_(pid) {}
  int pid_ = -1;
  std::optional<int> status_;
};

// Whether `name` is an executable file in one of PATH's directories.
bool program_in_path(std::string_view name);

// The command line as one string, for messages: arguments with spaces quoted.
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace kubenat
