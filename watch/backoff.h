#pragma once

// Retry pacing for the informers: jittered exponential backoff, and a wait
// that stop() can cut short. Both are seams: tests pick the policy and the
// random seed, or substitute a Sleeper that records delays and returns at once.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>

namespace kubenat {

struct BackoffPolicy {
  std::chrono::milliseconds initial = std::chrono::milliseconds(200);
  std::chrono::milliseconds max = std::chrono::seconds(30);
  double factor = 2.0;
  // Each delay is scaled by a random factor in [1 - jitter, 1 + jitter], so
  // that the proxies of a whole cluster do not come back in lock step after
  // an API server restart.
  double jitter = 0.2;
};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy, std::uint64_t seed = std::random_device{}());

  // The delay before the next attempt: initial, then growing by factor up to
  // max, each jittered.
  [[nodiscard]] std::chrono::milliseconds next();
  // After a success: the next delay is `initial` again.
  void reset();

 private:
  BackoffPolicy policy_;
  std::mt19937_64 random_;
  double current_ms_ = 0;  // 0: no failure since the last reset
};

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Waits `delay`; returns false at once, or as soon as cancel() is called,
  // once cancelled.
  [[nodiscard]] virtual bool sleep_for(std::chrono::milliseconds delay) = 0;
  // Any thread. Final.
  virtual void cancel() = 0;
};

// Sleeps on a condition variable.
class InterruptibleSleeper final : public Sleeper {
 public:
  bool sleep_for(std::chrono::milliseconds delay) override;
  void cancel() override;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool cancelled_ = false;
};

}  // namespace kubenat
