#include "bench/change_latency.h"

#include <algorithm>
#include <numeric>

#include "bench/sample_stats.h"

namespace kubenat::bench {
namespace {

// The index of the first successful sync that started at or after `time`,
// or syncs.size().
std::size_t first_sync_after(std::span<const LoggedSync> syncs, WallClock::time_point time) {
  for (std::size_t i = 0; i < syncs.size(); ++i) {
    if (syncs[i].ok && syncs[i].start() >= time) return i;
  }
  return syncs.size();
}

double seconds(WallClock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::vector<std::optional<double>> change_latencies(std::span<const TimedChange> changes,
                                                    std::span<const LoggedSync> syncs) {
  std::vector<std::optional<double>> latencies;
  latencies.reserve(changes.size());
  for (const TimedChange& change : changes) {
    const std::size_t i = first_sync_after(syncs, change.written);
    if (i == syncs.size()) {
      latencies.push_back(std::nullopt);
    } else {
      latencies.push_back(seconds(syncs[i].end - change.made));
    }
  }
  return latencies;
}

LatencySummary summarize_latencies(std::span<const TimedChange> changes, std::span<const LoggedSync> syncs,
                                   std::chrono::microseconds delivery) {
  LatencySummary summary;
  summary.changes = changes.size();
  std::vector<double> applied;
  std::optional<std::size_t> first_sync, last_sync;
  std::optional<WallClock::time_point> first_made, last_end;
  for (const TimedChange& change : changes) {
    const std::size_t i = first_sync_after(syncs, change.written);
    if (i == syncs.size()) continue;
    applied.push_back(seconds(syncs[i].end - change.made));
    if (syncs[i].start() < change.written + delivery) ++summary.ambiguous;
    first_sync = std::min(first_sync.value_or(i), i);
    last_sync = std::max(last_sync.value_or(i), i);
    first_made = std::min(first_made.value_or(change.made), change.made);
    last_end = std::max(last_end.value_or(syncs[i].end), syncs[i].end);
  }
  summary.applied = applied.size();
  if (applied.empty()) return summary;
  summary.p50 = percentile(applied, 0.50);
  summary.p90 = percentile(applied, 0.90);
  summary.p99 = percentile(applied, 0.99);
  summary.max = *std::max_element(applied.begin(), applied.end());
  summary.mean = std::accumulate(applied.begin(), applied.end(), 0.0) / static_cast<double>(applied.size());
  summary.syncs = *last_sync - *first_sync + 1;
  summary.span_seconds = seconds(*last_end - *first_made);
  return summary;
}

}  // namespace kubenat::bench
