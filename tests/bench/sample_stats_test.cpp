// The summary every figure reports: median, minimum, maximum and the
// nearest-rank 99th percentile.

#include "bench/sample_stats.h"

#include <gtest/gtest.h>

#include <vector>

namespace kubenat::bench {
namespace {

TEST(SampleStats, MedianOfAnOddCountIsTheMiddleSample) {
  const std::vector<double> samples = {5, 1, 3};
  EXPECT_EQ(summarize(samples).median, 3);
}

TEST(SampleStats, MedianOfAnEvenCountIsTheMeanOfTheTwoMiddleSamples) {
  const std::vector<double> samples = {10, 1, 4, 3};
  EXPECT_EQ(summarize(samples).median, 3.5);
}

TEST(SampleStats, MinAndMaxAreTheExtremesWhateverTheOrder) {
  const std::vector<double> samples = {7, -2, 12.5, 3, 0};
  const SampleSummary summary = summarize(samples);
  EXPECT_EQ(summary.min, -2);
  EXPECT_EQ(summary.max, 12.5);
}

TEST(SampleStats, CountIsTheNumberOfSamples) {
  const std::vector<double> samples = {1, 1, 2, 3};
  EXPECT_EQ(summarize(samples).count, 4u);
}

TEST(SampleStats, OneSampleIsItsOwnMedianMinMaxAndP99) {
  const std::vector<double> samples = {42};
  const SampleSummary summary = summarize(samples);
  EXPECT_EQ(summary.count, 1u);
  EXPECT_EQ(summary.median, 42);
  EXPECT_EQ(summary.min, 42);
  EXPECT_EQ(summary.max, 42);
  EXPECT_EQ(summary.p99, 42);
}

TEST(SampleStats, P99OfAHundredSamplesIsTheNinetyNinthSmallest) {
  // Nearest rank: ceil(0.99 * 100) = 99, the 99th sample in ascending order.
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  EXPECT_EQ(summarize(samples).p99, 99);
}

TEST(SampleStats, P99OfFewSamplesIsTheMaximum) {
  // ceil(0.99 * 5) = 5: with fewer than 100 samples the rank is the last.
  const std::vector<double> samples = {4, 9, 1, 7, 3};
  EXPECT_EQ(summarize(samples).p99, 9);
}

TEST(SampleStats, P99OfTwoHundredSamplesIsTheHundredNinetyEighthSmallest) {
  std::vector<double> samples;
  for (int i = 1; i <= 200; ++i) samples.push_back(i);
  EXPECT_EQ(summarize(samples).p99, 198);
}

TEST(SampleStats, EmptyInputGivesZeroCountAndZeroFields) {
  const SampleSummary summary = summarize(std::vector<double>{});
  EXPECT_EQ(summary.count, 0u);
  EXPECT_EQ(summary.median, 0);
  EXPECT_EQ(summary.min, 0);
  EXPECT_EQ(summary.max, 0);
  EXPECT_EQ(summary.p99, 0);
}

TEST(SampleStats, PercentileOfNoSamplesIsZero) { EXPECT_EQ(percentile(std::vector<double>{}, 0.5), 0); }

TEST(SampleStats, PercentileZeroIsTheMinimum) {
  const std::vector<double> samples = {8, 2, 5};
  EXPECT_EQ(percentile(samples, 0.0), 2);
}

TEST(SampleStats, PercentileOneIsTheMaximum) {
  const std::vector<double> samples = {8, 2, 5};
  EXPECT_EQ(percentile(samples, 1.0), 8);
}

TEST(SampleStats, PercentileFiftyOfFourIsTheSecondSmallest) {
  // Nearest rank: ceil(0.5 * 4) = 2, unlike the median's interpolation.
  const std::vector<double> samples = {40, 10, 30, 20};
  EXPECT_EQ(percentile(samples, 0.5), 20);
}

}  // namespace
}  // namespace kubenat::bench
