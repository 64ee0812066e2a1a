#pragma once

// Network programming latency of changes made at the API, from the daemon's
// log: a change is applied by the first successful sync that started after
// its write returned (the sync loop takes the changes waiting for it when a
// sync starts), and its latency runs from just before the write (its
// last-change-trigger-time, where kube-proxy's metric starts) to the end of
// that sync. Pure: times in, figures out.
//
// The one uncertainty: a sync that starts after the write returned but
// before the watch event reached the daemon did not take the change; such
// a change is counted as ambiguous when a sync started within `delivery`
// after its write, and its latency may be understated by up to one sync.

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "bench/daemon_log.h"

namespace kubenat::bench {

struct TimedChange {
  WallClock::time_point made;     // just before the first write of the change
  WallClock::time_point written;  // its last write returned
};

struct LatencySummary {
  std::size_t changes = 0;
  std::size_t applied = 0;    // with a successful sync after them; the figures below are theirs
  std::size_t ambiguous = 0;  // a sync started within the delivery margin after the write
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;  // seconds
  // Syncs from the one that applied the first change to the one that
  // applied the last, both included (failed ones too).
  std::size_t syncs = 0;
  // From the first change made to the end of the sync that applied the last.
  double span_seconds = 0;
};

// Each change's latency in seconds, in the order of `changes`; nullopt for
// a change no successful sync started after. `syncs` in the order logged.
std::vector<std::optional<double>> change_latencies(std::span<const TimedChange> changes,
                                                    std::span<const LoggedSync> syncs);

LatencySummary summarize_latencies(std::span<const TimedChange> changes, std::span<const LoggedSync> syncs,
                                   std::chrono::microseconds delivery = std::chrono::milliseconds(2));

}  // namespace kubenat::bench
