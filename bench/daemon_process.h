#pragma once

// `kubenat run` as a child process in a network namespace, watched from
// outside as an operator would: its memory from /proc, its counters from
// its /metrics. The churn soak runs one against the API server simulator.
//
// The daemon gets a session of its own (setsid), so that Ctrl-C at the
// bench's terminal reaches the bench, which then stops the daemon itself
// after its last measurements. A bench killed with SIGKILL leaves it
// running.

#include <chrono>
#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "bench/daemon_metrics.h"
#include "bench/process_memory.h"
#include "engine/process.h"

namespace kubenat::bench {

struct DaemonProcessOptions {
  std::string kubenat_binary;  // the kubenat program (the bench's own: /proc/self/exe)
  std::string netns;           // `ip netns` name; the daemon's API server must be reachable from it
  std::string kubeconfig;
  BenchBackend backend = BenchBackend::Nftables;  // iptables or nftables: --proxy-mode
  std::string node_name = "node-0";               // --hostname-override
  std::string cluster_cidr = "10.0.0.0/8";
  std::string log_path;  // standard output and error go here, appended
  int verbosity = 0;     // -v; at 2 the daemon logs every partial sync (the daemon scenario reads them)
};

class DaemonProcess {
 public:
  // /metrics (and /healthz) on the namespace's loopback.
  static constexpr int kMetricsPort = 10249;
  static constexpr int kHealthzPort = 10256;

  // Starts `kubenat run` in the namespace with the flags
  // daemon_arguments() gives, and waits (up to `ready_within`) until it
  // answers /metrics. The error says why it did not come up, with the end
  // of its log.
  [[nodiscard]] static std::expected<DaemonProcess, std::string> start(
      const DaemonProcessOptions& options, std::chrono::seconds ready_within = std::chrono::seconds(30));

  DaemonProcess(DaemonProcess&&) noexcept = default;
  DaemonProcess& operator=(DaemonProcess&&) noexcept = default;
  ~DaemonProcess() = default;  // stops it (SIGTERM, then SIGKILL)

  int pid() const { return process_.pid(); }
  bool running() { return process_.running(); }

  [[nodiscard]] std::expected<ProcessMemory, std::string> memory() const { return read_process_memory(pid()); }
  // GET /metrics over the namespace's loopback.
  [[nodiscard]] std::expected<std::string, std::string> metrics_text() const;
  [[nodiscard]] std::expected<DaemonCounters, std::string> counters() const;

  // SIGTERM, up to `grace` for it to exit, then SIGKILL; the exit status
  // (128 + N when killed by signal N).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) { return process_.stop(grace); }

  // The last `lines` lines of its log, for error messages.
  std::string log_tail(std::size_t lines = 20) const;

  // Polls its counters every quarter second until `done` says so and
  // returns them; the error says it exited (with the end of its log), that
  // `limit` ran out ("gave up <what> after N s"), or that `cancelled` said
  // so ("interrupted while <what>").
  [[nodiscard]] std::expected<DaemonCounters, std::string> wait_for(
      const std::function<bool(const DaemonCounters&)>& done, std::chrono::seconds limit, const std::string& what,
      const std::function<bool()>& cancelled = {});

 private:
  DaemonProcess(DaemonProcessOptions options, BackgroundProcess process)
      : options_(std::move(options)), process_(std::move(process)) {}

  DaemonProcessOptions options_;
  BackgroundProcess process_;
};

// The arguments after the program: `run` and its flags. Conntrack's
// host-wide settings are left alone (--conntrack-max-per-core 0), so a
// bench does not change the machine it runs on.
std::vector<std::string> daemon_arguments(const DaemonProcessOptions& options);

// The last `lines` lines of a file ("" when it cannot be read).
std::string file_tail(const std::string& path, std::size_t lines);

// GET http://127.0.0.1:PORT/PATH from inside namespace `netns`: the body of
// a 200 answer; any other status, or no answer within `timeout`, is an
// error that says which.
[[nodiscard]] std::expected<std::string, std::string> http_get_in_namespace(
    const std::string& netns, int port, const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace kubenat::bench
