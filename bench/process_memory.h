#pragma once

// A process's memory, handles and CPU time as /proc tells them, for
// watching a long-running process (the churn soak's daemon) over time.

#include <expected>
#include <string>
#include <string_view>

namespace kubenat::bench {

struct ProcessMemory {
  double rss_mib = 0;       // VmRSS: resident now
  double hwm_mib = 0;       // VmHWM: the most resident so far
  double rss_anon_mib = 0;  // RssAnon: the heap and stacks, without mapped files
  int threads = 0;          // Threads
  int open_fds = -1;        // entries of /proc/<pid>/fd; -1 when not read

  bool operator==(const ProcessMemory&) const = default;
};

// The fields above from the text of /proc/<pid>/status (open_fds stays -1).
// The error names the field that is missing.
[[nodiscard]] std::expected<ProcessMemory, std::string> parse_process_status(std::string_view status);

// /proc/<pid>/status and /proc/<pid>/fd of a live process; the error says
// which file could not be read.
[[nodiscard]] std::expected<ProcessMemory, std::string> read_process_memory(int pid);

// CPU time a process used, from /proc/<pid>/stat, in seconds.
struct ProcessCpu {
  double own_seconds = 0;       // utime + stime: every thread of the process
  double children_seconds = 0;  // cutime + cstime: its children that exited and were waited for (iptables-restore)

  double total() const { return own_seconds + children_seconds; }
  bool operator==(const ProcessCpu&) const = default;
};

// The fields above from the text of /proc/<pid>/stat, with `ticks_per_second`
// (sysconf(_SC_CLK_TCK)). The error says what is malformed.
[[nodiscard]] std::expected<ProcessCpu, std::string> parse_process_stat_cpu(std::string_view stat,
                                                                           long ticks_per_second);

// /proc/<pid>/stat of a live process.
[[nodiscard]] std::expected<ProcessCpu, std::string> read_process_cpu(int pid);

}  // namespace kubenat::bench
