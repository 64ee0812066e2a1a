#include "watch/backoff.h"

#include <algorithm>

namespace kubenat {

Backoff::Backoff(BackoffPolicy policy, std::uint64_t seed) : policy_(policy), random_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const auto initial = static_cast<double>(policy_.initial.count());
  const auto max = static_cast<double>(std::max(policy_.max, policy_.initial).count());
  current_ms_ = current_ms_ == 0 ? initial : std::min(current_ms_ * std::max(policy_.factor, 1.0), max);
  const double jitter = std::clamp(policy_.jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> scale(1.0 - jitter, 1.0 + jitter);
  return std::chrono::milliseconds(static_cast<std::int64_t>(current_ms_ * scale(random_)));
}

void Backoff::reset() { current_ms_ = 0; }

bool InterruptibleSleeper::sleep_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, delay, [this] { return cancelled_; });
  return !cancelled_;
}

void InterruptibleSleeper::cancel() {
  {
    const std::lock_guard lock(mutex_);
    cancelled_ = true;
  }
  wake_.notify_all();
}

}  // namespace kubenat
