#pragma once

// What the daemon scenario reads from `kubenat run`'s log (run with -v 2,
// which logs every partial sync): when the watch started, and each sync of
// the service rules with the time its line was written (the sync's end) and
// its duration, so its start too. Pure: text in, figures out.
//
// The daemon's lines are klog's: "I1205 06:30:15.123456 partial sync: ...,
// 1.234000 ms", in UTC and without a year, which the caller supplies.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubenat::bench {

using WallClock = std::chrono::system_clock;

struct LoggedSync {
  WallClock::time_point end;  // when its line was written, just after the rules were in the kernel
  std::chrono::nanoseconds duration{};
  // Of duration, the compiling (", compiled in 1.2 ms, " before the total);
  // the rest is applying. Unset in lines of daemons that do not log it.
  std::optional<std::chrono::nanoseconds> compile_duration;
  bool full = false;
  bool ok = true;
  std::string reason;  // a full sync's: "first sync", "periodic", ...

  // When it took the changes that waited for it.
  WallClock::time_point start() const { return end - duration; }
};

struct DaemonLog {
  // "kubenat run: node ...": the process has read its flags and the Node,
  // started its servers and its watches.
  std::optional<WallClock::time_point> watch_started;
  std::vector<LoggedSync> syncs;  // in the order logged
};

// Reads every line it knows; other lines (and lines cut short) are skipped.
DaemonLog parse_daemon_log(std::string_view text, int year);

// The klog time of a line ("I1205 06:30:15.123456 ..."), in `year`; nullopt
// when the line does not start with one.
std::optional<WallClock::time_point> parse_log_time(std::string_view line, int year);

}  // namespace kubenat::bench
