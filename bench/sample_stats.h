#pragma once

// What a figure reports of its samples: median, minimum, maximum and the
// 99th percentile.

#include <cstddef>
#include <span>

namespace kubenat::bench {

struct SampleSummary {
  std::size_t count = 0;  // 0: no samples, and the other fields are 0
  double median = 0;      // the middle sample, or the mean of the two middle ones
  double min = 0;
  double max = 0;
  double p99 = 0;  // nearest rank: the smallest sample at least 99 % of the samples do not exceed
};

SampleSummary summarize(std::span<const double> samples);

// The nearest-rank percentile (p in [0, 1]); 0 for no samples.
double percentile(std::span<const double> samples, double p);

}  // namespace kubenat::bench
