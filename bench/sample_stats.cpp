#include "bench/sample_stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kubenat::bench {
namespace {

double sorted_percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: ceil(p * n), 1-based; p = 0 gives the minimum.
  const double rank = std::ceil(std::clamp(p, 0.0, 1.0) * static_cast<double>(sorted.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

double percentile(std::span<const double> samples, double p) {
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted_percentile(sorted, p);
}

SampleSummary summarize(std::span<const double> samples) {
  SampleSummary summary;
  if (samples.empty()) return summary;
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  summary.count = n;
  summary.median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  summary.min = sorted.front();
  summary.max = sorted.back();
  summary.p99 = sorted_percentile(sorted, 0.99);
  return summary;
}

}  // namespace kubenat::bench
